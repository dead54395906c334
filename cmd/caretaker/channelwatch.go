package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/notify"
)

// ChannelStatusPrefix names the entries under which the dashboard's device
// list and its device.status events show the paging channels:
// "notify:hook" is offline while the channel hook fails, online again
// once a page goes through it.
const ChannelStatusPrefix = "notify:"

// channelWatch raises one system alarm per failing channel: after `after`
// failed attempts in a row, or at once when a page fails for good; it
// clears it when a page goes through again. It hears every outcome of the
// worker (from several goroutines: one per channel).
type channelWatch struct {
	after   int
	sink    statusSink
	now     func() time.Time
	log     *slog.Logger
	raised  *prometheus.CounterVec // caretaker_notification_channel_alarms_total{channel}
	failing prometheus.Gauge       // caretaker_notification_channels_failing

	mu    sync.Mutex
	fails map[string]int  // failed attempts in a row, by channel
	down  map[string]bool // alarm raised
}

func newChannelWatch(after int, sink statusSink, now func() time.Time, log *slog.Logger, metrics prometheus.Registerer) (*channelWatch, error) {
	w := &channelWatch{
		after: after, sink: sink, now: now, log: log,
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caretaker_notification_channel_alarms_total",
			Help: "Times a paging channel was shown failing (system alarm raised), by channel.",
		}, []string{"channel"}),
		failing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "caretaker_notification_channels_failing",
			Help: "Paging channels shown failing now.",
		}),
		fails: map[string]int{},
		down:  map[string]bool{},
	}
	if metrics != nil {
		for _, c := range []prometheus.Collector{w.raised, w.failing} {
			if err := metrics.Register(c); err != nil {
				return nil, fmt.Errorf("channel watch metrics: %w", err)
			}
		}
	}
	return w, nil
}

// outcome hears one recorded attempt of a page through channel m.Channel.
func (w *channelWatch) outcome(ctx context.Context, m notify.Message, o notify.Outcome) {
	ch := m.Channel
	w.mu.Lock()
	var report *devices.Status
	switch {
	case o.State == notify.StateSent:
		w.fails[ch] = 0
		if w.down[ch] {
			w.down[ch] = false
			w.failing.Dec()
			report = &devices.Status{Device: ChannelStatusPrefix + ch, Online: true, Time: w.now(),
				Reason: fmt.Sprintf("channel %s delivers again (page %s)", ch, m.ID)}
			w.log.Info("paging channel delivers again", "channel", ch, "delivery", m.ID)
		}
	case o.Attempts > 0 || o.State == notify.StateFailed:
		w.fails[ch]++
		n := w.fails[ch]
		if !w.down[ch] && (n >= w.after || o.State == notify.StateFailed) {
			w.down[ch] = true
			w.failing.Inc()
			w.raised.WithLabelValues(ch).Inc()
			why := fmt.Sprintf("channel %s: %d attempts in a row failed; last: %s", ch, n, o.Error)
			if o.State == notify.StateFailed {
				why = fmt.Sprintf("channel %s: page %s failed for good: %s", ch, m.ID, o.Error)
			}
			report = &devices.Status{Device: ChannelStatusPrefix + ch, Online: false, Time: w.now(), Reason: why}
			w.log.Error("paging channel failing: people may not be reached", "channel", ch, "failed_in_a_row", n, "err", o.Error)
		}
	}
	w.mu.Unlock()
	if report != nil {
		w.sink.Status(ctx, *report)
	}
}

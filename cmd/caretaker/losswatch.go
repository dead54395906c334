package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// InfluxStatusID is the entry under which the dashboard's device list and
// its device.status events show the InfluxDB writer: offline while it
// loses readings (spool full, or batches refused), online again once it
// loses nothing and its spool is empty.
const InfluxStatusID = "store:influx"

// lossCounter is the InfluxDB writer as the watch sees it.
type lossCounter interface {
	Lost() int64    // points lost so far
	Spooled() int64 // points waiting in the spool
}

// statusSink takes reachability reports (the dashboard's live state).
type statusSink interface {
	Status(ctx context.Context, s devices.Status)
}

// watchLoss looks at the writer's loss counter at every tick and tells
// sink when readings start being lost and when that is over, so the loss
// is on the control room's screen and not only in the log and on /metrics
// (caretaker_influx_points_lost_total). It returns when ctx ends.
func watchLoss(ctx context.Context, w lossCounter, sink statusSink, tick <-chan time.Time, now func() time.Time, log *slog.Logger) error {
	last, losing := w.Lost(), false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
		n := w.Lost()
		switch {
		case n > last:
			reason := fmt.Sprintf("InfluxDB writer lost %d readings since the last check, %d since start (spool full or batches refused; see caretaker_influx_points_lost_total)", n-last, n)
			if !losing {
				log.Error("readings are being lost", "lost_total", n)
			}
			losing = true
			sink.Status(ctx, devices.Status{Device: InfluxStatusID, Online: false, Time: now(), Reason: reason})
		case losing && w.Spooled() == 0:
			losing = false
			log.Info("InfluxDB writer loses nothing any more; spool empty", "lost_total", n)
			sink.Status(ctx, devices.Status{Device: InfluxStatusID, Online: true, Time: now(),
				Reason: fmt.Sprintf("writing again; %d readings were lost in all", n)})
		}
		last = n
	}
}

// runLossWatch runs watchLoss every 2 s for a store that counts its
// losses (InfluxDB); the embedded store has none, and then it only waits.
func runLossWatch(ctx context.Context, store readingStore, sink statusSink, log *slog.Logger) error {
	w, ok := store.(lossCounter)
	if !ok {
		return nil
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	return watchLoss(ctx, w, sink, t.C, time.Now, log.With("component", "influx-loss"))
}

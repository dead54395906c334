package rules

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/internal/promreg"
)

// engineMetrics are what an operator watches of the rules: how long a
// reading takes to become an alarm, and how many alarms are active.
type engineMetrics struct {
	decision prometheus.Histogram
	handoff  prometheus.Histogram // Config.HandOffLater only
}

func newEngineMetrics(reg prometheus.Registerer, e *Engine) engineMetrics {
	m := engineMetrics{decision: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "caretaker_alarm_decision_seconds",
		Help: "From a reading's arrival at Caretaker (received by the gateway) to the rules raising the alarm it causes " +
			"(queueing in the pipeline and the rules; the ticket comes after, see caretaker_ticket_create_seconds).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	})), handoff: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "caretaker_alarm_handoff_seconds",
		Help: "From the rules deciding an alarm change to the ticket store taking it, when alarms are handed on " +
			"off the readings' path: the wait behind other changes, then the commit.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	})}
	if e.cfg.HandOffLater {
		m.handoff = promreg.Register(reg, m.handoff)
	}
	if reg != nil {
		promreg.Register(reg, prometheus.Collector(&activeAlarms{e: e, desc: prometheus.NewDesc("caretaker_alarms_active",
			"Alarms raised and not cleared, by ticket level (1 emergency, 2 urgent, 3 routine); shadow rules not counted.",
			[]string{"level"}, nil)}))
	}
	return m
}

// observeRaise records a raise decided now from data received at
// received (zero: not from a reading that came in just now).
func (m engineMetrics) observeRaise(received, now time.Time) {
	if !received.IsZero() && !now.Before(received) {
		m.decision.Observe(now.Sub(received).Seconds())
	}
}

// activeAlarms counts the announced episodes by level at each scrape.
type activeAlarms struct {
	e    *Engine
	desc *prometheus.Desc
}

func (a *activeAlarms) Describe(ch chan<- *prometheus.Desc) { ch <- a.desc }

func (a *activeAlarms) Collect(ch chan<- prometheus.Metric) {
	counts := [4]int{}
	a.e.mu.Lock()
	for _, st := range a.e.state.all() {
		if !st.announced || st.alarm.Shadow {
			continue
		}
		l := st.alarm.Level
		if l < 1 || l > 3 {
			l = st.alarm.Severity.Level()
		}
		if l >= 1 && l <= 3 {
			counts[l]++
		}
	}
	a.e.mu.Unlock()
	for l := 1; l <= 3; l++ {
		ch <- prometheus.MustNewConstMetric(a.desc, prometheus.GaugeValue, float64(counts[l]), strconv.Itoa(l))
	}
}

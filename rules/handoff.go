package rules

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/internal/promreg"
)

// handoffs keeps the alarm changes the sink refused (its store was down,
// locked, or failed to answer) until it takes them: an L1 alarm must not
// be left without its ticket. They are retried on every tick, each
// alarm's changes in the order they were made; the sink takes a replayed
// change of an alarm it already has as a no-op.
type handoffs struct {
	byID     map[string][]Alarm
	order    []string // alarm ids, oldest waiting first
	failures prometheus.Counter
	pending  prometheus.Gauge
}

func newHandoffs(reg prometheus.Registerer) handoffs {
	return handoffs{
		byID: map[string][]Alarm{},
		failures: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caretaker_alarm_handoff_failures_total",
			Help: "Alarm changes the ticket store refused (each attempt, retries included); they are kept and retried.",
		})),
		pending: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "caretaker_alarm_handoffs_pending",
			Help: "Alarm changes waiting for the ticket store to take them.",
		})),
	}
}

func (h *handoffs) waiting(id string) bool { return len(h.byID[id]) > 0 }

func (h *handoffs) len() int {
	n := 0
	for _, q := range h.byID {
		n += len(q)
	}
	return n
}

// add queues a change behind the alarm's earlier ones. Consecutive
// updates fold into the newest: only the latest value matters.
func (h *handoffs) add(a Alarm) {
	q := h.byID[a.ID]
	if len(q) == 0 {
		h.order = append(h.order, a.ID)
	}
	if n := len(q); n > 0 && a.State == Updated && q[n-1].State == Updated {
		q[n-1] = a
	} else {
		q = append(q, a)
	}
	h.byID[a.ID] = q
	h.pending.Set(float64(h.len()))
}

// retryHandoffs hands on what is waiting, oldest alarm first; an alarm's
// changes stop at the first one refused again.
func (e *Engine) retryHandoffs(ctx context.Context) {
	h := &e.handoffs
	if len(h.order) == 0 || e.cfg.Sink == nil {
		return
	}
	kept := h.order[:0]
	for _, id := range h.order {
		q := h.byID[id]
		for len(q) > 0 {
			if err := e.cfg.Sink.HandleAlarm(ctx, q[0]); err != nil {
				h.failures.Inc()
				e.cfg.Logger.Warn("alarm still not handed on", "alarm", id, "state", q[0].State, "err", err)
				break
			}
			e.cfg.Logger.Info("alarm handed on after retry", "alarm", id, "state", q[0].State)
			q = q[1:]
		}
		if len(q) == 0 {
			delete(h.byID, id)
			continue
		}
		h.byID[id] = q
		kept = append(kept, id)
	}
	h.order = kept
	h.pending.Set(float64(h.len()))
}

// PendingHandoffs is how many alarm changes wait for the sink to take them.
func (e *Engine) PendingHandoffs() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.handoffs.len()
}

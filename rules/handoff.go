package rules

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/internal/promreg"
)

// handoffs keeps the alarm changes the sink refused (its store was down,
// locked, or failed to answer) until it takes them: an L1 alarm must not
// be left without its ticket. They are retried on every tick, each
// alarm's changes in the order they were made; the sink takes a replayed
// change of an alarm it already has as a no-op.
type handoffs struct {
	byID  map[string][]Alarm
	order []string // alarm ids, oldest waiting first
	// queued is len(order), read without the engine's lock so that a
	// tick with nothing waiting (every tick, nearly) takes no lock.
	queued   atomic.Int64
	loggedAt time.Time
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
			Help: "Alarm changes the ticket store refused, kept for the retry of each tick (those queued on their way to it are counted on /readyz).",
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
// updates fold into the newest (only the latest value matters), except
// into the first, which a retry may be handing on right now.
func (h *handoffs) add(a Alarm) {
	q := h.byID[a.ID]
	if len(q) == 0 {
		h.order = append(h.order, a.ID)
		h.queued.Add(1)
	}
	if n := len(q); n > 1 && a.State == Updated && q[n-1].State == Updated {
		q[n-1] = a
	} else {
		q = append(q, a)
	}
	h.byID[a.ID] = q
	h.pending.Set(float64(h.len()))
}

// retryHandoffs hands on what is waiting, oldest alarm first, each
// alarm's changes in order. The engine is not locked while the sink is
// called (a store that waits for its lock must not hold up the readings);
// a change made meanwhile to an alarm still waiting goes behind it. It
// stops at the first refusal: the store is likely still down. The
// refused alarm goes to the back, so one the store always refuses does
// not hold up the others.
func (e *Engine) retryHandoffs(ctx context.Context) {
	if e.handoffs.queued.Load() == 0 {
		return // the gauge was set when the last one left
	}
	e.retrying.Lock()
	defer e.retrying.Unlock()
	h := &e.handoffs
	for {
		e.mu.Lock()
		if len(h.order) == 0 || e.cfg.Sink == nil {
			h.pending.Set(float64(h.len()))
			e.mu.Unlock()
			return
		}
		id := h.order[0] // only this loop takes from the front
		a := h.byID[id][0]
		e.mu.Unlock()

		err := e.cfg.Sink.HandleAlarm(ctx, a)

		e.mu.Lock()
		if err != nil {
			h.failures.Inc()
			h.order = append(h.order[1:], id)
			if now := e.cfg.Now(); now.Sub(h.loggedAt) >= handoffLogEvery {
				h.loggedAt = now
				e.cfg.Logger.Warn("alarm changes still not handed on; retried every tick", "pending", h.len(),
					"alarm", id, "state", a.State, "err", err)
			}
			h.pending.Set(float64(h.len()))
			e.mu.Unlock()
			return
		}
		e.cfg.Logger.Info("alarm handed on after retry", "alarm", id, "state", a.State)
		if q := h.byID[id][1:]; len(q) > 0 {
			h.byID[id] = q
		} else {
			delete(h.byID, id)
			h.order = h.order[1:]
			h.queued.Add(-1)
		}
		e.mu.Unlock()
	}
}

// handoffLogEvery spaces the warnings while the store keeps refusing.
const handoffLogEvery = 30 * time.Second

// PendingHandoffs is how many alarm changes wait for the sink to take
// them: refused and retried every tick, or (Config.HandOffLater) queued.
func (e *Engine) PendingHandoffs() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.handoffs.len() + e.out.len()
}

package rules

import (
	"context"
	"sync"
	"time"
)

// outbox holds, with Config.HandOffLater, the alarm changes decided and
// not yet handed to the sink, in the order they were made, and the
// callbacks (AfterSettled) that wait for them. One goroutine (Run's)
// hands them on, so the readings never wait for the ticket store; what
// waits is only the acknowledgement of the data they came from.
//
// A change stays at the front while it is being handed on, so a
// snapshot taken meanwhile still holds it (replayed, it is a no-op).
// Lock order: Engine.mu before outbox.mu, never the other way.
type outbox struct {
	mu      sync.Mutex
	queue   []queuedAlarm
	next    uint64 // the number the next change gets
	handed  uint64 // every change numbered below it is handed on
	waiters []outboxWaiter
	wake    chan struct{} // one signal: something was queued
}

type queuedAlarm struct {
	seq uint64
	a   Alarm
	at  time.Time // when it was queued, for caretaker_alarm_handoff_seconds
}

// outboxWaiter is a callback waiting for every change numbered below upto.
type outboxWaiter struct {
	upto uint64
	done func()
}

func newOutbox() outbox { return outbox{wake: make(chan struct{}, 1)} }

// push queues a change behind the others and returns the number every
// change up to it lies below (what afterSeq waits for).
func (o *outbox) push(a Alarm) uint64 {
	o.mu.Lock()
	o.queue = append(o.queue, queuedAlarm{seq: o.next, a: a, at: time.Now()})
	o.next++
	upto := o.next
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return upto
}

// front is the oldest change not yet handed on.
func (o *outbox) front() (queuedAlarm, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) == 0 {
		return queuedAlarm{}, false
	}
	return o.queue[0], true
}

// handedOn drops the front change, handed on (taken, or kept with the
// refused ones), and calls the callbacks that waited for it and those
// before it.
func (o *outbox) handedOn() {
	o.mu.Lock()
	q := o.queue[0]
	o.queue[0] = queuedAlarm{}
	o.queue = o.queue[1:]
	if len(o.queue) == 0 {
		o.queue = o.queue[:0:0] // let the backing array go
	}
	o.handed = q.seq + 1
	n := 0
	for n < len(o.waiters) && o.waiters[n].upto <= o.handed {
		n++
	}
	ready := o.waiters[:n:n]
	o.waiters = o.waiters[n:]
	o.mu.Unlock()
	for _, w := range ready {
		w.done()
	}
}

// afterSeq calls done once every change numbered below upto is handed
// on: at once when they are.
func (o *outbox) afterSeq(upto uint64, done func()) {
	if upto == 0 {
		done()
		return
	}
	o.mu.Lock()
	if o.handed >= upto {
		o.mu.Unlock()
		done()
		return
	}
	o.waiters = append(o.waiters, outboxWaiter{upto: upto, done: done})
	o.mu.Unlock()
}

func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.queue)
}

// list is the changes waiting, in order.
func (o *outbox) list() []Alarm {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Alarm, len(o.queue))
	for i, q := range o.queue {
		out[i] = q.a
	}
	return out
}

// AfterSettled calls done once the alarm changes decided on the data
// handed to the engine last (the latest call of Reading, Event or
// Status) are handed to the sink: taken by it, or refused and kept with
// the changes retried every tick (and saved with the rule state). It
// calls done at once when that data changed no alarm, even if changes
// decided on earlier data still wait, and always without
// Config.HandOffLater (the sink was called as each change was decided).
// done may run in the goroutine handing the changes on; it must not
// block for long.
//
// It is for the one goroutine that feeds the engine its data (the
// pipeline, as an ingest.SettlingSink), right after each call: the
// pipeline holds a message's acknowledgement on it, so the reading that
// raised an alarm is not acknowledged before its change is safe, while
// those of other devices behind it are not held up.
func (e *Engine) AfterSettled(done func()) {
	if !e.cfg.HandOffLater {
		done()
		return
	}
	e.out.afterSeq(e.ownUpto.Load(), done)
}

// runOutbox hands the queued changes on until ctx ends. The change being
// handed on when ctx ends is finished first (on a context that is not
// cancelled: the store is not left half-way); FlushHandoffs hands on
// what is left.
func (e *Engine) runOutbox(ctx context.Context) {
	work := context.WithoutCancel(ctx)
	for {
		for ctx.Err() == nil && e.handFront(work) {
		}
		select {
		case <-ctx.Done():
			return
		case <-e.out.wake:
		}
	}
}

// FlushHandoffs hands on, in this goroutine, the alarm changes still
// queued (Config.HandOffLater): at shutdown, once Run has returned and
// the pipeline has drained, before the rule state is saved. Changes the
// sink refuses are kept with the others it refused, saved with the rule
// state and retried after a restart.
func (e *Engine) FlushHandoffs(ctx context.Context) {
	for e.handFront(ctx) {
	}
}

// handFront hands on the oldest queued change; false when none is queued.
func (e *Engine) handFront(ctx context.Context) bool {
	e.flushing.Lock()
	defer e.flushing.Unlock()
	q, ok := e.out.front()
	if !ok {
		return false
	}
	if e.handOn(ctx, q.a) {
		e.metrics.handoff.Observe(time.Since(q.at).Seconds())
	}
	e.out.handedOn()
	return true
}

// handOn gives one change to the sink, or keeps it, refused, for the
// tick's retry; behind an earlier change of the same alarm still waiting
// there, it waits too, so the sink sees each alarm's changes in order.
// The engine is not locked while the sink works. It tells whether the
// sink took the change.
func (e *Engine) handOn(ctx context.Context, a Alarm) bool {
	e.mu.Lock()
	if e.handoffs.waiting(a.ID) {
		e.handoffs.add(a)
		e.mu.Unlock()
		return false
	}
	e.mu.Unlock()
	err := e.cfg.Sink.HandleAlarm(ctx, a)
	if err == nil {
		return true
	}
	e.mu.Lock()
	e.handoffs.failures.Inc()
	e.handoffs.add(a)
	n := e.handoffs.len()
	e.mu.Unlock()
	e.cfg.Logger.Error("alarm not handed on: kept, retried every tick", "alarm", a.ID, "rule", a.RuleID,
		"device", a.Device, "state", a.State, "err", err, "pending", n)
	return false
}

package ingesttest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// DefaultWait is how long the Wait methods wait before failing the test.
const DefaultWait = 10 * time.Second

// Recorder is a Sink and a Writer that records everything it gets. Set
// WriteErr to make the Write methods fail. The zero value is ready to use.
type Recorder struct {
	mu       sync.Mutex
	changed  chan struct{}
	readings []devices.Reading
	events   []devices.Event
	statuses []devices.Status
	writeErr error
}

// SetWriteErr makes WriteReading and WriteEvent return err (nil to stop).
func (r *Recorder) SetWriteErr(err error) {
	r.mu.Lock()
	r.writeErr = err
	r.mu.Unlock()
}

// Reading records a reading (Sink side).
func (r *Recorder) Reading(_ context.Context, rd devices.Reading) {
	r.record(func() { r.readings = append(r.readings, rd) })
}

// Event records an event (Sink side).
func (r *Recorder) Event(_ context.Context, e devices.Event) {
	r.record(func() { r.events = append(r.events, e) })
}

// Status records a status change (Sink side).
func (r *Recorder) Status(_ context.Context, s devices.Status) {
	r.record(func() { r.statuses = append(r.statuses, s) })
}

// WriteReading records a reading (Writer side).
func (r *Recorder) WriteReading(ctx context.Context, rd devices.Reading) error {
	r.mu.Lock()
	err := r.writeErr
	r.mu.Unlock()
	if err != nil {
		return err
	}
	r.Reading(ctx, rd)
	return nil
}

// WriteEvent records an event (Writer side).
func (r *Recorder) WriteEvent(ctx context.Context, e devices.Event) error {
	r.mu.Lock()
	err := r.writeErr
	r.mu.Unlock()
	if err != nil {
		return err
	}
	r.Event(ctx, e)
	return nil
}

func (r *Recorder) record(f func()) {
	r.mu.Lock()
	f()
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	r.mu.Unlock()
}

// Readings returns a copy of the readings so far.
func (r *Recorder) Readings() []devices.Reading {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]devices.Reading(nil), r.readings...)
}

// Events returns a copy of the events so far.
func (r *Recorder) Events() []devices.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]devices.Event(nil), r.events...)
}

// Statuses returns a copy of the status changes so far.
func (r *Recorder) Statuses() []devices.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]devices.Status(nil), r.statuses...)
}

// Wait waits until at least n readings arrived and returns them, failing
// the test after DefaultWait.
func (r *Recorder) Wait(t testing.TB, n int) []devices.Reading {
	t.Helper()
	if !r.waitFor(func() bool { return len(r.readings) >= n }) {
		t.Fatalf("ingesttest: got %d readings within %s, want %d", len(r.Readings()), DefaultWait, n)
	}
	return r.Readings()
}

// WaitEvents waits until at least n events arrived.
func (r *Recorder) WaitEvents(t testing.TB, n int) []devices.Event {
	t.Helper()
	if !r.waitFor(func() bool { return len(r.events) >= n }) {
		t.Fatalf("ingesttest: got %d events within %s, want %d", len(r.Events()), DefaultWait, n)
	}
	return r.Events()
}

// WaitStatuses waits until at least n status changes arrived.
func (r *Recorder) WaitStatuses(t testing.TB, n int) []devices.Status {
	t.Helper()
	if !r.waitFor(func() bool { return len(r.statuses) >= n }) {
		t.Fatalf("ingesttest: got %d statuses within %s, want %d", len(r.Statuses()), DefaultWait, n)
	}
	return r.Statuses()
}

// waitFor waits until cond (called with the lock held) holds or the
// deadline passes.
func (r *Recorder) waitFor(cond func() bool) bool {
	deadline := time.NewTimer(DefaultWait)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if cond() {
			r.mu.Unlock()
			return true
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

package rules

import (
	"context"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// TestHandOffLater: with HandOffLater the sink is not called while the
// data is evaluated; AfterSettled holds the callback of the reading that
// raised an alarm until its change is handed on (taken, or refused and
// kept for the tick), not that of a reading that changed nothing; each
// alarm's changes reach the sink in order, behind a refused one too.
func TestHandOffLater(t *testing.T) {
	ctx := context.Background()
	c := testkit.NewFakeClock(t0)
	sink := &pickySink{down: true}
	e, err := NewEngine(Config{Rules: []Rule{gasRule}, Sink: sink, Now: c.Now, HandOffLater: true})
	if err != nil {
		t.Fatal(err)
	}
	settled := map[string]bool{}
	reading := func(name string, sec int, dev string, v float64) {
		c.Set(t0.Add(time.Duration(sec) * time.Second))
		e.Reading(ctx, devices.Reading{Device: dev, Kind: devices.KindGas, Site: "s1", Building: "B1", Time: c.Now(),
			Values: map[string]devices.Value{"lel_pct": devices.Num(v)}})
		e.AfterSettled(func() { settled[name] = true })
	}
	reading("raise a", 0, "a", 25)
	reading("quiet b", 1, "b", 1)
	reading("clear a", 2, "a", 1)
	if sink.calls != 0 {
		t.Fatalf("the sink was called %d times while the data was evaluated, want 0", sink.calls)
	}
	if settled["raise a"] || settled["clear a"] || !settled["quiet b"] {
		t.Fatalf("settled %v before any hand-off: want only quiet b", settled)
	}
	if n := e.PendingHandoffs(); n != 2 {
		t.Fatalf("%d pending, want 2 (a raised, a cleared)", n)
	}

	e.FlushHandoffs(ctx) // the store is down: the raise is refused, the clear waits behind it
	if !settled["raise a"] || !settled["clear a"] {
		t.Fatalf("settled %v: refused and kept for the tick counts as handed on", settled)
	}
	if sink.calls != 1 {
		t.Fatalf("%d attempts, want 1 (the clear waits behind the refused raise)", sink.calls)
	}
	sink.mu.Lock()
	sink.down = false
	sink.mu.Unlock()
	e.Tick(ctx, c.Now())
	if n := e.PendingHandoffs(); n != 0 {
		t.Fatalf("%d pending after the store came back, want 0", n)
	}
	if len(sink.got) != 2 || sink.got[0].State != Raised || sink.got[1].State != Cleared || sink.got[0].ID != sink.got[1].ID {
		t.Fatalf("sink got %+v, want a raised then cleared", sink.got)
	}
}

// TestHandOffLaterRun: Run hands the queued changes on as they come.
func TestHandOffLaterRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	sink := &pickySink{}
	e, err := NewEngine(Config{Rules: []Rule{gasRule}, Sink: sink, HandOffLater: true, Tick: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	now := time.Now()
	e.Reading(ctx, devices.Reading{Device: "a", Kind: devices.KindGas, Site: "s1", Building: "B1", Time: now,
		Values: map[string]devices.Value{"lel_pct": devices.Num(25)}})
	settled := make(chan struct{})
	e.AfterSettled(func() { close(settled) })
	<-settled
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.got) != 1 || sink.got[0].State != Raised {
		t.Fatalf("sink got %+v, want the raise", sink.got)
	}
}

package rules

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// pickySink refuses every alarm while down, and always those of refuse.
type pickySink struct {
	mu     sync.Mutex
	down   bool
	refuse string
	calls  int
	got    []Alarm
}

func (p *pickySink) HandleAlarm(_ context.Context, a Alarm) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.down || a.Device == p.refuse {
		return errors.New("refused")
	}
	p.got = append(p.got, a)
	return nil
}

// TestHandoffRetries: refused alarm changes are retried on the tick, each
// alarm's in order; a tick makes at most one refused attempt, and an alarm
// the store always refuses does not hold up the others.
func TestHandoffRetries(t *testing.T) {
	ctx := context.Background()
	c := testkit.NewFakeClock(t0)
	sink := &pickySink{down: true, refuse: "bad"}
	flappy := with(gasRule, func(r *Rule) { r.FlapCount, r.FlapWindow = 1, dur("60s") })
	e, err := NewEngine(Config{Rules: []Rule{flappy}, Sink: sink, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	reading := func(sec int, dev string, v float64) {
		c.Set(t0.Add(time.Duration(sec) * time.Second))
		e.Reading(ctx, devices.Reading{Device: dev, Kind: devices.KindGas, Site: "s1", Building: "B1", Time: c.Now(),
			Values: map[string]devices.Value{"lel_pct": devices.Num(v)}})
	}
	reading(0, "bad", 25)
	reading(1, "good", 25) // raised
	reading(2, "good", 5)  // flapping: updated
	reading(3, "good", 25)
	reading(4, "good", 5)
	if n := e.PendingHandoffs(); n != 3 {
		t.Fatalf("%d pending, want 3 (bad raised; good raised, updated)", n)
	}
	sink.mu.Lock()
	sink.down, sink.calls = false, 0
	sink.mu.Unlock()
	e.Tick(ctx, c.Now()) // bad is first and refused: goes to the back
	if sink.calls != 1 {
		t.Fatalf("a tick made %d attempts after a refusal, want 1", sink.calls)
	}
	e.Tick(ctx, c.Now())
	if n := e.PendingHandoffs(); n != 1 {
		t.Fatalf("%d pending, want 1 (bad only)", n)
	}
	var states []AlarmState
	for _, a := range sink.got {
		states = append(states, a.State)
	}
	if len(states) != 2 || states[0] != Raised || states[1] != Updated || !sink.got[1].Flapping {
		t.Fatalf("good handed on as %v, want raised then one (flapping) update", states)
	}
}

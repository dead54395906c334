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

// TestSnapshotRoundTrip: an engine restarted from a snapshot, taken in
// the middle of a timeline, goes on exactly as one that never stopped: a
// pending for completes at its original time, flap history, rate and
// trend windows and counter offsets carry over. Twice: from a whole
// snapshot, and from the rows by device saved after every step (each
// save writing what changed since the one before).
func TestSnapshotRoundTrip(t *testing.T) {
	flappy := with(gasRule, func(r *Rule) { r.FlapCount, r.FlapWindow = 3, dur("60s") })
	gasFor := with(gasRule, func(r *Rule) { r.For, r.ClearFor = dur("5s"), dur("3s") })
	rateUp := Rule{ID: "heat", Kind: devices.KindElevator, Metric: "motor_temp_c", Severity: Major,
		Condition: Condition{Op: "rate_above", PerMinute: 5}}
	trend := Rule{ID: "motor-trend", Kind: devices.KindElevator, Metric: "motor_temp_c", Severity: Maintenance,
		Condition: Condition{Op: "trend_crosses", Value: 85, Window: dur("60m"), Horizon: dur("6h")}}
	counter := Rule{ID: "doors", Kind: devices.KindElevator, Metric: "door_cycles", Severity: Maintenance,
		Condition: Condition{Op: "counter_every", Every: 1000}}
	flapClear := with(gasRule, func(r *Rule) { r.FlapCount, r.FlapWindow, r.ClearFor = 1, dur("60s"), dur("3s") })
	tests := []struct {
		name  string
		rule  Rule
		steps []step
		split int // steps before the restart
		want  string
	}{
		{"pending for completes at the original time", leakRule,
			[]step{at(0, true), at(4, true), tick(5), at(7, true), tick(10)}, 3, "raised@10"},
		{"pending clear_for completes at the original time", gasFor,
			[]step{at(0, 25.0), at(5, 25.0), at(6, 10.0), tick(7), tick(9)}, 4, "raised@5 cleared@9"},
		{"flapping remembered", flappy,
			[]step{at(0, 25.0), at(5, 10.0), at(10, 25.0), at(15, 10.0), at(20, 25.0), at(25, 10.0), tick(66), tick(71)}, 3,
			"raised@0 cleared@5 raised@10 flapping@15 cleared@71"},
		{"rate window remembered", rateUp, []step{at(0, 20.0), at(60, 22.0), at(90, 26.0)}, 2, "raised@90"},
		{"trend window remembered", trend,
			[]step{at(0, 60.0), at(600, 62.0), at(1200, 64.0), at(1800, 66.0), at(2400, 68.0)}, 2, "raised@1800"},
		{"counter offset remembered", counter,
			[]step{at(0, 900.0), at(10, 50.0), at(20, 99.0), at(30, 101.0)}, 2, "raised@30"},
		{"unchanged run's first value remembered", stuckRule(0.5),
			[]step{at(0, 1.0), at(20, 1.4), at(40, 1.8), at(60, 1.8), at(99, 1.8), at(100, 1.8)}, 2, "raised@100"},
		{"unchanged run started by a move remembered", stuckRule(0),
			[]step{at(0, 0.0), at(30, 2.0), at(60, 2.0), at(90, 2.0)}, 2, "raised@90"},
		{"raised unchanged alarm clears on a move after a restart", stuckRule(0),
			[]step{at(0, 0.0), at(60, 0.0), at(70, 0.0), at(80, 0.5)}, 3, "raised@60 cleared@80"},
		{"flapping begun by a tick remembered", flapClear,
			[]step{at(0, 25.0), at(1, 10.0), tick(4), tick(70)}, 3, "raised@0 flapping@4 cleared@70"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			whole := newHarness(t, nil, tc.rule)
			whole.run(tc.rule, tc.steps)
			if got := whole.sink.states(); got != tc.want {
				t.Fatalf("uninterrupted: %q, want %q", got, tc.want)
			}

			for _, byDevice := range []bool{false, true} {
				h := newHarness(t, nil, tc.rule)
				rows := newMemState()
				var snap []byte
				if byDevice {
					for i := range tc.split {
						h.run(tc.rule, tc.steps[i:i+1])
						h.save(rows)
					}
					h.restart(rows, tc.rule)
				} else {
					h.run(tc.rule, tc.steps[:tc.split])
					var err error
					if snap, err = h.e.Snapshot(); err != nil {
						t.Fatal(err)
					}
					// Restart: a new engine on the same clock and sink.
					h.e, err = NewEngine(Config{Rules: []Rule{tc.rule}, Sink: h.sink, Now: h.clock.Now})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := h.e.RestoreSnapshot(snap); err != nil {
						t.Fatal(err)
					}
				}
				h.run(tc.rule, tc.steps[tc.split:])
				if got := h.sink.states(); got != tc.want {
					t.Fatalf("restarted after step %d (by device %v): %q, want %q (snapshot %s, rows %v)", tc.split, byDevice, got, tc.want, snap, rows.rows)
				}
				if a, b := whole.e.Active(), h.e.Active(); len(a) != len(b) || (len(a) > 0 && a[0].ID != b[0].ID) {
					t.Fatalf("active alarms differ (by device %v): uninterrupted %+v, restarted %+v", byDevice, a, b)
				}
			}
		})
	}
}

// failingSink refuses alarms while down.
type failingSink struct {
	mu   sync.Mutex
	down bool
	got  []Alarm
}

func (f *failingSink) HandleAlarm(_ context.Context, a Alarm) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("store down")
	}
	f.got = append(f.got, a)
	return nil
}

// TestSnapshotKeepsHandoffs: alarm changes the sink refused before a
// restart are handed on after it, in order.
func TestSnapshotKeepsHandoffs(t *testing.T) {
	ctx := context.Background()
	c := testkit.NewFakeClock(t0)
	sink := &failingSink{down: true}
	e, err := NewEngine(Config{Rules: []Rule{gasRule}, Sink: sink, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	reading := func(e *Engine, v float64) {
		e.Reading(ctx, devices.Reading{Device: "d1", Kind: devices.KindGas, Site: "s1", Building: "B1", Time: c.Now(),
			Values: map[string]devices.Value{"lel_pct": devices.Num(v)}})
	}
	reading(e, 25)
	c.Set(t0.Add(time.Second))
	reading(e, 5)
	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink.down = false
	e2, err := NewEngine(Config{Rules: []Rule{gasRule}, Sink: sink, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e2.RestoreSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	if n := e2.PendingHandoffs(); n != 2 {
		t.Fatalf("%d pending after restore, want 2", n)
	}
	e2.Tick(ctx, c.Now())
	if len(sink.got) != 2 || sink.got[0].State != Raised || sink.got[1].State != Cleared || sink.got[0].ID != sink.got[1].ID {
		t.Fatalf("handed on %+v, want the raise then the clear of one alarm", sink.got)
	}
}

// TestSnapshotThenActiveAlarms: an alarm raised after the last snapshot
// (the snapshot still has its for pending) stands after the restart: the
// next reading neither raises it again nor starts another episode.
func TestSnapshotThenActiveAlarms(t *testing.T) {
	h := newHarness(t, nil, leakRule)
	h.run(leakRule, []step{at(0, true)})
	snap, err := h.e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	h.run(leakRule, []step{tick(10)})
	active := h.e.Active()
	if len(active) != 1 {
		t.Fatalf("active %+v, want the leak", active)
	}
	h.e, err = NewEngine(Config{Rules: []Rule{leakRule}, Sink: h.sink, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.e.RestoreSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	h.e.Restore(active)
	h.run(leakRule, []step{at(12, true), tick(25), at(30, false)})
	if got, want := h.sink.states(), "raised@10 cleared@30"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

// TestSnapshotKeepsTermMemory: an all condition's rate term remembers its
// previous value across a restart, so the first reading after it already
// has a rate (gas and CO rising together keeps its pending 30 s).
func TestSnapshotKeepsTermMemory(t *testing.T) {
	pack, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	reg := fakeDevices{"g1": {ID: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1"}}
	ctx := context.Background()
	read := func(h *harness, s int) {
		ts := t0.Add(time.Duration(s) * time.Second)
		h.clock.Set(ts)
		m := float64(s) / 60
		h.e.Reading(ctx, devices.Reading{Device: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1", Time: ts,
			Values: map[string]devices.Value{"lel_pct": devices.Num(1 + 4*m), "co_ppm": devices.Num(2 + 12*m)}})
		h.e.Tick(ctx, ts)
	}
	h := newHarness(t, reg, pack...)
	for s := 0; s <= 20; s += 2 {
		read(h, s)
	}
	snap, err := h.e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, reg, pack...)
	if _, err := h2.e.RestoreSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	for s := 22; s <= 40; s += 2 {
		read(h2, s)
	}
	for _, a := range h2.sink.alarms {
		if a.RuleID == "gas-co-lel-rising" && a.State == Raised {
			if got := a.RaisedAt.Sub(t0); got != 32*time.Second {
				t.Fatalf("raised at +%s, want +32s (pending since +2s, through the restart)", got)
			}
			return
		}
	}
	t.Fatalf("not raised after the restart: %v", h2.sink.states())
}

package rules

import (
	"context"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// TestUnlessHoldsBackWhileTheOtherAlarmIsOn: a voltage rule that names
// the outage rule in unless does not raise on the 0 V of an outage, even
// when the outage outlasts its for-duration, and works again once the
// outage has cleared; without unless it raises.
func TestUnlessHoldsBackWhileTheOtherAlarmIsOn(t *testing.T) {
	outage := Rule{ID: "outage", Kind: devices.KindPower, Condition: Condition{Op: OpEvent, Event: "outage"}, Severity: Critical}
	volts := Rule{ID: "volts", Kind: devices.KindPower, Metric: "voltage_v",
		Condition: Condition{Op: OpOutside, Low: -10, High: 7, Nominal: 220}, For: devices.Duration(5 * time.Second), Severity: Major}
	held := volts
	held.Unless = []string{"outage"}
	for _, tc := range []struct {
		name string
		rule Rule
		want string
	}{
		{"without unless", volts, "outage:raised@10 volts:raised@15 outage:cleared@40 volts:cleared@41 volts:raised@49"},
		{"unless outage", held, "outage:raised@10 outage:cleared@40 volts:raised@49"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, fakeDevices{"p1": {ID: "p1", Kind: devices.KindPower, Site: "s1"}}, outage, tc.rule)
			ctx := context.Background()
			send := func(s int, v float64) {
				ts := t0.Add(time.Duration(s) * time.Second)
				h.clock.Set(ts)
				h.e.Reading(ctx, devices.Reading{Device: "p1", Kind: devices.KindPower, Site: "s1", Time: ts,
					Values: map[string]devices.Value{"voltage_v": devices.Num(v)}})
				h.e.Tick(ctx, ts)
			}
			event := func(s int, on bool) {
				ts := t0.Add(time.Duration(s) * time.Second)
				h.clock.Set(ts)
				h.e.Event(ctx, devices.Event{Device: "p1", Kind: devices.KindPower, Site: "s1", Time: ts, Name: "outage", Active: on})
			}
			send(0, 220)
			event(10, true)
			for s := 10; s < 40; s++ {
				send(s, 0)
			}
			event(40, false)
			send(41, 220)
			for s := 44; s <= 50; s++ { // a real sag after the outage still raises
				send(s, 180)
			}
			var got []string
			for _, a := range h.sink.alarms {
				at := a.RaisedAt
				if a.State == Cleared {
					at = *a.ClearedAt
				}
				got = append(got, a.RuleID+":"+string(a.State)+"@"+sec(at))
			}
			if s := join(got); s != tc.want {
				t.Fatalf("alarms = %s\nwant     %s", s, tc.want)
			}
		})
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestUnlessValidated(t *testing.T) {
	for _, tc := range []struct {
		unless []string
		ok     bool
	}{
		{[]string{"power-outage"}, true},
		{[]string{"gas/x"}, false},
		{[]string{""}, false},
		{[]string{"gas-lel-critical.b2"}, false}, // gasRule's own family
	} {
		r := with(gasRule, func(r *Rule) { r.ID, r.Unless = "gas-lel-critical", tc.unless })
		err := r.Validate()
		if fe, isField := err.(*FieldError); tc.ok != (err == nil) || (err != nil && (!isField || fe.Field != "unless")) {
			t.Errorf("unless %q: error %v", tc.unless, err)
		}
	}
}

// TestUnlessHoldsBackATimedRaise: a for-duration that started before the
// outage does not complete on the clock alone while the outage is on.
func TestUnlessHoldsBackATimedRaise(t *testing.T) {
	outage := Rule{ID: "outage", Kind: devices.KindPower, Condition: Condition{Op: OpEvent, Event: "outage"}, Severity: Critical}
	volts := Rule{ID: "volts", Kind: devices.KindPower, Metric: "voltage_v", Unless: []string{"outage"},
		Condition: Condition{Op: OpOutside, Low: -10, High: 7, Nominal: 220}, For: devices.Duration(5 * time.Second), Severity: Major}
	h := newHarness(t, fakeDevices{"p1": {ID: "p1", Kind: devices.KindPower, Site: "s1"}}, outage, volts)
	ctx := context.Background()
	at := func(s int) time.Time { ts := t0.Add(time.Duration(s) * time.Second); h.clock.Set(ts); return ts }
	h.e.Reading(ctx, devices.Reading{Device: "p1", Kind: devices.KindPower, Site: "s1", Time: at(0),
		Values: map[string]devices.Value{"voltage_v": devices.Num(180)}})
	h.e.Event(ctx, devices.Event{Device: "p1", Kind: devices.KindPower, Site: "s1", Time: at(2), Name: "outage", Active: true})
	for s := 3; s <= 8; s++ {
		h.e.Tick(ctx, at(s))
	}
	if got := h.sink.states(); got != "raised@2" {
		t.Fatalf("alarms = %q, want only the outage", got)
	}
}

// TestUnlessSurvivesRestart: a rule held back by another's alarm stays
// held back after a restart from the snapshot, also for a pending
// for-duration that only the clock would complete before the device's
// next reading (the sag began, then the outage came, then the restart).
func TestUnlessSurvivesRestart(t *testing.T) {
	pack, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	registered := fakeDevices{"p1": {ID: "p1", Kind: devices.KindPower, Site: "s1", Building: "B1"}}
	ctx := context.Background()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		restart bool
		reg     fakeDevices
		name    string
	}{{false, registered, "no restart"}, {true, registered, "restart"}, {true, fakeDevices{}, "restart, device not registered"}} {
		restart, reg := tc.restart, tc.reg
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, reg, pack...)
			h.clock.Set(at(0))
			h.e.Reading(ctx, devices.Reading{Device: "p1", Kind: devices.KindPower, Site: "s1", Building: "B1", Time: at(0),
				Values: map[string]devices.Value{"voltage_v": devices.Num(180)}})
			h.clock.Set(at(2))
			h.e.Event(ctx, devices.Event{Device: "p1", Kind: devices.KindPower, Site: "s1", Building: "B1", Time: at(2), Name: "outage", Active: true})
			if restart {
				snap, err := h.e.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				h2 := newHarness(t, reg, pack...)
				if _, err := h2.e.RestoreSnapshot(snap); err != nil {
					t.Fatal(err)
				}
				h2.sink.alarms, h2.sink.at = nil, nil
				h = h2
			}
			// the first tick comes after the sag's 5 s (a restart takes a
			// few seconds), before the meter's next reading
			for s := 6; s <= 30; s++ {
				h.clock.Set(at(s))
				h.e.Tick(ctx, at(s))
			}
			for _, a := range h.sink.alarms {
				if a.RuleID == "power-voltage" {
					t.Fatalf("power-voltage %s while the outage holds it back: %s", a.State, a.Message)
				}
			}
		})
	}
}

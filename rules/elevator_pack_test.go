package rules

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// carState is what a lift controller reports at one reading: running,
// doors open, within a landing's door zone, and its inspection switch.
type carState struct{ run, open, zone, insp bool }

var (
	atLanding   = carState{zone: true}
	doorsOpen   = carState{open: true, zone: true}
	travelling  = carState{run: true}
	stuckInWell = carState{}
)

// packHarness is the default pack on a fake clock with one registered
// lift (e1, whose maintainer is Liftco Service) and whatever else reg adds.
func packHarness(t *testing.T, reg fakeDevices) *harness {
	t.Helper()
	pack, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	if reg == nil {
		reg = fakeDevices{}
	}
	reg["e1"] = devices.Device{ID: "e1", Kind: devices.KindElevator, Site: "s1", Building: "B1", Location: "B1 lift E1",
		MachineClass: "I", Maintainer: "Liftco Service (400-800-1234)"}
	return newHarness(t, reg, pack...)
}

// raised lists the raised alarms as "rule@second".
func (h *harness) raised() []string {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	var out []string
	for _, a := range h.sink.alarms {
		if a.State == Raised {
			out = append(out, fmt.Sprintf("%s@%s", a.RuleID, sec(a.RaisedAt)))
		}
	}
	sort.Strings(out)
	return out
}

func (h *harness) car(s int, c carState, extra map[string]devices.Value) {
	ts := t0.Add(time.Duration(s) * time.Second)
	h.clock.Set(ts)
	vals := map[string]devices.Value{"running": devices.FlagValue(c.run), "door_open": devices.FlagValue(c.open),
		"door_zone": devices.FlagValue(c.zone), "inspection": devices.FlagValue(c.insp)}
	for k, v := range extra {
		vals[k] = v
	}
	h.e.Reading(context.Background(), devices.Reading{Device: "e1", Kind: devices.KindElevator, Site: "s1", Building: "B1", Time: ts, Values: vals})
	h.e.Tick(context.Background(), ts)
}

// TestElevatorPackCarStates: the pack's rules on the car's flags, reading
// every 5 s: a car at rest outside the door zone for 30 s is an
// entrapment risk (L1), moving with open doors outside the zone is L1 at
// once, re-levelling with open doors inside it is normal, and inspection
// operation is a notice that holds both back.
func TestElevatorPackCarStates(t *testing.T) {
	series := func(from, to int, c carState) []func(h *harness) {
		var out []func(h *harness)
		for s := from; s <= to; s += 5 {
			out = append(out, func(h *harness) { h.car(s, c, nil) })
		}
		return out
	}
	cat := func(parts ...[]func(h *harness)) []func(h *harness) {
		var out []func(h *harness)
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name  string
		steps []func(h *harness)
		want  string
	}{
		{"normal service: trips, stops, doors", cat(series(0, 20, atLanding), series(25, 40, travelling),
			series(45, 55, doorsOpen), series(60, 600, atLanding)), ""},
		{"stopped between floors for 30 s", cat(series(0, 10, travelling), series(15, 60, stuckInWell)),
			"elevator-stopped-between-floors@45"},
		{"stopped between floors for 25 s, then moves on", cat(series(0, 10, travelling), series(15, 35, stuckInWell),
			series(40, 300, travelling)), ""},
		{"moving with doors open outside the zone", cat(series(0, 10, travelling), series(15, 15, carState{run: true, open: true})),
			"elevator-moving-doors-open@15"},
		{"re-levelling with doors open in the zone", cat(series(0, 10, doorsOpen), series(15, 20, carState{run: true, open: true, zone: true}),
			series(25, 60, doorsOpen)), ""},
		{"stopped between floors while the controller reports the entrapment: that is the one alarm",
			cat([]func(h *harness){func(h *harness) {
				h.clock.Set(t0)
				h.e.Event(context.Background(), devices.Event{Device: "e1", Kind: devices.KindElevator, Site: "s1", Building: "B1", Time: t0, Name: "entrapment", Active: true})
			}}, series(0, 10, travelling), series(15, 120, stuckInWell)),
			"elevator-entrapment@0"},
		{"inspection: stops between floors and moves with doors open, a notice only",
			cat(series(0, 60, carState{insp: true, zone: true}), series(65, 200, carState{insp: true}),
				series(205, 210, carState{insp: true, run: true, open: true})),
			"elevator-inspection@60"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := packHarness(t, nil)
			for _, f := range tc.steps {
				f(h)
			}
			if got := strings.Join(h.raised(), " "); got != tc.want {
				t.Fatalf("raised [%s], want [%s]", got, tc.want)
			}
		})
	}
}

// TestElevatorPackNoDoorZone: a controller that does not report door_zone
// (older models) never raises the door-zone rules, whatever it reports.
func TestElevatorPackNoDoorZone(t *testing.T) {
	h := packHarness(t, nil)
	ctx := context.Background()
	for s := 0; s < 600; s += 5 {
		ts := t0.Add(time.Duration(s) * time.Second)
		h.clock.Set(ts)
		h.e.Reading(ctx, devices.Reading{Device: "e1", Kind: devices.KindElevator, Site: "s1", Building: "B1", Time: ts,
			Values: map[string]devices.Value{"running": devices.FlagValue(s%20 == 0), "door_open": devices.FlagValue(s%20 == 0)}})
		h.e.Tick(ctx, ts)
	}
	if got := h.raised(); len(got) != 0 {
		t.Fatalf("raised %v", got)
	}
}

// TestElevatorPackEntrapmentText: the entrapment tickets (the event, the
// car stopped between floors, the safety gear set) name the lift's
// maintenance contractor and the 30-minute rescue; a lift with no
// maintainer says to set one. Overload and a load-sensor fault are their
// own alarms (L3, L2); e2, silent after its event, goes offline. The car
// stopped between floors raises once the controller's own entrapment and
// safety-gear alarms have ended (while they are on, they are its ticket).
func TestElevatorPackEntrapmentText(t *testing.T) {
	h := packHarness(t, fakeDevices{"e2": {ID: "e2", Kind: devices.KindElevator, Site: "s1", Building: "B1"}})
	ctx := context.Background()
	ev := func(dev, name string, s int, on bool) {
		ts := t0.Add(time.Duration(s) * time.Second)
		h.clock.Set(ts)
		h.e.Event(ctx, devices.Event{Device: dev, Kind: devices.KindElevator, Site: "s1", Building: "B1", Time: ts, Name: name, Active: on})
	}
	ev("e1", "entrapment", 0, true)
	ev("e1", "safety_gear", 1, true)
	ev("e2", "entrapment", 2, true)
	// the controller's own alarms end; the car stays stuck between floors
	ev("e1", "entrapment", 3, false)
	ev("e1", "safety_gear", 4, false)
	for s := 5; s <= 160; s += 5 {
		h.car(s, stuckInWell, map[string]devices.Value{"overload": devices.FlagValue(true), "load_fault": devices.FlagValue(s >= 100)})
	}
	byRule := map[string][]Alarm{}
	for _, a := range h.sink.alarms {
		if a.State == Raised {
			byRule[a.RuleID] = append(byRule[a.RuleID], a)
		}
	}
	for _, id := range []string{"elevator-entrapment", "elevator-safety-gear", "elevator-stopped-between-floors"} {
		as := byRule[id]
		if len(as) == 0 {
			t.Fatalf("%s not raised; raised %v", id, h.raised())
		}
		a := as[0]
		if a.Level != 1 || a.Maintainer != "Liftco Service (400-800-1234)" ||
			!strings.Contains(a.Message, "Page Liftco Service (400-800-1234) at once") || !strings.Contains(a.Message, "within 30 minutes") {
			t.Errorf("%s: L%d maintainer %q message %q", id, a.Level, a.Maintainer, a.Message)
		}
	}
	if e2 := byRule["elevator-entrapment"]; len(e2) != 2 || !strings.Contains(e2[1].Message, "维保单位") || !strings.Contains(e2[1].Message, "set its maintainer") {
		t.Errorf("a lift without a maintainer: %+v", e2)
	}
	if got := strings.Join(h.raised(), " "); got != "elevator-entrapment@0 elevator-entrapment@2 elevator-load-sensor-fault@130 elevator-offline@122 elevator-overload@125 elevator-safety-gear@1 elevator-stopped-between-floors@35" {
		t.Errorf("raised %s", got)
	}
}

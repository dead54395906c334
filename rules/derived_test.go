package rules

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// estateB1 is a building with two leak probes, a power meter (250 A
// breaker), two lifts (e1 from packHarness), and a probe next door.
func estateB1() fakeDevices {
	return fakeDevices{
		"l1": {ID: "l1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1", PlaceType: "pump_room"},
		"l2": {ID: "l2", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1", PlaceType: "riser"},
		"l9": {ID: "l9", Kind: devices.KindWaterLeak, Site: "s1", Building: "B9", PlaceType: "pump_room"},
		"p1": {ID: "p1", Kind: devices.KindPower, Site: "s1", Building: "B1", BreakerA: 250},
		"e2": {ID: "e2", Kind: devices.KindElevator, Site: "s1", Building: "B1", Maintainer: "Liftco"},
	}
}

// act is one thing that happens at a second of the timeline.
type act struct {
	at   int
	dev  string
	vals map[string]devices.Value // a reading
	ev   string                   // or an event
	on   bool
}

func wet(at int, dev string, on bool) act {
	return act{at: at, dev: dev, vals: map[string]devices.Value{"leak": devices.FlagValue(on)}}
}
func outage(at int, on bool) act { return act{at: at, dev: "p1", ev: "outage", on: on} }
func reading(at int, dev string, kv ...any) act {
	vals := map[string]devices.Value{}
	for i := 0; i < len(kv); i += 2 {
		vals[kv[i].(string)] = value(kv[i+1])
	}
	return act{at: at, dev: dev, vals: vals}
}

func (h *harness) play(acts []act, until int) {
	ctx := context.Background()
	next := 0
	for s := 0; s <= until; s++ {
		ts := t0.Add(time.Duration(s) * time.Second)
		h.clock.Set(ts)
		for next < len(acts) && acts[next].at == s {
			a := acts[next]
			d := h.reg[a.dev]
			if a.ev != "" {
				h.e.Event(ctx, devices.Event{Device: a.dev, Kind: d.Kind, Site: d.Site, Building: d.Building, Time: ts, Name: a.ev, Active: a.on})
			} else {
				h.e.Reading(ctx, devices.Reading{Device: a.dev, Kind: d.Kind, Site: d.Site, Building: d.Building, Time: ts, Values: a.vals})
			}
			next++
		}
		h.e.Tick(ctx, ts)
	}
}

// timeline lists raises and clears as "raised:rule:device@s".
func (h *harness) timeline(skip ...string) string {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	var out []string
outer:
	for _, a := range h.sink.alarms {
		for _, s := range skip {
			if strings.HasPrefix(a.RuleID, s) {
				continue outer
			}
		}
		at := a.RaisedAt
		if a.State == Cleared {
			at = *a.ClearedAt
		}
		if a.State != Updated {
			out = append(out, string(a.State)+":"+a.RuleID+":"+a.Device+"@"+sec(at))
		}
	}
	return strings.Join(out, " ")
}

// TestBuildingRules: two probes of one building wet at once are a flood,
// one alarm for the building beside each probe's own, cleared once fewer
// than two are wet; probes of two buildings are not; an outage in a
// building raises the lift check on each of its lifts, cleared with it.
func TestBuildingRules(t *testing.T) {
	tests := []struct {
		name  string
		acts  []act
		until int
		want  string
	}{
		{"one probe wet: its own alarm, no flood", []act{wet(0, "l1", true)}, 30,
			"raised:water-leak:l1@10"},
		{"two probes of B1 wet: a flood for B1", []act{wet(0, "l1", true), wet(5, "l2", true), wet(60, "l2", false)}, 200,
			"raised:water-leak:l1@10 raised:water-leak:l2@15 raised:water-leak-flood:building:s1/B1@15 " +
				"cleared:water-leak:l2@90 cleared:water-leak-flood:building:s1/B1@150"},
		{"probes of two buildings: no flood", []act{wet(0, "l1", true), wet(1, "l9", true)}, 30,
			"raised:water-leak:l1@10 raised:water-leak:l9@11"},
		{"an outage in B1 calls for a check of each of its lifts", []act{outage(0, true), outage(90, false)}, 100,
			"raised:power-outage:p1@0 raised:elevator-check-after-outage:e1@0 raised:elevator-check-after-outage:e2@0 " +
				"cleared:power-outage:p1@90 cleared:elevator-check-after-outage:e1@90 cleared:elevator-check-after-outage:e2@90"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := packHarness(t, estateB1())
			// the lifts are seen (they report), so the building has lifts
			h.car(0, atLanding, nil)
			h.e.Reading(context.Background(), devices.Reading{Device: "e2", Kind: devices.KindElevator, Site: "s1", Building: "B1", Time: t0,
				Values: map[string]devices.Value{"running": devices.FlagValue(false)}})
			h.play(tc.acts, tc.until)
			if got := h.timeline("elevator-offline", "power-offline", "water-leak-offline"); got != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestBuildingFloodMessage: the flood alarm names the building and the count.
func TestBuildingFloodMessage(t *testing.T) {
	h := packHarness(t, estateB1())
	h.play([]act{wet(0, "l1", true), wet(0, "l2", true)}, 20)
	for _, a := range h.sink.alarms {
		if a.RuleID == "water-leak-flood" {
			if a.Device != GroupID("s1", "B1") || a.Level != 1 || a.Message != "Flood across the building (several probes wet): building B1 (building:s1/B1): 2 devices with water-leak on at once" {
				t.Fatalf("%+v", a)
			}
			return
		}
	}
	t.Fatal("no flood alarm")
}

// TestServiceOverdue: a lift with no maintenance recorded is overdue 15
// days after Caretaker first saw it; a recorded service clears it and
// restarts the 15 days; the last service survives a restart, by snapshot
// and by the store's record (RestoreServiceAt).
func TestServiceOverdue(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	h := packHarness(t, nil)
	h.e.Tick(ctx, t0) // the roster: e1 seen from t0
	overdue := func(h *harness) []string {
		var out []string
		for _, a := range h.sink.alarms {
			if a.RuleID == "elevator-maintenance-overdue" {
				out = append(out, string(a.State)+"@"+a.RaisedAt.Sub(t0).String())
			}
		}
		return out
	}
	tickAt := func(h *harness, d time.Duration) { h.clock.Set(t0.Add(d)); h.e.Tick(ctx, t0.Add(d)) }
	tickAt(h, 15*day-time.Minute)
	if got := overdue(h); len(got) != 0 {
		t.Fatalf("before 15 days: %v", got)
	}
	tickAt(h, 15*day)
	if got := strings.Join(overdue(h), " "); got != "raised@360h0m0s" {
		t.Fatalf("at 15 days: %s", got)
	}
	if !strings.Contains(h.sink.alarms[len(h.sink.alarms)-1].Message, "Chase Liftco Service (400-800-1234)") {
		t.Errorf("message %q", h.sink.alarms[len(h.sink.alarms)-1].Message)
	}
	// serviced on day 16: cleared, due again on day 31
	h.clock.Set(t0.Add(16 * day))
	if _, _, err := h.e.RecordService(ctx, "elevator-maintenance-overdue", "e1", t0.Add(16*day)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(overdue(h), " "); got != "raised@360h0m0s cleared@360h0m0s" {
		t.Fatalf("after the service: %s", got)
	}
	snap, err := h.e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, restore := range []string{"snapshot", "store"} {
		t.Run(restore, func(t *testing.T) {
			h2 := packHarness(t, nil)
			h2.clock.Set(t0.Add(20 * day))
			if restore == "snapshot" {
				if _, err := h2.e.RestoreSnapshot(snap); err != nil {
					t.Fatal(err)
				}
			} else {
				h2.e.RestoreServiceAt("elevator-maintenance-overdue", "e1", t0.Add(16*day))
			}
			tickAt(h2, 20*day) // first seen now: the record, not this, counts
			tickAt(h2, 31*day-time.Minute)
			if got := overdue(h2); len(got) != 0 {
				t.Fatalf("before 15 days after the service: %v", got)
			}
			tickAt(h2, 31*day)
			if got := strings.Join(overdue(h2), " "); got != "raised@744h0m0s" {
				t.Fatalf("15 days after the service: %s", got)
			}
		})
	}
}

// TestMotorRiseAndOvercurrent: the motor rule on the rise above the
// machine room (a hot room alone raises nothing; a lift without the room
// sensor has no rise rule); the over-current rules against the device's
// breaker rating (none for a meter without breaker_a).
func TestMotorRiseAndOvercurrent(t *testing.T) {
	reg := estateB1()
	reg["p2"] = devices.Device{ID: "p2", Kind: devices.KindPower, Site: "s1", Building: "B1"}
	tests := []struct {
		name string
		acts func() []act
		want string
	}{
		{"motor 70 C in a 40 C room: a rise of 30 K is fine", func() []act {
			var out []act
			for s := 0; s <= 900; s += 10 {
				out = append(out, reading(s, "e1", "motor_temp_c", 70.0, "machine_room_temp_c", 40.0))
			}
			return out
		}, ""},
		{"motor 80 C in a 20 C room: 60 K for 5 minutes", func() []act {
			var out []act
			for s := 0; s <= 900; s += 10 {
				out = append(out, reading(s, "e1", "motor_temp_c", 80.0, "machine_room_temp_c", 20.0))
			}
			return out
		}, "raised:elevator-motor-rise:e1@300"},
		{"no room sensor: the rise rule does not see it", func() []act {
			var out []act
			for s := 0; s <= 900; s += 10 {
				out = append(out, reading(s, "e1", "motor_temp_c", 80.0))
			}
			return out
		}, ""},
		{"phase L2 at 260 A on a 250 A breaker for a minute, then 200 A", func() []act {
			var out []act
			for s := 0; s <= 700; s += 10 {
				a := 260.0
				if s > 100 {
					a = 200
				}
				out = append(out, reading(s, "p1", "l1_a", 100.0, "l2_a", a, "l3_a", 100.0, "current_a", (200+a)/3),
					reading(s, "p2", "l1_a", 400.0, "l2_a", 400.0, "l3_a", 400.0, "current_a", 400.0))
			}
			return out
		}, "raised:power-overcurrent-l2:p1@60 cleared:power-overcurrent-l2:p1@410"},
		{"a single-phase meter's current", func() []act {
			var out []act
			for s := 0; s <= 200; s += 10 {
				out = append(out, reading(s, "p1", "current_a", 300.0))
			}
			return out
		}, "raised:power-overcurrent:p1@120"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := packHarness(t, reg)
			acts := tc.acts()
			h.play(acts, acts[len(acts)-1].at)
			if got := h.timeline("elevator-offline", "power-offline", "water-leak-offline", "elevator-motor-temp-trend",
				"elevator-maintenance", "power-factor"); got != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestGasTogether: LEL and CO climbing together for 30 s is L1 below both
// set points; either alone is not.
func TestGasTogether(t *testing.T) {
	reg := fakeDevices{"g1": {ID: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1"}}
	series := func(lelPerMin, coPerMin float64) []act {
		var out []act
		for s := 0; s <= 60; s += 2 {
			m := float64(s) / 60
			out = append(out, reading(s, "g1", "lel_pct", 1+lelPerMin*m, "co_ppm", 2+coPerMin*m))
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		lel, co float64
		want    string
	}{
		{"both rising", 4, 12, "raised:gas-co-lel-rising:g1@32"},
		{"LEL alone", 4, 0, ""},
		{"CO alone", 0, 12, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := packHarness(t, reg)
			h.play(series(tc.lel, tc.co), 60)
			if got := h.timeline("elevator-", "gas-offline"); got != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestNewConditionFieldsValidate: the fields of the new conditions are
// checked and the error names the field.
func TestNewConditionFieldsValidate(t *testing.T) {
	lift := func(c Condition) Rule {
		return Rule{ID: "r", Kind: devices.KindElevator, Severity: Major, Condition: c}
	}
	isTrue := Condition{Op: OpIs, Value: true}
	tests := []struct {
		name string
		rule Rule
		want string
	}{
		{"all with one term", lift(Condition{Op: OpAll, Of: []Term{{Metric: "running", Condition: isTrue}}}), "condition.of: an all condition needs two or more terms"},
		{"all of an unknown metric", lift(Condition{Op: OpAll, Of: []Term{{Metric: "running", Condition: isTrue}, {Metric: "speed", Condition: isTrue}}}),
			`condition.of[1].metric: elevator devices do not report "speed"`},
		{"all of an event", lift(Condition{Op: OpAll, Of: []Term{{Metric: "running", Condition: isTrue}, {Metric: "door_open", Condition: Condition{Op: OpEvent, Event: "x"}}}}),
			"condition.of[1].op: event cannot be a term of all"},
		{"all with a metric", with(lift(Condition{Op: OpAll, Of: []Term{{Metric: "running", Condition: isTrue}, {Metric: "door_open", Condition: isTrue}}}),
			func(r *Rule) { r.Metric = "running" }), "metric: an all rule names its metrics in condition.of"},
		{"building rule watching nothing", lift(Condition{Op: OpBuildingAlarm}), "condition.rules: names no rule family to watch"},
		{"at_least on a building alarm", lift(Condition{Op: OpBuildingAlarm, Rules: []string{"power-outage"}, AtLeast: 2}), "condition.at_least: applies to building_count only"},
		{"overdue with no interval", lift(Condition{Op: OpServiceOverdue}), "condition.after: must be a positive duration"},
		{"minus of itself", with(lift(Condition{Op: ">", Value: 50, Minus: "motor_temp_c"}), func(r *Rule) { r.Metric = "motor_temp_c" }),
			"condition.minus: motor_temp_c less itself is always 0"},
		{"minus of a flag", with(lift(Condition{Op: ">", Value: 50, Minus: "running"}), func(r *Rule) { r.Metric = "motor_temp_c" }),
			"condition.minus: subtracts one gauge from another"},
		{"an unknown rating", Rule{ID: "r", Kind: devices.KindPower, Metric: "l1_a", Severity: Major, Condition: Condition{Op: ">", Value: 0, Rating: "fuse_a"}},
			`condition.rating: "fuse_a": applies to`},
		{"a stateful when", with(lift(Condition{Op: ">", Value: 4.5}), func(r *Rule) {
			r.Metric = "vibration_mm_s"
			r.When = []Term{{Metric: "motor_temp_c", Condition: Condition{Op: OpRateAbove, PerMinute: 1}}}
		}), "when[0].op: rate_above keeps state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.rule.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to start %q", err, tc.want)
			}
		})
	}
}

// TestVibrationWhileRunning: the vibration rules look at running readings
// only: a lift that vibrates at 6 mm/s on every trip raises, though it
// stands still (0.1 mm/s) between trips; its standing readings do not
// clear it.
func TestVibrationWhileRunning(t *testing.T) {
	h := packHarness(t, nil)
	for s := 0; s <= 600; s += 5 {
		run := (s/20)%2 == 0 // 20 s trips, 20 s standing
		vib := 0.1
		if run {
			vib = 6
		}
		h.car(s, carState{run: run, zone: !run}, map[string]devices.Value{"vibration_mm_s": devices.Num(vib)})
	}
	if got := strings.Join(h.raised(), " "); got != "elevator-vibration-high@60" {
		t.Fatalf("raised [%s]", got)
	}
}

// TestBacktestSeveralMetrics: a backtest of a rule that reads other
// metrics of the reading besides its own (when, all) reads them all from
// the history, whose points come metric by metric, and finds what the
// live engine would: the vibration of a lift on its trips, a car stopped
// between floors.
func TestBacktestSeveralMetrics(t *testing.T) {
	reg := fakeDevices{"e1": {ID: "e1", Kind: devices.KindElevator, Site: "s1", Building: "B1", MachineClass: "I"}}
	var pts []devices.Point
	add := func(metric string, f func(s int) float64) {
		for s := 0; s <= 300; s += 5 {
			pts = append(pts, devices.Point{Time: t0.Add(time.Duration(s) * time.Second), Metric: metric, Value: f(s)})
		}
	}
	run := func(s int) bool { return s < 200 && (s/20)%2 == 0 }
	flag := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	add("vibration_mm_s", func(s int) float64 {
		if run(s) {
			return 6
		}
		return 0.1
	})
	add("running", func(s int) float64 { return flag(run(s)) })
	add("door_zone", func(s int) float64 { return flag(s < 200 && !run(s)) }) // from 200 s: stopped between floors
	pack, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Rule{}
	for _, r := range pack {
		byID[r.ID] = r
	}
	bt := &Backtester{History: fakeHistory{"e1": pts}, Devices: reg}
	for id, start := range map[string]int{"elevator-vibration-high": 60, "elevator-stopped-between-floors": 230} {
		res, err := bt.Run(context.Background(), byID[id], BacktestRequest{From: t0, To: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Episodes) != 1 || !res.Episodes[0].Start.Equal(t0.Add(time.Duration(start)*time.Second)) {
			t.Errorf("%s: episodes %+v, want one from +%ds", id, res.Episodes, start)
		}
	}
}

package rules

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

func dur(s string) devices.Duration { d, _ := time.ParseDuration(s); return devices.Duration(d) }

var (
	gasRule = Rule{ID: "gas", Kind: devices.KindGas, Metric: "lel_pct", Severity: Critical,
		Condition: Condition{Op: ">=", Value: 20}, Clear: &Condition{Op: "<", Value: 15}}
	leakRule = Rule{ID: "leak", Kind: devices.KindWaterLeak, Metric: "leak", Severity: Critical,
		Condition: Condition{Op: "is", Value: true}, For: dur("10s")}
)

func with(r Rule, edit func(*Rule)) Rule { edit(&r); return r }

// TestTimelines runs every condition and control through exact timelines.
func TestTimelines(t *testing.T) {
	gasFor := with(gasRule, func(r *Rule) { r.For, r.ClearFor = dur("5s"), dur("3s") })
	flappy := with(gasRule, func(r *Rule) { r.FlapCount, r.FlapWindow = 3, dur("60s") })
	rateUp := Rule{ID: "heat", Kind: devices.KindElevator, Metric: "motor_temp_c", Severity: Major,
		Condition: Condition{Op: "rate_above", PerMinute: 5}}
	rateDown := Rule{ID: "fall", Kind: devices.KindWaterLeak, Metric: "battery_pct", Severity: Minor,
		Condition: Condition{Op: "rate_below", PerMinute: -10}}
	trend := Rule{ID: "motor-trend", Kind: devices.KindElevator, Metric: "motor_temp_c", Severity: Maintenance,
		Condition: Condition{Op: "trend_crosses", Value: 85, Window: dur("60m"), Horizon: dur("6h")}}
	falling := with(trend, func(r *Rule) {
		r.Kind, r.Metric = devices.KindWaterLeak, "battery_pct"
		r.Condition = Condition{Op: "trend_crosses", Value: 10, Window: dur("60m"), Horizon: dur("6h"), Direction: "falling"}
	})
	counter := Rule{ID: "doors", Kind: devices.KindElevator, Metric: "door_cycles", Severity: Maintenance,
		Condition: Condition{Op: "counter_every", Every: 1000}}
	stale := Rule{ID: "offline", Kind: devices.KindGas, Severity: Major, Condition: Condition{Op: "stale", After: dur("60s")}}
	entrapment := Rule{ID: "trapped", Kind: devices.KindElevator, Severity: Critical, Condition: Condition{Op: "event", Event: "entrapment"}}
	voltage := Rule{ID: "volts", Kind: devices.KindPower, Metric: "voltage_v", Severity: Major, For: dur("5s"),
		Condition: Condition{Op: "outside", Low: -10, High: 10, Nominal: 220}}
	nominal230 := fakeDevices{"d1": {ID: "d1", Kind: devices.KindPower, Site: "s1", Building: "B1", Nominal: map[string]float64{"voltage_v": 230}}}

	tests := []struct {
		name  string
		rule  Rule
		reg   fakeDevices
		steps []step
		want  string
	}{
		// threshold, for, hysteresis
		{"raises at once", gasRule, nil, []step{at(0, 5.0), at(1, 25.0)}, "raised@1"},
		{"repeated readings raise once", gasRule, nil, []step{at(1, 25.0), at(2, 30.0), at(3, 22.0)}, "raised@1 peak@2"}, // worse: told; better: not
		{"hysteresis holds between clear and raise", gasRule, nil,
			[]step{at(1, 25.0), at(2, 17.0), at(3, 19.0), at(4, 14.0)}, "raised@1 cleared@4"},
		{"for-duration not met", gasFor, nil, []step{at(0, 25.0), at(3, 25.0), at(4, 10.0), at(6, 25.0)}, ""},
		{"for-duration met by readings", gasFor, nil, []step{at(0, 25.0), at(3, 25.0), at(5, 26.0)}, "raised@5"},
		{"clear_for needs the drop to hold", gasFor, nil,
			[]step{at(0, 25.0), at(5, 25.0), at(6, 10.0), at(7, 21.0), at(8, 10.0), at(11, 10.0)}, "raised@5 cleared@11"},
		{"clear_for completed by time", gasFor, nil,
			[]step{at(0, 25.0), at(5, 25.0), at(6, 10.0), tick(8), tick(9)}, "raised@5 cleared@9"},
		{"wet once then silent raises when for runs out", leakRule, nil,
			[]step{at(0, true), tick(5), tick(10)}, "raised@10"},
		{"dry before for runs out raises nothing", leakRule, nil,
			[]step{at(0, true), at(4, false), tick(12)}, ""},
		// out of order
		{"stale reading changes nothing", gasRule, nil,
			[]step{at(5, 25.0), at(6, 10.0), at(3, 30.0)}, "raised@5 cleared@6"},
		{"out-of-order dry does not reset a pending for", leakRule, nil,
			[]step{at(0, true), at(6, true), at(3, false), tick(10)}, "raised@10"},
		// flapping: more than 3 toggles in 60 s holds the alarm raised
		{"flapping holds raised then settles", flappy, nil,
			[]step{at(0, 25.0), at(5, 10.0), at(10, 25.0), at(15, 10.0), at(20, 25.0), at(25, 10.0), tick(66), tick(71)},
			"raised@0 cleared@5 raised@10 flapping@15 cleared@71"},
		{"flapping settles while raised", flappy, nil,
			[]step{at(0, 25.0), at(5, 10.0), at(10, 25.0), at(15, 10.0), at(20, 25.0), tick(71), tick(81), at(82, 10.0)},
			"raised@0 cleared@5 raised@10 flapping@15 settled@71 cleared@82"},
		// rate of change
		{"rate above", rateUp, nil, []step{at(0, 20.0), at(60, 22.0), at(90, 26.0), at(150, 27.0)}, "raised@90 cleared@150"},
		{"first value has no rate", rateUp, nil, []step{at(0, 80.0)}, ""},
		{"rate below (a fall)", rateDown, nil, []step{at(0, 50.0), at(30, 40.0), at(60, 40.0)}, "raised@30 cleared@60"},
		// trend: +0.1 °C/min from 60 °C reaches 85 °C 220 min after +30 min
		{"trend predicts the crossing within the horizon", trend, nil,
			[]step{at(0, 60.0), at(600, 61.0), at(1200, 62.0), at(1800, 63.0)}, "raised@1800"},
		{"trend too slow for the horizon", trend, nil,
			[]step{at(0, 60.0), at(600, 60.1), at(1200, 60.2), at(1800, 60.3)}, ""},
		{"trend falling the wrong way", trend, nil,
			[]step{at(0, 63.0), at(600, 62.0), at(1200, 61.0), at(1800, 60.0)}, ""},
		{"trend clears when it flattens", trend, nil,
			[]step{at(0, 60.0), at(600, 61.0), at(1200, 62.0), at(1800, 63.0), at(2400, 62.0), at(3000, 61.0), at(3600, 60.0)},
			"raised@1800 cleared@2400"}, // at +2400 s the fitted line reaches 85 °C in 370 min > 6 h
		{"falling trend", falling, nil,
			[]step{at(0, 40.0), at(600, 38.0), at(1200, 36.0), at(1800, 34.0)}, "raised@1800"},
		// counter service interval
		{"counter due, serviced, due again, reset kept", counter, nil,
			[]step{at(0, 500), at(10, 999), at(20, 1000), at(30, 1500), service(40), at(50, 1800), at(60, 2500), at(70, 10)},
			"raised@20 cleared@40 raised@60"},
		{"counter reset does not hide a due service", counter, nil,
			[]step{at(0, 900), at(10, 20), at(20, 100)}, "raised@20"},
		// staleness
		{"no data for after raises offline, data clears", stale, nil,
			[]step{at(0, 1.0), tick(59), tick(60), tick(61), at(70, 1.0)}, "raised@60 cleared@70"},
		// events
		{"event raises at once and clears when it ends", entrapment, nil,
			[]step{at(0, true), at(30, false)}, "raised@0 cleared@30"},
		// nominal: ±10% of 220 V unless the device says 230 V
		{"voltage off nominal for 5 s", voltage, nil,
			[]step{at(0, 230.0), at(1, 245.0), at(6, 246.0), at(7, 230.0)}, "raised@6 cleared@7"},
		{"device nominal 230 V", voltage, nominal230,
			[]step{at(0, 245.0), at(10, 246.0), at(11, 205.0), at(16, 205.0)}, "raised@16"},
		// late data (lateness bound 2 min)
		{"backlog of a fault long over raises nothing", gasRule, nil,
			[]step{late(0, 25.0, 3600), late(10, 10.0, 3590)}, ""},
		{"backlog of a fault still going on raises once current", gasRule, nil,
			[]step{late(0, 25.0, 3600), late(1800, 25.0, 1800), late(3600, 25.0, 1)}, "raised@0/3601"},
		{"backlog ending in the fault raises after the lateness bound", leakRule, nil,
			[]step{late(0, true, 3600), tick(3605), tick(3615), tick(3719), tick(3720)}, "raised@10/3720"},
		{"fault that ended within the bound is raised and cleared", gasRule, nil,
			[]step{late(0, 25.0, 3590), late(3590, 10.0, 10)}, "raised@0/3600 cleared@3590/3600"},
		{"tick between replayed values does not complete for", leakRule, nil,
			[]step{late(0, true, 3600), tick(3601), late(5, false, 3597), tick(3720)}, ""},
		{"late clear of a raised alarm is told", gasRule, nil,
			[]step{at(0, 25.0), late(10, 10.0, 600)}, "raised@0 cleared@10/610"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.reg, tc.rule)
			h.run(tc.rule, tc.steps)
			if got := h.sink.states(); got != tc.want {
				t.Fatalf("alarms = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTrendCarriesPredictedTime(t *testing.T) {
	rule := Rule{ID: "motor-trend", Kind: devices.KindElevator, Metric: "motor_temp_c", Severity: Maintenance,
		Condition: Condition{Op: "trend_crosses", Value: 85, Window: dur("60m"), Horizon: dur("6h")}}
	h := newHarness(t, nil, rule)
	h.run(rule, []step{at(0, 60.0), at(600, 61.0), at(1200, 62.0), at(1800, 63.0)})
	if len(h.sink.alarms) != 1 {
		t.Fatalf("alarms = %s", h.sink.states())
	}
	a := h.sink.alarms[0]
	want := t0.Add(1800*time.Second + 220*time.Minute)
	if a.PredictedAt == nil || a.PredictedAt.Sub(want).Abs() > time.Second {
		t.Fatalf("predicted = %v, want %v", a.PredictedAt, want)
	}
	if a.Severity != Maintenance || a.Level != 3 || !strings.Contains(a.Message, want.Format(time.RFC3339)) {
		t.Fatalf("alarm = %+v", a)
	}
}

func TestAlarmIDStableAcrossReplay(t *testing.T) {
	ids := make([]string, 2)
	for i := range ids {
		h := newHarness(t, nil, gasRule)
		h.run(gasRule, []step{at(0, 30.0)})
		if len(h.sink.alarms) != 1 {
			t.Fatalf("run %d: %s", i, h.sink.states())
		}
		ids[i] = h.sink.alarms[0].ID
	}
	if ids[0] != ids[1] {
		t.Fatalf("replayed reading gave a new alarm id: %s vs %s", ids[0], ids[1])
	}
}

func TestEventRuleFromDefaultPack(t *testing.T) {
	rules, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	reg := fakeDevices{"e1": {ID: "e1", Kind: devices.KindElevator, Site: "s1", Location: "Tower A lift 1"}}
	h := newHarness(t, reg, rules...)
	ctx := context.Background()
	ev := devices.Event{Device: "e1", Kind: devices.KindElevator, Site: "s1", Name: "entrapment", Active: true, Time: t0}
	h.e.Event(ctx, ev)
	ev.Active, ev.Time = false, t0.Add(time.Minute)
	h.clock.Set(ev.Time)
	h.e.Event(ctx, ev)
	if got := h.sink.states(); got != "raised@0 cleared@60" {
		t.Fatalf("alarms = %q", got)
	}
	a := h.sink.alarms[0]
	if a.Level != 1 || a.RuleID != "elevator-entrapment" || !strings.Contains(a.Message, "Tower A lift 1") {
		t.Fatalf("alarm = %+v", a)
	}
}

// TestScopeNarrowestWins: within a family (id before the first '.'), the
// narrowest matching scope is the one evaluated for a device.
func TestScopeNarrowestWins(t *testing.T) {
	kind := with(gasRule, func(r *Rule) { r.ID, r.Clear = "gas-crit", nil })
	b2 := with(kind, func(r *Rule) { r.ID, r.Scope, r.Condition.Value = "gas-crit.b2", Scope{Building: "B2"}, 25 })
	site := with(kind, func(r *Rule) { r.ID, r.Scope, r.Condition.Value = "gas-crit.s1", Scope{Site: "s1"}, 22 })
	dev := with(kind, func(r *Rule) { r.ID, r.Scope, r.Condition.Value = "gas-crit.g9", Scope{Device: "g9"}, 30 })
	warn := with(kind, func(r *Rule) { r.ID, r.Severity, r.Condition.Value = "gas-warn", Major, 10 })
	reg := fakeDevices{
		"g1": {ID: "g1", Kind: devices.KindGas, Site: "s2", Building: "B1"},
		"g2": {ID: "g2", Kind: devices.KindGas, Site: "s1", Building: "B1"},
		"g3": {ID: "g3", Kind: devices.KindGas, Site: "s1", Building: "B2"},
		"g9": {ID: "g9", Kind: devices.KindGas, Site: "s1", Building: "B2"},
	}
	tests := []struct {
		dev  string
		lel  float64
		want string // rules raised, in order
	}{
		{"g1", 21, "gas-crit gas-warn"},    // kind-wide rule: 20
		{"g2", 21, "gas-warn"},             // site rule: 22
		{"g2", 23, "gas-crit.s1 gas-warn"}, //
		{"g3", 23, "gas-warn"},             // building beats site: 25
		{"g3", 26, "gas-crit.b2 gas-warn"}, //
		{"g9", 27, "gas-warn"},             // device beats building: 30
		{"g9", 31, "gas-crit.g9 gas-warn"}, //
	}
	for _, tc := range tests {
		t.Run(tc.dev, func(t *testing.T) {
			h := newHarness(t, reg, kind, b2, site, dev, warn)
			h.run(kind, []step{atDev(0, tc.dev, tc.lel)})
			var got []string
			for _, a := range h.sink.alarms {
				got = append(got, a.RuleID)
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("raised %v, want %s", got, tc.want)
			}
		})
	}
}

// TestInhibition: a Modbus address whose devices all go offline raises one
// alarm and holds back their no-data alarms; ingest down does the same for
// MQTT devices.
func TestInhibition(t *testing.T) {
	stale := Rule{ID: "offline", Kind: devices.KindPower, Severity: Minor, Condition: Condition{Op: "stale", After: dur("60s")}}
	mb := &devices.Modbus{Address: "tcp://10.0.0.5:502"}
	reg := fakeDevices{
		"pm1": {ID: "pm1", Kind: devices.KindPower, Site: "s1", Building: "B1", Modbus: mb},
		"pm2": {ID: "pm2", Kind: devices.KindPower, Site: "s1", Building: "B1", Modbus: mb},
		"pm3": {ID: "pm3", Kind: devices.KindPower, Site: "s1", Building: "B1"}, // MQTT
	}
	h := newHarness(t, reg, stale)
	ctx := context.Background()
	for _, d := range []string{"pm1", "pm2", "pm3"} {
		h.e.Reading(ctx, devices.Reading{Device: d, Kind: devices.KindPower, Site: "s1", Building: "B1", Time: t0,
			Values: map[string]devices.Value{"voltage_v": devices.Num(220)}})
	}
	status := func(s int, dev string, online bool) {
		ts := t0.Add(time.Duration(s) * time.Second)
		h.clock.Set(ts)
		if IsParentID(dev) {
			h.e.SourceStatus(ctx, devices.Status{Device: dev, Time: ts, Online: online})
			return
		}
		h.e.Status(ctx, devices.Status{Device: dev, Time: ts, Online: online})
	}
	ticks := func(secs ...int) {
		for _, s := range secs {
			ts := t0.Add(time.Duration(s) * time.Second)
			h.clock.Set(ts)
			h.e.Tick(ctx, ts)
		}
	}
	status(20, "pm1", false) // one device offline: not yet the address
	status(30, "pm2", false) // all of them: the address is down
	ticks(61)                // pm3 (MQTT) goes stale; pm1 and pm2 held back
	status(100, "ingest", false)
	ticks(200)
	status(300, "modbus:tcp://10.0.0.5:502", true) // gateway says it is back
	ticks(359, 360)                                // their clock restarted at 300
	want := []string{
		"raised source-offline modbus:tcp://10.0.0.5:502",
		"raised offline pm3",
		"raised source-offline ingest",
		"cleared source-offline modbus:tcp://10.0.0.5:502",
		"raised offline pm1",
		"raised offline pm2",
	}
	var got []string
	for _, a := range h.sink.alarms {
		got = append(got, string(a.State)+" "+a.RuleID+" "+a.Device)
	}
	// pm1 and pm2 are raised in one tick, in map order.
	if len(got) == len(want) && got[4] > got[5] {
		got[4], got[5] = got[5], got[4]
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("alarms:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if a := h.sink.alarms[0]; a.Site != "s1" || a.Building != "B1" || a.Level != 2 || !strings.Contains(a.Message, "2 devices") {
		t.Fatalf("parent alarm = %+v", a)
	}
	if a := h.sink.alarms[4]; !a.RaisedAt.Equal(t0.Add(360 * time.Second)) {
		t.Fatalf("stale alarm raised at %v, want +360s", a.RaisedAt)
	}
}

// TestPutKeepsOrResetsState: a threshold change carries the open episode
// on; a change of metric clears it.
func TestPutKeepsOrResetsState(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil, gasRule)
	h.run(gasRule, []step{at(0, 25.0)})
	higher := with(gasRule, func(r *Rule) { r.Condition.Value, r.Clear = 30, &Condition{Op: "<", Value: 28} })
	if err := h.e.Put(ctx, "gas", &higher, nil); err != nil {
		t.Fatal(err)
	}
	h.run(higher, []step{at(1, 26.0)}) // below the new clear level: the same episode clears
	if got := h.sink.states(); got != "raised@0 cleared@1" {
		t.Fatalf("after threshold change: %q", got)
	}
	h.run(higher, []step{at(2, 35.0)})
	co := with(gasRule, func(r *Rule) { r.Metric = "co_ppm"; r.Condition.Value, r.Clear = 200, nil })
	h.clock.Set(t0.Add(3 * time.Second))
	if err := h.e.Put(ctx, "gas", &co, nil); err != nil {
		t.Fatal(err)
	}
	if got := h.sink.states(); got != "raised@0 cleared@1 raised@2 cleared@3" {
		t.Fatalf("after metric change: %q", got)
	}
	if !strings.Contains(h.sink.alarms[3].Message, "rule was changed") {
		t.Fatalf("message = %q", h.sink.alarms[3].Message)
	}
	// Each clear says what cleared it; a new raise carries no old reason.
	for i, want := range []string{"", ClearValue, "", ClearRuleChanged} {
		if got := h.sink.alarms[i].ClearReason; got != want {
			t.Fatalf("alarm change %d (%s): clear reason %q, want %q", i, h.sink.alarms[i].State, got, want)
		}
	}
	bad := with(gasRule, func(r *Rule) { r.Condition.Op = "~" })
	if err := h.e.Put(ctx, "gas", &bad, nil); err == nil {
		t.Fatal("an invalid rule was put")
	}
}

// TestShadowBesideLive: a shadow version runs beside the live rule with
// its own alarm ids, marked shadow.
func TestShadowBesideLive(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil, gasRule)
	lower := with(gasRule, func(r *Rule) { r.Condition.Value, r.Clear = 12, &Condition{Op: "<", Value: 10}; r.Mode = ModeShadow })
	if err := h.e.Put(ctx, "gas", &gasRule, &lower); err != nil {
		t.Fatal(err)
	}
	h.run(gasRule, []step{at(0, 14.0), at(1, 25.0), at(2, 5.0)})
	if got := h.sink.states(); got != "shadow:raised@0 raised@1 shadow:peak@1 cleared@2 shadow:cleared@2" {
		t.Fatalf("alarms = %q", got)
	}
	if h.sink.alarms[0].ID == h.sink.alarms[1].ID || !strings.Contains(h.sink.alarms[0].ID, "~shadow") {
		t.Fatalf("ids %s %s", h.sink.alarms[0].ID, h.sink.alarms[1].ID)
	}
	if n := len(h.e.Rules()); n != 2 {
		t.Fatalf("%d rules in force, want live and shadow", n)
	}
}

// TestRestoreKeepsEpisode: active alarms reloaded after a restart are
// carried on, not raised again.
func TestRestoreKeepsEpisode(t *testing.T) {
	h := newHarness(t, nil, gasRule)
	h.run(gasRule, []step{at(0, 25.0)})
	active := h.e.Active()
	h2 := newHarness(t, nil, gasRule)
	h2.e.Restore(active)
	h2.run(gasRule, []step{at(5, 26.0), at(6, 10.0)})
	if got := h2.sink.states(); got != "peak@5 cleared@6" {
		t.Fatalf("after restore: %q", got)
	}
	if h2.sink.alarms[0].ID != active[0].ID {
		t.Fatalf("cleared %s, want %s", h2.sink.alarms[0].ID, active[0].ID)
	}
}

func TestRuleValidation(t *testing.T) {
	base := Rule{ID: "r", Kind: devices.KindGas, Metric: "lel_pct", Severity: Critical, Condition: Condition{Op: ">=", Value: 20}}
	tests := []struct {
		name  string
		edit  func(r *Rule)
		field string
	}{
		{"ok", func(r *Rule) {}, ""},
		{"bad id", func(r *Rule) { r.ID = "a b" }, "id"},
		{"bad kind", func(r *Rule) { r.Kind = "boiler" }, "kind"},
		{"metric of another kind", func(r *Rule) { r.Metric = "leak" }, "metric"},
		{"missing metric", func(r *Rule) { r.Metric = "" }, "metric"},
		{"missing op", func(r *Rule) { r.Condition.Op = "" }, "condition.op"},
		{"unknown op", func(r *Rule) { r.Condition.Op = "~" }, "condition.op"},
		{"value not number", func(r *Rule) { r.Condition.Value = "high" }, "condition.value"},
		{"value missing", func(r *Rule) { r.Condition.Value = nil }, "condition.value"},
		{"outside reversed", func(r *Rule) { r.Condition = Condition{Op: "outside", Low: 5, High: 1} }, "condition.low"},
		{"is on a number", func(r *Rule) { r.Condition = Condition{Op: "is", Value: true} }, "condition.op"},
		{"bad severity", func(r *Rule) { r.Severity = "urgent" }, "severity"},
		{"level contradicts severity", func(r *Rule) { r.Level = 3 }, "level"},
		{"bad mode", func(r *Rule) { r.Mode = "dry" }, "mode"},
		{"negative for", func(r *Rule) { r.For = -1 }, "for"},
		{"negative clear_for", func(r *Rule) { r.ClearFor = -1 }, "clear_for"},
		{"flap without window", func(r *Rule) { r.FlapCount = 3 }, "flap_window"},
		{"unknown event", func(r *Rule) { r.Metric = ""; r.Condition = Condition{Op: "event", Event: "explosion"} }, "condition.event"},
		{"clear same direction", func(r *Rule) { r.Clear = &Condition{Op: ">", Value: 15} }, "clear.op"},
		{"clear overlaps raise", func(r *Rule) { r.Clear = &Condition{Op: "<", Value: 25} }, "clear.value"},
		{"clear on low alarm overlaps", func(r *Rule) {
			r.Condition = Condition{Op: "<", Value: 10}
			r.Clear = &Condition{Op: ">", Value: 5}
		}, "clear.value"},
		{"clear good", func(r *Rule) { r.Clear = &Condition{Op: "<", Value: 15} }, ""},
		{"clear on a rate rule", func(r *Rule) {
			r.Condition = Condition{Op: "rate_above", PerMinute: 1}
			r.Clear = &Condition{Op: "<", Value: 15}
		}, "clear"},
		{"rate without per_minute", func(r *Rule) { r.Condition = Condition{Op: "rate_above"} }, "condition.per_minute"},
		{"trend without window", func(r *Rule) { r.Condition = Condition{Op: "trend_crosses", Value: 50, Horizon: dur("1h")} }, "condition.window"},
		{"trend without horizon", func(r *Rule) { r.Condition = Condition{Op: "trend_crosses", Value: 50, Window: dur("1h")} }, "condition.horizon"},
		{"trend bad direction", func(r *Rule) {
			r.Condition = Condition{Op: "trend_crosses", Value: 50, Window: dur("1h"), Horizon: dur("1h"), Direction: "up"}
		}, "condition.direction"},
		{"counter on a gauge", func(r *Rule) { r.Condition = Condition{Op: "counter_every", Every: 10} }, "condition.op"},
		{"counter every zero", func(r *Rule) {
			r.Kind, r.Metric, r.Condition = devices.KindElevator, "door_cycles", Condition{Op: "counter_every"}
		}, "condition.every"},
		{"stale with metric", func(r *Rule) { r.Condition = Condition{Op: "stale", After: dur("1m")} }, "metric"},
		{"stale without after", func(r *Rule) { r.Metric = ""; r.Condition = Condition{Op: "stale"} }, "condition.after"},
		{"nominal on is", func(r *Rule) { r.Condition.Op, r.Condition.Nominal = "==", 220 }, "condition.nominal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := base
			tc.edit(&r)
			err := r.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			fe, ok := err.(*FieldError)
			if !ok || fe.Field != tc.field {
				t.Fatalf("error = %v, want field %q", err, tc.field)
			}
		})
	}
}

func TestDefaultPackLoads(t *testing.T) {
	rs, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[devices.Kind]bool{}
	for _, r := range rs {
		kinds[r.Kind] = true
		if r.Rationale == "" {
			t.Errorf("rule %s has no rationale", r.ID)
		}
	}
	for _, k := range devices.Kinds() {
		if !kinds[k] {
			t.Errorf("no default rule for %s", k)
		}
	}
	if _, err := NewEngine(Config{Rules: rs}); err != nil {
		t.Fatal(err)
	}
}

func TestRangeValidation(t *testing.T) {
	r := with(gasRule, func(r *Rule) { r.Condition.Value = 120 })
	if fe, ok := r.Validate().(*FieldError); !ok || fe.Field != "condition.value" {
		t.Fatalf("120 %%LEL accepted: %v", r.Validate())
	}
	r = with(gasRule, func(r *Rule) { r.Clear = &Condition{Op: "<", Value: -1} })
	if fe, ok := r.Validate().(*FieldError); !ok || fe.Field != "clear.value" {
		t.Fatalf("-1 %%LEL clear accepted: %v", r.Validate())
	}
}

// An alarm told after the fact (its episode ended within the lateness
// bound) quotes the worst value of the episode, not the last harmless one.
func TestLateAlarmQuotesThePeak(t *testing.T) {
	h := newHarness(t, nil, gasRule)
	h.run(gasRule, []step{late(0, 25.0, 3590), late(5, 31.0, 3590), late(3590, 4.0, 10)})
	if got := h.sink.states(); got != "raised@0/3600 cleared@3590/3600" {
		t.Fatalf("alarms = %q", got)
	}
	if msg := h.sink.alarms[0].Message; !strings.Contains(msg, "= 31 ") {
		t.Fatalf("message = %q, want the peak 31", msg)
	}
}

// TestWorsePeakIsTold: an announced threshold alarm whose reading gets
// worse is updated with the new peak in its message, so its ticket says
// how bad it got; a better reading tells nothing.
func TestWorsePeakIsTold(t *testing.T) {
	h := newHarness(t, nil, gasRule)
	h.run(gasRule, []step{at(0, 22.9), at(1, 41.3), at(2, 30.0)})
	if got := h.sink.states(); got != "raised@0 peak@1" {
		t.Fatalf("alarms = %q", got)
	}
	up := h.sink.alarms[1]
	if up.Peak != 41.3 || !strings.Contains(up.Message, "41.3") || up.ID != h.sink.alarms[0].ID {
		t.Fatalf("update %+v: want the peak 41.3 in the message, same id", up)
	}
}

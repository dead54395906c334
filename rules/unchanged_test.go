package rules

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// stuckRule: a gas head whose lel_pct has not moved by more than tol for
// a minute.
func stuckRule(tol float64) Rule {
	return Rule{ID: "gas-stuck", Name: "Gas stuck", Kind: devices.KindGas, Metric: "lel_pct", Severity: Maintenance,
		Condition: Condition{Op: OpUnchanged, Tolerance: tol}, For: dur("60s")}
}

// TestUnchangedTimeline: unchanged raises once every reading of a run of
// its for-duration stayed within tolerance of the run's first value, a
// move beyond it restarts the run (and clears a raised alarm), and time
// without readings neither raises nor clears (that is stale's business).
func TestUnchangedTimeline(t *testing.T) {
	tests := []struct {
		name  string
		tol   float64
		steps []step
		want  string
	}{
		{"flat for the for-duration raises", 0, []step{at(0, 0.0), at(30, 0.0), at(60, 0.0)}, "raised@60"},
		{"flat for less does not", 0, []step{at(0, 0.0), at(30, 0.0), at(59, 0.0), tick(59)}, ""},
		{"tolerance 0 is exact: the smallest move restarts the run", 0,
			[]step{at(0, 0.0), at(30, 0.01), at(60, 0.01), at(89, 0.01), at(90, 0.01)}, "raised@90"},
		{"a move inside the tolerance keeps the run", 0.5,
			[]step{at(0, 1.0), at(20, 1.4), at(40, 0.6), at(60, 1.0)}, "raised@60"},
		{"the band is around the run's first value, so a slow creep restarts it", 0.5,
			[]step{at(0, 1.0), at(20, 1.4), at(40, 1.8), at(60, 1.8), at(99, 1.8), at(100, 1.8)}, "raised@100"},
		{"a move beyond the tolerance clears, and a new run starts at it", 0.5,
			[]step{at(0, 1.0), at(60, 1.0), at(70, 2.0), at(100, 2.0), at(130, 2.0)}, "raised@60 cleared@70 raised@130"},
		{"no readings: time alone raises nothing", 0,
			[]step{at(0, 0.0), at(30, 0.0), tick(60), tick(3600), tick(86400)}, ""},
		{"no readings: time alone clears nothing", 0,
			[]step{at(0, 0.0), at(60, 0.0), tick(120), tick(86400)}, "raised@60"},
		{"readings again after a silence: the flat value still counts", 0,
			[]step{at(0, 0.0), tick(3600), at(3600, 0.0)}, "raised@3600"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := stuckRule(tc.tol)
			h := newHarness(t, nil, r)
			h.run(r, tc.steps)
			if got := h.sink.states(); got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
}

// TestUnchangedAlarm: the alarm quotes the frozen value and how long it
// has not moved, and the episode starts at the run's first reading.
func TestUnchangedAlarm(t *testing.T) {
	r := stuckRule(0)
	h := newHarness(t, fakeDevices{"d1": {ID: "d1", Kind: devices.KindGas, Site: "s1", Building: "B1", Location: "B2 garage"}}, r)
	h.run(r, []step{at(0, 3.0), at(10, 0.0), at(40, 0.0), at(70, 0.0)})
	if len(h.sink.alarms) != 1 {
		t.Fatalf("alarms %+v", h.sink.alarms)
	}
	a := h.sink.alarms[0]
	want := "Gas stuck: B2 garage (d1) lel_pct = 0, unchanged (within 0) for 1m0s: a frozen sensor or a stuck head"
	if a.Message != want || a.Value != 0 || a.ID != AlarmID("gas-stuck", "d1", t0.Add(10*time.Second)) {
		t.Fatalf("alarm %q value %g id %s, want %q from +10s", a.Message, a.Value, a.ID, want)
	}
}

// TestUnchangedValidate: unchanged needs a positive for and a tolerance of
// 0 or more; the error names the field.
func TestUnchangedValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Rule)
		want string
	}{
		{"no for", func(r *Rule) { r.For = 0 }, "for: must be a positive duration for op unchanged (how long the value has not moved)"},
		{"negative for", func(r *Rule) { r.For = -dur("1s") }, "for: must not be negative"},
		{"negative tolerance", func(r *Rule) { r.Condition.Tolerance = -1 }, "condition.tolerance: -1 must be 0 or more (the band within which the value counts as unmoved)"},
		{"tolerance on another op", func(r *Rule) { r.Condition = Condition{Op: ">", Value: 5.0, Tolerance: 1} }, "condition.tolerance: applies to unchanged only"},
		{"a clear condition", func(r *Rule) { r.Clear = &Condition{Op: ">", Value: 1.0} }, "clear: an unchanged rule clears when its condition stops holding; it takes no clear condition"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := stuckRule(0.5)
			tc.edit(&r)
			if err := r.Validate(); err == nil || err.Error() != tc.want {
				t.Fatalf("%v, want %s", err, tc.want)
			}
		})
	}
	if err := stuckRule(0.5).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestBacktestUnchanged: a backtest of an unchanged rule finds the flat
// runs in the history, a wider tolerance (set) joins them, and the end of
// the period (time with no readings) raises nothing.
func TestBacktestUnchanged(t *testing.T) {
	reg := fakeDevices{"g1": {ID: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1"}}
	var pts []devices.Point
	for sec := 0; sec <= 480; sec += 60 {
		v := 0.0
		if sec >= 420 {
			v = 0.2
		}
		pts = append(pts, devices.Point{Time: t0.Add(time.Duration(sec) * time.Second), Metric: "lel_pct", Value: v})
	}
	r := stuckRule(0)
	r.For = dur("5m")
	bt := &Backtester{History: fakeHistory{"g1": pts}, Devices: reg}
	res, err := bt.Run(context.Background(), r, BacktestRequest{From: t0, To: t0.Add(time.Hour),
		Set: map[string]any{"condition.tolerance": 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	end := t0.Add(420 * time.Second)
	wantCur := []Episode{{"g1", t0.Add(300 * time.Second), &end, 0}}
	want := []Episode{{"g1", t0.Add(300 * time.Second), nil, 0.2}}
	if !sameEpisodes(res.CurrentEpisodes, wantCur) || !sameEpisodes(res.Episodes, want) {
		t.Fatalf("current %+v (want %+v), with tolerance 0.5 %+v (want %+v)", res.CurrentEpisodes, wantCur, res.Episodes, want)
	}
}

// TestDefaultPackStuckSensors: the pack's stuck-sensor rules raise on a
// gas head whose reading has not moved for a day (L3, L2 in boiler rooms
// and public kitchens), not on a live head's wiggle, not while the head
// reports its own fault, and not on a dry leak probe that says the same
// thing all day.
func TestDefaultPackStuckSensors(t *testing.T) {
	gas := devices.Device{ID: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1"}
	boiler := gas
	boiler.PlaceType = "boiler_room"
	leak := devices.Device{ID: "l1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1", PlaceType: "pump_room"}
	day := 24 * 3600
	// series reports every minute until end: lel and co from the funcs of
	// the minute, and fault.
	series := func(end int, lel, co func(int) float64, fault bool) []packSample {
		var out []packSample
		for s, i := 0, 0; s <= end; s, i = s+60, i+1 {
			out = append(out, packSample{s, map[string]any{"lel_pct": lel(i), "co_ppm": co(i), "fault": fault}})
		}
		return out
	}
	flat := func(v float64) func(int) float64 { return func(int) float64 { return v } }
	wiggle := func(v, by float64) func(int) float64 {
		return func(i int) float64 { return v + by*float64(i%2) }
	}
	tests := []struct {
		name    string
		dev     devices.Device
		samples []packSample
		want    string
	}{
		{"lel flat at 0 for a day", gas, series(day, flat(0), wiggle(2, 0.1), false), "gas-lel-stuck L3"},
		{"lel flat at 0 for 23h59m", gas, series(day-60, flat(0), wiggle(2, 0.1), false), ""},
		{"lel and co flat for a day", gas, series(day, flat(0), flat(2), false), "gas-co-stuck L3, gas-lel-stuck L3"},
		{"lel flat in a boiler room", boiler, series(day, flat(0), wiggle(2, 0.1), false), "gas-lel-stuck.plant L2"},
		{"co flat in a boiler room", boiler, series(day, wiggle(0, 0.01), flat(2), false), "gas-co-stuck.plant L2"},
		{"a live head wiggles by 0.01 %LEL", gas, series(day, wiggle(0.1, 0.01), wiggle(2, 0.1), false), ""},
		{"a faulted head reads 0: the fault rule says it", gas, series(day, flat(0), flat(0), true), "gas-detector-fault L2"},
		{"a dry leak probe all day", leak, every(600, day, map[string]any{"leak": false, "battery_pct": 80.0, "fault": false}), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(packRun(t, tc.dev, tc.samples, 0), ", ")
			if got != tc.want {
				t.Fatalf("raised [%s], want [%s]", got, tc.want)
			}
		})
	}
}

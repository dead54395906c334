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

// packRun feeds one device's values to an engine holding the default
// pack: each sample is (seconds after t0, metric values); the engine
// ticks every second up to the last sample plus tail seconds. It returns
// the raised alarms as "rule L<level>", sorted.
func packRun(t *testing.T, d devices.Device, samples []packSample, tail int) []string {
	t.Helper()
	pack, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, fakeDevices{d.ID: d}, pack...)
	ctx := context.Background()
	end := tail
	if n := len(samples); n > 0 {
		end += samples[n-1].at
	}
	i := 0
	for s := 0; s <= end; s++ {
		ts := t0.Add(time.Duration(s) * time.Second)
		h.clock.Set(ts)
		for i < len(samples) && samples[i].at == s {
			vals := map[string]devices.Value{}
			for k, v := range samples[i].values {
				vals[k] = value(v)
			}
			h.e.Reading(ctx, devices.Reading{Device: d.ID, Kind: d.Kind, Site: d.Site, Building: d.Building, Time: ts, Values: vals})
			i++
		}
		h.e.Tick(ctx, ts)
	}
	var got []string
	for _, a := range h.sink.alarms {
		if a.State == Raised {
			got = append(got, fmt.Sprintf("%s L%d", a.RuleID, a.Level))
		}
	}
	sort.Strings(got)
	return got
}

// ramp sends from, from+perSec, ... every second for secs seconds.
func ramp(metric string, from, perSec float64, secs int) []packSample {
	var out []packSample
	for s := 0; s <= secs; s++ {
		out = append(out, packSample{s, map[string]any{metric: from + perSec*float64(s)}})
	}
	return out
}

type packSample struct {
	at     int
	values map[string]any
}

// every repeats values every step seconds from 0 to until (inclusive).
func every(step, until int, values map[string]any) []packSample {
	var out []packSample
	for s := 0; s <= until; s += step {
		out = append(out, packSample{s, values})
	}
	return out
}

// TestDefaultPackSetPointEdges: each set point corrected to its standard,
// just below, at and just above the line (and for held rules, held past
// their for-duration).
func TestDefaultPackSetPointEdges(t *testing.T) {
	gas := devices.Device{ID: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1"}
	boiler := gas
	boiler.PlaceType = "boiler_room"
	kitchen := gas
	kitchen.PlaceType = "kitchen"
	flatGas := gas
	flatGas.PlaceType = "flat"
	pm := devices.Device{ID: "p1", Kind: devices.KindPower, Site: "s1", Building: "B1"}
	lift := devices.Device{ID: "e1", Kind: devices.KindElevator, Site: "s1", Building: "B1"}
	class := func(c string) devices.Device { d := lift; d.MachineClass = c; return d }
	leak := func(place, model string) devices.Device {
		return devices.Device{ID: "l1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1", PlaceType: place, Model: model}
	}
	num := func(metric string, v float64) map[string]any { return map[string]any{metric: v} }
	co := func(v float64) []packSample { return every(5, 65, num("co_ppm", v)) }
	volts := func(v float64) []packSample { return every(1, 6, num("voltage_v", v)) }
	// the lift runs throughout: the vibration rules look at running readings only
	vib := func(v float64) []packSample {
		return every(5, 65, map[string]any{"vibration_mm_s": v, "running": true, "door_zone": false})
	}
	lel := func(v float64) []packSample { return every(1, 2, num("lel_pct", v)) }
	wet := every(1, 11, map[string]any{"leak": true})
	once := func(metric string, v any) []packSample { return []packSample{{0, map[string]any{metric: v}}} }
	tests := []struct {
		name    string
		dev     devices.Device
		samples []packSample
		tail    int
		want    string
	}{
		// CO: GBZ 2.1-2019 PC-STEL 30 mg/m3 = 25.7 ppm; GB/T 50493-2019 <=100% / <=200%.
		{"co 24.9 ppm", gas, co(24.9), 0, ""},
		{"co 25 ppm for a minute", gas, co(25), 0, "gas-co-warning L2"},
		{"co 25 ppm for 55 s", gas, every(5, 55, num("co_ppm", 25)), 0, ""},
		{"co 49.9 ppm", gas, co(49.9), 0, "gas-co-warning L2"},
		{"co 50 ppm", gas, once("co_ppm", 50.0), 0, "gas-co-critical L1"},
		{"co 50.1 ppm", gas, once("co_ppm", 50.1), 0, "gas-co-critical L1"},
		// Voltage: GB/T 12325-2008 4.3, 220 V +7% (235.4 V) / -10% (198 V).
		{"voltage 235.3 V", pm, volts(235.3), 0, ""},
		{"voltage 235.5 V", pm, volts(235.5), 0, "power-voltage L2"},
		{"voltage 240 V (inside the old +10%)", pm, volts(240), 0, "power-voltage L2"},
		{"voltage 198.1 V", pm, volts(198.1), 0, ""},
		{"voltage 197.9 V", pm, volts(197.9), 0, "power-voltage L2"},
		// Vibration: ISO 10816-1 table B.1 zone C/D per machine class.
		{"class I 4.4 mm/s", class("I"), vib(4.4), 0, ""},
		{"class I 4.5 mm/s", class("I"), vib(4.5), 0, "elevator-vibration-high L2"},
		{"no class 4.6 mm/s", lift, vib(4.6), 0, "elevator-vibration-high L2"},
		{"class II 4.6 mm/s", class("II"), vib(4.6), 0, ""},
		{"class II 7.0 mm/s", class("II"), vib(7.0), 0, ""},
		{"class II 7.1 mm/s", class("II"), vib(7.1), 0, "elevator-vibration-high.class-ii L2"},
		{"class III 11.1 mm/s", class("III"), vib(11.1), 0, ""},
		{"class III 11.2 mm/s", class("III"), vib(11.2), 0, "elevator-vibration-high.class-iii L2"},
		{"class IV 17.9 mm/s", class("IV"), vib(17.9), 0, ""},
		{"class IV 18 mm/s", class("IV"), vib(18), 0, "elevator-vibration-high.class-iv L2"},
		// Gas detector offline: GB 16808-2008 4.1.4, a fault shown within 100 s.
		{"gas silent 89 s", gas, once("lel_pct", 0.0), 89, ""},
		{"gas silent 90 s", gas, once("lel_pct", 0.0), 90, "gas-offline L2"},
		// Leak probe offline: by model (poll interval) and place.
		{"battery probe silent 1h59m", leak("", ""), once("leak", false), 7140, ""},
		{"battery probe silent 2h", leak("", ""), once("leak", false), 7200, "water-leak-offline L3"},
		{"battery pump-room probe silent 2h", leak("pump_room", ""), once("leak", false), 7200, "water-leak-offline.plant L2"},
		{"polled probe silent 119 s", leak("", "aquasense-lp1"), once("leak", false), 119, ""},
		{"polled probe silent 2m", leak("flat", "aquasense-lp1"), once("leak", false), 120, "water-leak-offline.polled L3"},
		{"polled pump-room probe silent 2m", leak("pump_room", "aquasense-lp1"), once("leak", false), 120, "water-leak-offline.polled-plant L2"},
		// Leak level by place type.
		{"wet in a pump room", leak("pump_room", ""), wet, 0, "water-leak L1"},
		{"wet in a switch room", leak("switch_room", ""), wet, 0, "water-leak L1"},
		{"wet in a lift pit", leak("lift_pit", ""), wet, 0, "water-leak L1"},
		{"wet in a riser", leak("riser", ""), wet, 0, "water-leak L1"},
		{"wet, place not given", leak("", ""), wet, 0, "water-leak L1"},
		{"wet in a flat", leak("flat", ""), wet, 0, "water-leak.flat L2"},
		// Per-phase power rules.
		{"residual 299 mA", pm, every(1, 11, num("residual_ma", 299)), 0, ""},
		{"residual 300 mA for 10 s", pm, every(1, 11, num("residual_ma", 300)), 0, "power-residual-current L2"},
		{"residual 300 mA for 9 s", pm, every(1, 9, num("residual_ma", 300)), 0, ""},
		{"pf 0.90 for an hour", pm, every(60, 3660, num("power_factor", 0.90)), 0, ""},
		{"pf 0.899 for an hour", pm, every(60, 3660, num("power_factor", 0.899)), 0, "power-factor-low L3"},
		{"pf 0.849 for an hour", pm, every(60, 3660, num("power_factor", 0.849)), 0, "power-factor-low L3, power-factor-penalty L3"},
		{"pf 0.80 for 50 minutes", pm, every(60, 3000, num("power_factor", 0.80)), 0, ""},
		{"unbalance 2% for 10 min", pm, every(30, 630, num("voltage_unbalance_pct", 2)), 0, ""},
		{"unbalance 2.1% for 10 min", pm, every(30, 630, num("voltage_unbalance_pct", 2.1)), 0, "power-voltage-unbalance-sustained L3"},
		{"unbalance 4% for a minute", pm, every(5, 65, num("voltage_unbalance_pct", 4)), 0, ""},
		{"unbalance 4.1% for a minute", pm, every(5, 65, num("voltage_unbalance_pct", 4.1)), 0, "power-voltage-unbalance L2"},
		{"unbalance 14.9% (2 s)", pm, every(1, 3, num("voltage_unbalance_pct", 14.9)), 0, ""},
		{"unbalance 15% (2 s): phase lost", pm, every(1, 3, num("voltage_unbalance_pct", 15)), 0, "power-phase-loss L1"},
		{"l2 259.5 V", pm, every(1, 3, num("l2_v", 259.5)), 0, ""},
		{"l2 259.7 V: neutral lost", pm, every(1, 3, num("l2_v", 259.7)), 0, "power-neutral-loss-l2 L1"},
		{"l1 300 V: neutral lost", pm, every(1, 3, num("l1_v", 300)), 0, "power-neutral-loss-l1 L1"},
		{"l3 0 V (outage or lost phase: not a neutral loss)", pm, every(1, 3, num("l3_v", 0)), 0, ""},
		// Rules the existing ops express (#16.3).
		{"lel rising 9 %LEL/min for 12 s", gas, ramp("lel_pct", 0, 9.0/60, 12), 0, ""},
		{"lel rising 11 %LEL/min for 12 s", gas, ramp("lel_pct", 0, 11.0/60, 12), 0, "gas-lel-rising L2"},
		{"lel rising 11 %LEL/min for 9 s", gas, ramp("lel_pct", 0, 11.0/60, 9), 0, ""},
		{"lel at 0 for 10 min", gas, every(30, 630, num("lel_pct", 0)), 0, ""},
		{"lel at -0.2 for 10 min", gas, every(30, 630, num("lel_pct", -0.2)), 0, "gas-lel-zero-drift L3"},
		{"lel at -0.2 for 9 min", gas, every(30, 540, num("lel_pct", -0.2)), 0, ""},
		{"co at -3 for 10 min", gas, every(30, 630, num("co_ppm", -3)), 0, ""},
		{"co at -3.1 for 10 min", gas, every(30, 630, num("co_ppm", -3.1)), 0, "gas-co-zero-drift L3"},
		{"doors open 2m55s", lift, every(5, 175, map[string]any{"door_open": true}), 0, ""},
		{"doors open 3m", lift, every(5, 180, map[string]any{"door_open": true}), 0, "elevator-door-held-open L3"},
		{"probe fault 29 s", leak("pump_room", ""), every(1, 29, map[string]any{"fault": true}), 0, ""},
		{"probe fault 30 s", leak("pump_room", ""), every(1, 30, map[string]any{"fault": true}), 0, "water-leak-probe-fault L2"},
		// Gas pre-alarm: L1 in boiler rooms and public kitchens.
		{"lel 9.9 in a boiler room", boiler, lel(9.9), 0, ""},
		{"lel 10 in a boiler room", boiler, lel(10), 0, "gas-lel-warning.plant L1"},
		{"lel 10 in a public kitchen", kitchen, lel(10), 0, "gas-lel-warning.plant L1"},
		{"lel 10 in a flat", flatGas, lel(10), 0, "gas-lel-warning L2"},
		{"lel 10, place not given", gas, lel(10), 0, "gas-lel-warning L2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(packRun(t, tc.dev, tc.samples, tc.tail), ", ")
			if got != tc.want {
				t.Fatalf("raised [%s], want [%s]", got, tc.want)
			}
		})
	}
}

package firmwaresim

import (
	"reflect"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

type vals = map[string]devices.Value

var (
	num  = devices.Num
	flag = devices.FlagValue
)

// demo returns the demo estate's device with that id.
func demo(t *testing.T, id string) devices.Device {
	t.Helper()
	for _, d := range DemoEstate() {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("no demo device %s", id)
	return devices.Device{}
}

// TestSignalsPinned: seed 42 gives exactly these first readings. A change
// here changes every seeded run, demo and benchmark: do it on purpose.
func TestSignalsPinned(t *testing.T) {
	want := map[string]vals{
		"gas-b2-01":  {"co_ppm": num(1.5), "fault": flag(false), "lel_pct": num(0.07)},
		"leak-b1-01": {"battery_pct": num(92.9), "leak": flag(false), "fault": flag(false)},
		"pm-b1-01": {"current_a": num(67), "energy_kwh": num(18093.2), "frequency_hz": num(49.98),
			"power_factor": num(0.955), "power_kw": num(24.35), "voltage_v": num(219.6),
			"l1_v": num(219), "l2_v": num(221.2), "l3_v": num(218.5), "l1_a": num(72.7), "l2_a": num(65.5), "l3_a": num(62.8),
			"residual_ma": num(23), "voltage_unbalance_pct": num(0.38)},
		"elev-e1": {"car_floor": num(1), "door_cycles": num(21661), "door_open": flag(false),
			"motor_temp_c": num(34.9), "running": flag(false), "vibration_mm_s": num(0.15),
			"door_zone": flag(true), "overload": flag(false), "load_fault": flag(false), "inspection": flag(false),
			"machine_room_temp_c": num(30)},
	}
	for id, w := range want {
		if got := NewDevice(demo(t, id), Scenario{}, 42).Sample(0); !reflect.DeepEqual(got, w) {
			t.Errorf("%s at +0 = %v, want %v", id, got, w)
		}
	}
}

func TestSameSeedSameSignal(t *testing.T) {
	for _, d := range DemoEstate() {
		a := NewDevice(d, DemoScenario(), 7)
		b := NewDevice(d, DemoScenario(), 7)
		c := NewDevice(d, DemoScenario(), 8)
		differs := false
		for s := 0; s < 20; s++ {
			el := time.Duration(s) * 5 * time.Second
			va, vb, vc := a.Sample(el), b.Sample(el), c.Sample(el)
			if !reflect.DeepEqual(va, vb) {
				t.Fatalf("%s: same seed, different values at %s: %v vs %v", d.ID, el, va, vb)
			}
			differs = differs || !reflect.DeepEqual(va, vc)
		}
		if !differs {
			t.Errorf("%s: another seed gave the very same signal", d.ID)
		}
	}
}

// TestElevatorTrips: an hour of E1 sampled every second. The car makes
// trips between floors, every stop opens the doors once and door_cycles
// counts exactly those openings.
func TestElevatorTrips(t *testing.T) {
	e := NewDevice(demo(t, "elev-e1"), Scenario{}, 42)
	var trips, openings int
	var prev vals
	first := e.Sample(0)
	for s := 1; s <= 3600; s++ {
		v := e.Sample(time.Duration(s) * time.Second)
		if f := v["car_floor"].Number; f < 1 || f > elevFloors {
			t.Fatalf("+%ds: car at floor %g", s, f)
		}
		if v["running"].Flag && v["door_open"].Flag {
			t.Fatalf("+%ds: running with the doors open", s)
		}
		if prev != nil {
			if v["door_cycles"].Number < prev["door_cycles"].Number {
				t.Fatalf("+%ds: door_cycles went down", s)
			}
			if v["running"].Flag && !prev["running"].Flag {
				trips++
			}
			if v["door_open"].Flag && !prev["door_open"].Flag {
				openings++
			}
			if !prev["running"].Flag && !v["running"].Flag && v["car_floor"] != prev["car_floor"] {
				t.Fatalf("+%ds: the car changed floor while standing", s)
			}
		}
		prev = v
	}
	cycles := prev["door_cycles"].Number - first["door_cycles"].Number
	if trips != 101 || openings != 101 || cycles != 101 {
		t.Errorf("in an hour: %d trips, %d door openings, door_cycles +%g; want 101 each", trips, openings, cycles)
	}
}

// TestBearingWear: E1 with its bearing wearing out over 2h against the
// same car healthy. The motor runs hotter and vibrates more when running.
func TestBearingWear(t *testing.T) {
	sc, err := BuiltinScenario("bearing-wear")
	if err != nil {
		t.Fatal(err)
	}
	d := demo(t, "elev-e1")
	worn, healthy := NewDevice(d, sc, 42), NewDevice(d, Scenario{}, 42)
	var wornTemp, healthyTemp, wornVib float64
	var n, running int
	for s := 0; s <= 3*3600; s += 5 {
		el := time.Duration(s) * time.Second
		w, h := worn.Sample(el), healthy.Sample(el)
		if s == 0 && !reflect.DeepEqual(w, h) {
			t.Fatalf("differ before any wear: %v vs %v", w, h)
		}
		if s >= 150*60 { // the last half hour, wear at 100%
			wornTemp += w["motor_temp_c"].Number
			healthyTemp += h["motor_temp_c"].Number
			n++
			if w["running"].Flag {
				wornVib += w["vibration_mm_s"].Number
				running++
			}
		}
	}
	wornTemp, healthyTemp, wornVib = wornTemp/float64(n), healthyTemp/float64(n), wornVib/float64(running)
	if d := wornTemp - healthyTemp; d < 25 || d > 31 {
		t.Errorf("worn motor %.1f °C vs healthy %.1f °C: want about 30 °C hotter", wornTemp, healthyTemp)
	}
	if wornVib < 8.5 || wornVib > 10 {
		t.Errorf("worn bearing vibrates %.2f mm/s running, want about 9.2", wornVib)
	}
	if got := worn.Sample(3 * time.Hour)["motor_temp_c"].Number; got != 63.3 {
		t.Errorf("worn motor at +3h = %g °C, want 63.3 (seed 42)", got)
	}
}

// TestPowerDailyCurve: a day of pm-b1-01 every minute. The load peaks in
// the afternoon and is lowest before dawn; the energy counter only grows.
func TestPowerDailyCurve(t *testing.T) {
	p := NewDevice(demo(t, "pm-b1-01"), Scenario{}, 42)
	var afternoon, night float64
	var energy float64
	for m := 0; m <= 24*60; m++ {
		v := p.Sample(time.Duration(m) * time.Minute)
		hour := (m/60 + startHour) % 24
		switch {
		case hour >= 13 && hour < 17:
			afternoon += v["power_kw"].Number / 240
		case hour >= 1 && hour < 5:
			night += v["power_kw"].Number / 240
		}
		if e := v["energy_kwh"].Number; e < energy {
			t.Fatalf("+%dm: energy went down %g -> %g", m, energy, e)
		} else {
			energy = e
		}
		if vv := v["voltage_v"].Number; vv < 214 || vv > 226 {
			t.Fatalf("+%dm: voltage %g outside 220 ± 6", m, vv)
		}
	}
	if afternoon < 5*night {
		t.Errorf("afternoon load %.1f kW, night %.1f kW: want a clear daily curve", afternoon, night)
	}
	if round(afternoon, 1) != 56.4 || round(night, 1) != 6.9 {
		t.Errorf("afternoon %.1f kW, night %.1f kW; want 56.4 and 6.9 (seed 42)", afternoon, night)
	}
}

// TestOutageScenario: the shipped outage.yaml on pm-b4-01: a sag to 185 V,
// then 90 s of nothing, with the outage event at both ends.
func TestOutageScenario(t *testing.T) {
	sc, err := BuiltinScenario("outage")
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.Validate(DemoEstate()); err != nil {
		t.Fatal(err)
	}
	p := NewDevice(demo(t, "pm-b4-01"), sc, 42)
	var outageEnergy float64
	for s := 0; s <= 180; s++ {
		el := time.Duration(s) * time.Second
		v := p.Sample(el)
		volts := v["voltage_v"].Number
		switch {
		case s >= 20 && s < 40:
			if volts < 183 || volts > 187 {
				t.Fatalf("+%ds in the sag: %g V", s, volts)
			}
		case s >= 60 && s < 150:
			if volts != 0 || v["power_kw"].Number != 0 || v["current_a"].Number != 0 {
				t.Fatalf("+%ds in the outage: %v", s, v)
			}
			if s == 60 {
				outageEnergy = v["energy_kwh"].Number
			} else if v["energy_kwh"].Number != outageEnergy {
				t.Fatalf("+%ds: energy counted during the outage", s)
			}
		default:
			if volts < 214 {
				t.Fatalf("+%ds outside the faults: %g V", s, volts)
			}
		}
	}
	evs := sc.eventsAt("pm-b4-01", 0, 10*time.Minute)
	want := []eventChange{{"outage", true}, {"outage", false}}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("events = %v, want %v", evs, want)
	}
	if evs := sc.eventsAt("pm-b4-01", 59*time.Second, 61*time.Second); len(evs) != 1 || !evs[0].active {
		t.Errorf("outage start not at +60s: %v", evs)
	}
	if evs := sc.eventsAt("pm-b4-01", 149*time.Second, 151*time.Second); len(evs) != 1 || evs[0].active {
		t.Errorf("outage end not at +150s: %v", evs)
	}
}

// TestGasDetector: near zero, a zero point that drifts up over weeks, and
// the fault flag of gas-leak.yaml on the B3 head.
func TestGasDetector(t *testing.T) {
	g := NewDevice(demo(t, "gas-b2-01"), Scenario{}, 42)
	mean := func(from time.Duration) float64 {
		sum := 0.0
		for i := range 100 {
			sum += g.Sample(from + time.Duration(i)*time.Minute)["lel_pct"].Number
		}
		return sum / 100
	}
	day0, day30 := mean(0), mean(30*24*time.Hour)
	if day0 > 0.5 {
		t.Errorf("a fresh detector reads %.2f %%LEL on average, want near zero", day0)
	}
	if day30-day0 < 2 {
		t.Errorf("after 30 days the zero moved %.2f %%LEL, want a visible drift", day30-day0)
	}
	if round(day30, 2) != 9.15 {
		t.Errorf("day 30 mean %.2f, want 9.15 (seed 42)", day30)
	}

	sc, _ := BuiltinScenario("gas-leak")
	b3 := NewDevice(demo(t, "gas-b3-01"), sc, 42)
	for _, tc := range []struct {
		at    time.Duration
		fault bool
	}{{59 * time.Second, false}, {time.Minute, true}, {2*time.Minute + 59*time.Second, true}, {3 * time.Minute, false}} {
		v := b3.Sample(tc.at)
		if v["fault"].Flag != tc.fault || (tc.fault && v["lel_pct"].Number != 0) {
			t.Errorf("gas-b3-01 at +%s: %v, want fault %v", tc.at, v, tc.fault)
		}
	}
	b2 := NewDevice(demo(t, "gas-b2-01"), sc, 42)
	var got []float64
	// Ramp from +30s over 20s to 35, held 5 minutes: over at +350s.
	for _, at := range []time.Duration{29, 30, 40, 50, 60, 349, 350, 360} {
		got = append(got, b2.Sample(at * time.Second)["lel_pct"].Number)
	}
	want := []float64{0.07, 0, 17.63, 35, 35, 35, 0, 0} // seed 42: the noise is exact too
	if got[0] > 1 || got[1] > 1 || got[6] > 1 || got[7] > 1 || !reflect.DeepEqual(got[2:6], want[2:6]) {
		t.Errorf("gas-b2-01 ramp = %v, want %v", got, want)
	}
}

// TestGasStuck: stuck-sensor.yaml hangs the B3 head's LEL channel at
// +5m: from then on every reading is the value it read then, with no
// fault flag, while CO keeps its noise; before, the LEL moves.
func TestGasStuck(t *testing.T) {
	sc, _ := BuiltinScenario("stuck-sensor")
	b3 := NewDevice(demo(t, "gas-b3-01"), sc, 42)
	before := map[float64]bool{}
	for s := 0; s < 300; s += 5 {
		before[b3.Sample(time.Duration(s) * time.Second)["lel_pct"].Number] = true
	}
	if len(before) < 2 {
		t.Fatalf("before the fault the LEL does not move: %v", before)
	}
	frozen := b3.Sample(5 * time.Minute)
	lels, cos := map[float64]bool{}, map[float64]bool{}
	for el := 5 * time.Minute; el <= 48*time.Hour; el += 7 * time.Minute {
		v := b3.Sample(el)
		lels[v["lel_pct"].Number], cos[v["co_ppm"].Number] = true, true
		if v["fault"].Flag {
			t.Fatalf("+%s: a stuck head raises no fault flag", el)
		}
	}
	if len(lels) != 1 || !lels[frozen["lel_pct"].Number] {
		t.Errorf("stuck LEL read %v, want only %g", lels, frozen["lel_pct"].Number)
	}
	if len(cos) < 2 {
		t.Errorf("CO froze too: %v", cos)
	}
}

// TestLeakProbeBattery: dry, battery draining day by day.
func TestLeakProbeBattery(t *testing.T) {
	l := NewDevice(demo(t, "leak-b1-01"), Scenario{}, 42)
	prev := 101.0
	for day := 0; day <= 60; day++ {
		v := l.Sample(time.Duration(day) * 24 * time.Hour)
		if v["leak"].Flag {
			t.Fatalf("day %d: wet without a scenario", day)
		}
		b := v["battery_pct"].Number
		if b > prev {
			t.Fatalf("day %d: battery rose %g -> %g", day, prev, b)
		}
		prev = b
		if day == 30 && b != 90.5 {
			t.Errorf("day 30: battery %g%%, want 90.5 (seed 42)", b)
		}
	}
}

// TestBuiltinScenarios: every shipped scenario loads and fits the demo
// estate; demo.yaml is DemoScenario.
func TestBuiltinScenarios(t *testing.T) {
	names := BuiltinScenarios()
	if want := []string{"bearing-wear", "building-outage", "demo", "estate-incidents", "flood", "gas-leak", "outage", "overcurrent", "power-faults", "safety-gear", "stopped-between-floors", "stuck-sensor"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("built-in scenarios = %v, want %v", names, want)
	}
	for _, n := range names {
		sc, err := LoadScenario(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := sc.Validate(DemoEstate()); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	d, _ := BuiltinScenario("demo")
	if !reflect.DeepEqual(d, DemoScenario()) {
		t.Errorf("scenarios/demo.yaml = %+v\nDemoScenario() = %+v", d, DemoScenario())
	}
	if _, err := LoadScenario("no-such"); err == nil {
		t.Error("an unknown scenario name loaded")
	}
	if _, err := ParseScenario([]byte("steps:\n  - {at: 1s, device: x, metrc: lel_pct}\n"), "typo"); err == nil {
		t.Error("an unknown key was accepted")
	}
}

// TestElevatorDoorZoneAndStall: at rest the car is in a landing's door
// zone, while moving it is mostly outside it, and never opens its doors
// outside it; a stall stops it between floors (not running, outside the
// zone, doors shut) for the step's hold, then it carries on.
func TestElevatorDoorZoneAndStall(t *testing.T) {
	sc := Scenario{Steps: []Step{{At: devices.Duration(time.Hour), Device: "elev-e1", Fault: "stall", Hold: devices.Duration(10 * time.Minute)}}}
	if err := sc.Validate(DemoEstate()); err != nil {
		t.Fatal(err)
	}
	d := NewDevice(demo(t, "elev-e1"), sc, 7)
	var movingOut, moving, stalled, after int
	for el := time.Duration(0); el < 2*time.Hour; el += time.Second {
		v := d.Sample(el)
		run, open, zone := v["running"].Flag, v["door_open"].Flag, v["door_zone"].Flag
		if open && !zone {
			t.Fatalf("+%s: doors open outside the door zone", el)
		}
		inStall := el >= time.Hour && el < time.Hour+10*time.Minute
		switch {
		case inStall:
			if run || open || zone {
				t.Fatalf("+%s stalled: running %v, door_open %v, door_zone %v", el, run, open, zone)
			}
			stalled++
		case run:
			moving++
			if !zone {
				movingOut++
			}
			if el > time.Hour {
				after++
			}
		case !zone:
			t.Fatalf("+%s: at rest outside the door zone", el)
		}
	}
	if moving == 0 || movingOut*2 < moving || stalled != 600 || after == 0 {
		t.Fatalf("moving %d (outside the zone %d), stalled %d, moving after the stall %d", moving, movingOut, stalled, after)
	}
}

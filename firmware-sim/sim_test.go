package firmwaresim

import (
	"testing"
	"time"
)

func TestDemoScenarioShape(t *testing.T) {
	estate := DemoEstate()
	sc := DemoScenario()
	if err := sc.Validate(estate); err != nil {
		t.Fatal(err)
	}
	gas := NewDevice(estate[0], sc, 1) // gas-b2-01
	tests := []struct {
		at       time.Duration
		min, max float64
	}{
		{10 * time.Second, 0, 2},   // before the fault: near zero
		{25 * time.Second, 17, 19}, // halfway up the ramp to 35
		{35 * time.Second, 35, 35}, // at the top
		{3 * time.Minute, 35, 35},  // held
		{4 * time.Minute, 0, 2},    // over
	}
	for _, tc := range tests {
		v := gas.Sample(tc.at)["lel_pct"].Number
		if v < tc.min || v > tc.max {
			t.Errorf("lel_pct at %s = %g, want %g..%g", tc.at, v, tc.min, tc.max)
		}
	}
	leak := NewDevice(estate[2], sc, 1)
	if leak.Sample(39 * time.Second)["leak"].Flag || !leak.Sample(41 * time.Second)["leak"].Flag {
		t.Error("leak probe does not get wet at +40s")
	}
	evs := sc.eventsAt("elev-e3", 70*time.Second, 80*time.Second)
	if len(evs) != 1 || evs[0] != (eventChange{"entrapment", true}) {
		t.Errorf("entrapment events = %v", evs)
	}
	if evs := sc.eventsAt("elev-e3", 6*time.Minute+14*time.Second, 6*time.Minute+16*time.Second); len(evs) != 1 || evs[0].active {
		t.Errorf("entrapment end = %v", evs)
	}
}

func TestScenarioValidation(t *testing.T) {
	estate := DemoEstate()
	bad := []Step{
		{Device: "nope", Metric: "lel_pct", To: 1},
		{Device: "gas-b2-01", Metric: "leak", To: true},
		{Device: "gas-b2-01", Metric: "lel_pct", To: "lots"},
		{Device: "leak-b1-01", Metric: "leak", To: 3},
		{Device: "gas-b2-01", Event: "entrapment"},
		{Device: "gas-b2-01"},
	}
	for _, st := range bad {
		if err := (Scenario{Steps: []Step{st}}).Validate(estate); err == nil {
			t.Errorf("step %+v accepted", st)
		}
	}
}

func TestGenerateEstate(t *testing.T) {
	e := GenerateEstate(1000)
	ids := map[string]bool{}
	kinds := map[string]int{}
	for _, d := range e {
		if ids[d.ID] {
			t.Fatalf("duplicate id %s", d.ID)
		}
		ids[d.ID] = true
		kinds[string(d.Kind)]++
	}
	if len(kinds) != 4 || kinds["gas"] != 250 {
		t.Fatalf("kinds = %v", kinds)
	}
}

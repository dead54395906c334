package rules

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// TestStateOnlyForRulesOfTheDevicesKind: with the default pack and
// devices of every kind, a device gets rule state only for rules of its
// own kind, whatever reaches the engine (readings, ticks that take in the
// roster and raise stale and calendar rules, services recorded and
// restored against a rule of another kind); a threshold rule that never
// held keeps no episode and no alarm, only a slot; one that holds gets
// both.
func TestStateOnlyForRulesOfTheDevicesKind(t *testing.T) {
	pack, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	reg := fakeDevices{}
	perKind := map[devices.Kind]int{}
	kinds := devices.Kinds()
	first := map[devices.Kind]string{} // the first device of each kind
	for i := range 40 {
		k := kinds[i%len(kinds)]
		id := fmt.Sprintf("%s-%02d", k, i)
		reg[id] = devices.Device{ID: id, Kind: k, Site: "s1", Building: fmt.Sprintf("B%d", i%3)}
		perKind[k]++
		if first[k] == "" {
			first[k] = id
		}
	}
	clk := testkit.NewFakeClock(t0)
	e, err := NewEngine(Config{Rules: pack, Devices: reg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e.Tick(ctx, t0)
	// services recorded and restored against rules of another kind
	if _, _, err := e.RecordService(ctx, "gas-calibration-due", first[devices.KindElevator], t0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.RecordService(ctx, "elevator-door-service", first[devices.KindGas], t0); err != nil {
		t.Fatal(err)
	}
	e.RestoreService("elevator-door-service", first[devices.KindPower], 1000)
	e.RestoreServiceAt("elevator-maintenance-overdue", first[devices.KindWaterLeak], t0)
	e.RestoreServiceAt("gas-calibration-due", first[devices.KindPower], t0)
	for s := 1; s <= 3; s++ {
		at := t0.Add(time.Duration(s) * time.Second)
		clk.Set(at)
		for id, d := range reg {
			e.Reading(ctx, devices.Reading{Device: id, Kind: d.Kind, Site: d.Site, Building: d.Building, Time: at, Values: normal(d.Kind)})
		}
		e.Tick(ctx, at)
	}
	kindOf := map[string]devices.Kind{}
	for _, r := range pack {
		kindOf[ruleKey(r.ID, r.Mode == ModeShadow)] = r.Kind
	}
	st := e.Stats()
	if len(st.Rules) == 0 {
		t.Fatal("Stats names no rule")
	}
	for key, rs := range st.Rules {
		if max := perKind[kindOf[key]]; rs.Slots > max {
			t.Errorf("rule %s (%s) keeps state on %d devices; only %d are of its kind", key, kindOf[key], rs.Slots, max)
		}
	}
	for key, want := range map[string]int{"gas-calibration-due": perKind[devices.KindGas],
		"elevator-door-service": perKind[devices.KindElevator], "elevator-maintenance-overdue": perKind[devices.KindElevator]} {
		if got := st.Rules[key].Slots; got != want {
			t.Errorf("rule %s: state on %d devices, want %d (one per device of its kind)", key, got, want)
		}
	}
	quiet := st.Rules["gas-lel-critical"]
	if quiet.Slots != perKind[devices.KindGas] || quiet.Episodes != 0 || quiet.Alarms != 0 {
		t.Errorf("gas-lel-critical after quiet readings: %+v, want a slot on each of the %d gas detectors and no episode nor alarm",
			quiet, perKind[devices.KindGas])
	}

	at := t0.Add(4 * time.Second)
	clk.Set(at)
	g := reg[first[devices.KindGas]]
	e.Reading(ctx, devices.Reading{Device: g.ID, Kind: g.Kind, Site: g.Site, Building: g.Building, Time: at,
		Values: map[string]devices.Value{"lel_pct": devices.Num(35)}})
	hot := e.Stats().Rules["gas-lel-critical"]
	if hot.Episodes != 1 || hot.Alarms != 1 || hot.Slots != perKind[devices.KindGas] {
		t.Errorf("gas-lel-critical after one detector crossed it: %+v, want 1 episode with 1 alarm", hot)
	}
}

// TestRestRuleIgnoresOlderValues: a threshold rule at rest keeps only the
// event time of its newest value, and that is enough for an older value
// arriving later to decide nothing, as it decides nothing for a rule with
// an episode.
func TestRestRuleIgnoresOlderValues(t *testing.T) {
	sink := &recordingSink{}
	e, err := NewEngine(Config{Rules: []Rule{{ID: "hot", Kind: devices.KindGas, Metric: "lel_pct",
		Condition: Condition{Op: OpAtLeast, Value: 20}, Severity: Critical}}, Sink: sink, Now: func() time.Time { return t0.Add(time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	read := func(sec int, v float64) {
		e.Reading(ctx, devices.Reading{Device: "g1", Kind: devices.KindGas, Site: "s1", Time: t0.Add(time.Duration(sec) * time.Second),
			Values: map[string]devices.Value{"lel_pct": devices.Num(v)}})
	}
	read(10, 5)
	if s := e.Stats().Rules["hot"]; s.Slots != 1 || s.Episodes != 0 {
		t.Fatalf("after a quiet value: %+v, want a slot at rest", s)
	}
	read(5, 30) // older than what the rule saw
	if got := sink.states(); got != "" {
		t.Fatalf("an older value raised: %s", got)
	}
	read(11, 30)
	if got := sink.states(); got != "raised@11" {
		t.Fatalf("got %q, want raised@11", got)
	}
}

// TestPlansShareTheirFacts: the plans of devices with the same facts
// (place, location, nominal values, ratings) point to one copy of them,
// and the devices heard from to one copy of each place; a device with
// facts of its own gets its own, and keeps its own values.
func TestPlansShareTheirFacts(t *testing.T) {
	pack, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	reg := fakeDevices{}
	for i := range 24 {
		id := fmt.Sprintf("gas-%02d", i)
		reg[id] = devices.Device{ID: id, Kind: devices.KindGas, Site: "s1", Building: fmt.Sprintf("B%d", i%3)}
	}
	reg["gas-own"] = devices.Device{ID: "gas-own", Kind: devices.KindGas, Site: "s1", Building: "B0", Location: "boiler room",
		Nominal: map[string]float64{"lel_pct": 1}}
	reg["pm-1"] = devices.Device{ID: "pm-1", Kind: devices.KindPower, Site: "s1", Building: "B0", BreakerA: 63}
	reg["pm-2"] = devices.Device{ID: "pm-2", Kind: devices.KindPower, Site: "s1", Building: "B0", BreakerA: 63}
	reg["pm-3"] = devices.Device{ID: "pm-3", Kind: devices.KindPower, Site: "s1", Building: "B0", BreakerA: 100}
	clk := testkit.NewFakeClock(t0)
	e, err := NewEngine(Config{Rules: pack, Devices: reg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e.Tick(ctx, t0)
	for id, d := range reg {
		e.Reading(ctx, devices.Reading{Device: strings.Clone(id), Kind: d.Kind, Site: d.Site, Building: d.Building, Time: t0, Values: normal(d.Kind)})
	}
	s := e.Stats()
	// gas in B0, B1, B2; gas-own; pm-1 and pm-2 (63 A); pm-3 (100 A)
	if s.Plans != len(reg) || s.Facts != 6 {
		t.Errorf("%d plans share %d facts, want %d plans sharing 6", s.Plans, s.Facts, len(reg))
	}
	// gas in B0, B1, B2; power in B0
	if s.Places != 4 {
		t.Errorf("%d places, want 4", s.Places)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	own, other := e.plan["gas-own"], e.plan["gas-00"]
	if own.location != "boiler room" || own.nominal["lel_pct"] != 1 || other.location != "" || other.nominal != nil {
		t.Errorf("gas-own: location %q nominal %v; gas-00: location %q nominal %v", own.location, own.nominal, other.location, other.nominal)
	}
	if e.plan["pm-1"].ratings["breaker_a"] != 63 || e.plan["pm-3"].ratings["breaker_a"] != 100 {
		t.Errorf("ratings: pm-1 %v, pm-3 %v", e.plan["pm-1"].ratings, e.plan["pm-3"].ratings)
	}
}

// TestDevicesShareTheListOfTheirSlotsRules: devices whose slots were made
// in the same order share one list of their rules, not a key in every
// slot; a rule removed takes its slot from each device, and each device
// keeps the state of its other rules, each under its own rule.
func TestDevicesShareTheListOfTheirSlotsRules(t *testing.T) {
	pack, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	reg := memoryEstate(50, false)
	clk := testkit.NewFakeClock(t0)
	e, err := NewEngine(Config{Rules: pack, Devices: reg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e.Tick(ctx, t0)
	for id, d := range reg {
		e.Reading(ctx, devices.Reading{Device: strings.Clone(id), Kind: d.Kind, Site: d.Site, Building: d.Building, Time: t0, Values: normal(d.Kind)})
	}
	before := e.Stats()
	if before.Devices != 50 || before.SlotLists != 1 {
		t.Fatalf("%d devices share %d lists of their slots' rules, want 50 sharing 1", before.Devices, before.SlotLists)
	}
	// gas-lel-rising goes; the unchanged runs and the calendar stay
	if err := e.Put(ctx, "gas-lel-rising", nil, nil); err != nil {
		t.Fatal(err)
	}
	after := e.Stats()
	if after.SlotLists != 1 || after.Rules["gas-lel-rising"].Slots != 0 || after.Slots != before.Slots-50 {
		t.Errorf("after removing gas-lel-rising: %d lists, %d of its slots, %d slots in all; want 1, 0, %d",
			after.SlotLists, after.Rules["gas-lel-rising"].Slots, after.Slots, before.Slots-50)
	}
	for _, rule := range []string{"gas-lel-stuck", "gas-co-stuck", "gas-co-lel-rising", "gas-calibration-due", "gas-lel-warning"} {
		if after.Rules[rule] != before.Rules[rule] {
			t.Errorf("%s: %+v after, %+v before", rule, after.Rules[rule], before.Rules[rule])
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for id := range reg {
		st := e.state.get(stateKey{"gas-lel-stuck", id})
		if st == nil || st.pendingSince != stampOf(t0) || !st.mem.hasRef() || st.mem.x != normal(devices.KindGas)["lel_pct"].Number {
			t.Fatalf("%s: gas-lel-stuck's run lost: %+v", id, st)
		}
		if e.state.get(stateKey{"gas-lel-rising", id}) != nil {
			t.Fatalf("%s: gas-lel-rising still has state", id)
		}
	}
}

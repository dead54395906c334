package rules

import (
	"context"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// TestAllRuleAlarmIsOfItsFirstMetric: an all rule names no metric; its
// alarm is of its first term's metric, so that the gas and CO rising
// together on a head is one incident with that head's LEL alarm (one
// ticket whose level rises), not a second ticket beside it.
func TestAllRuleAlarmIsOfItsFirstMetric(t *testing.T) {
	both := Rule{ID: "gas-co-lel-rising", Name: "Both rising", Kind: devices.KindGas, Severity: Critical,
		Condition: Condition{Op: "all", Of: []Term{
			{Metric: "lel_pct", Condition: Condition{Op: "rate_above", PerMinute: 2}},
			{Metric: "co_ppm", Condition: Condition{Op: "rate_above", PerMinute: 5}}}}}
	lel := Rule{ID: "gas-lel-critical", Name: "LEL", Kind: devices.KindGas, Metric: "lel_pct", Severity: Critical,
		Condition: Condition{Op: ">=", Value: 20}}
	reg := fakeDevices{"g1": {ID: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1"}}
	h := newHarness(t, reg, both, lel)
	for i := range 5 {
		ts := t0.Add(time.Duration(i) * 10 * time.Second)
		h.clock.Set(ts)
		h.e.Reading(context.Background(), devices.Reading{Device: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1", Time: ts,
			Values: map[string]devices.Value{"lel_pct": devices.Num(float64(10 + 5*i)), "co_ppm": devices.Num(float64(10 + 20*i))}})
	}
	got := map[string]string{}
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	for _, a := range h.sink.alarms {
		if a.State == Raised {
			got[a.RuleID] = a.Metric
		}
	}
	if len(got) != 2 || got["gas-co-lel-rising"] != "lel_pct" || got["gas-lel-critical"] != "lel_pct" {
		t.Fatalf("raised alarms' metrics %v, want both rules raised, each of lel_pct", got)
	}
}

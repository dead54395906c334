package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/caretaker-iot/caretaker/devices"
	"gopkg.in/yaml.v3"
)

// opExample is one valid rule per op, with how its alarm reads and which
// way its peak moves: from peak, the values in worse are worse, those in
// better are not.
type opExample struct {
	rule         Rule
	class        string
	value, peak  float64
	reads        string
	worse, notWo []float64
}

func opExamples() map[Op]opExample {
	gas := func(c Condition) Rule {
		return Rule{ID: "r", Name: "Gas", Kind: devices.KindGas, Metric: "lel_pct", Severity: Critical, Condition: c}
	}
	// cmp: a comparison with value v whose peak is p; w is worse, nw not.
	cmp := func(op Op, v, p, w, nw float64) opExample {
		return opExample{rule: gas(Condition{Op: op, Value: v}), class: "value", value: p, peak: p,
			reads: fmt.Sprintf("Gas: hall (d1) lel_pct = %g (%s %g)", p, op, v), worse: []float64{w}, notWo: []float64{nw}}
	}
	return map[Op]opExample{
		">":  cmp(">", 20, 30, 31, 29),
		">=": cmp(">=", 20, 30, 31, 29),
		"<":  cmp("<", 20, 10, 9, 11),
		"<=": cmp("<=", 20, 10, 9, 11),
		"==": cmp("==", 20, 20, 21, 19),
		"!=": cmp("!=", 0, 3, 4, 2),
		"outside": {rule: Rule{ID: "r", Name: "Volts", Kind: devices.KindPower, Metric: "voltage_v", Severity: Major,
			Condition: Condition{Op: "outside", Low: -10, High: 10, Nominal: 220}}, class: "value", value: 250, peak: 250,
			reads: "Volts: hall (d1) voltage_v = 250 (outside -10..10% of nominal)", worse: []float64{180, 260}, notWo: []float64{200, 240}},
		"is": {rule: Rule{ID: "r", Name: "Leak", Kind: devices.KindWaterLeak, Metric: "leak", Severity: Critical,
			Condition: Condition{Op: "is", Value: true}}, class: "value", value: 1, peak: 1,
			reads: "Leak: hall (d1) leak is true", worse: []float64{2}, notWo: []float64{0}},
		"event": {rule: Rule{ID: "r", Name: "Trapped", Kind: devices.KindElevator, Severity: Critical,
			Condition: Condition{Op: "event", Event: "entrapment"}}, class: "event", value: 1, peak: 1,
			reads: "Trapped: hall (d1) reported entrapment", worse: []float64{2}, notWo: []float64{0}},
		"rate_above": {rule: gas(Condition{Op: "rate_above", PerMinute: 5}), class: "rate_above", value: 40, peak: 40,
			reads: "Gas: hall (d1) lel_pct = 40, changing faster than 5 per minute", worse: []float64{41}, notWo: []float64{39}},
		"rate_below": {rule: gas(Condition{Op: "rate_below", PerMinute: -5}), class: "rate_below", value: 4, peak: 4,
			reads: "Gas: hall (d1) lel_pct = 4, changing faster than -5 per minute", worse: []float64{3}, notWo: []float64{5}},
		"trend_crosses": {rule: gas(Condition{Op: "trend_crosses", Value: 50, Window: dur("1h"), Horizon: dur("6h")}),
			class: "trend_crosses", value: 30, peak: 30,
			reads: "Gas: hall (d1) lel_pct = 30, trending to cross 50 soon", worse: []float64{31}, notWo: []float64{29}},
		"counter_every": {rule: Rule{ID: "r", Name: "Doors", Kind: devices.KindElevator, Metric: "door_cycles", Severity: Maintenance,
			Condition: Condition{Op: "counter_every", Every: 1000}}, class: "counter_every", value: 1200, peak: 1200,
			reads: "Doors: hall (d1) door_cycles = 1200, service due (every 1000)", worse: []float64{1201}, notWo: []float64{1199}},
		"stale": {rule: Rule{ID: "r", Name: "Offline", Kind: devices.KindGas, Severity: Major,
			Condition: Condition{Op: "stale", After: dur("1m")}}, class: "stale", value: 0, peak: 0,
			reads: "Offline: hall (d1) sent no data for 1m0s (device offline)", worse: []float64{1}, notWo: []float64{-1}},
		"unchanged": {rule: Rule{ID: "r", Name: "Gas stuck", Kind: devices.KindGas, Metric: "lel_pct", Severity: Maintenance,
			Condition: Condition{Op: "unchanged", Tolerance: 0.5}, For: dur("24h")}, class: "unchanged", value: 0, peak: 0,
			reads: "Gas stuck: hall (d1) lel_pct = 0, unchanged (within 0.5) for 24h0m0s: a frozen sensor or a stuck head",
			worse: []float64{1}, notWo: []float64{-1}},
		"all": {rule: Rule{ID: "r", Name: "Stopped", Kind: devices.KindElevator, Severity: Critical,
			Condition: Condition{Op: "all", Of: []Term{{Metric: "running", Condition: Condition{Op: "is", Value: false}},
				{Metric: "motor_temp_c", Condition: Condition{Op: ">", Value: 80}}}}}, class: "all", value: 1, peak: 1,
			reads: "Stopped: hall (d1) running is false and motor_temp_c > 80", worse: []float64{2}, notWo: []float64{0}},
		"building_count": {rule: Rule{ID: "r", Name: "Flood", Kind: devices.KindWaterLeak, Severity: Critical,
			Condition: Condition{Op: "building_count", Rules: []string{"water-leak"}, AtLeast: 2}}, class: "building_count", value: 3, peak: 3,
			reads: "Flood: hall (d1): 3 devices with water-leak on at once", worse: []float64{4}, notWo: []float64{2}},
		"building_alarm": {rule: Rule{ID: "r", Name: "Check", Kind: devices.KindElevator, Severity: Critical,
			Condition: Condition{Op: "building_alarm", Rules: []string{"power-outage"}}}, class: "building_alarm", value: 1, peak: 1,
			reads: "Check: hall (d1): power-outage in its building", worse: []float64{2}, notWo: []float64{0}},
		"service_overdue": {rule: Rule{ID: "r", Name: "Overdue", Kind: devices.KindElevator, Severity: Minor,
			Condition: Condition{Op: "service_overdue", After: dur("360h")}}, class: "service_overdue", value: 361, peak: 361,
			reads: "Overdue: hall (d1) has had no service recorded for 361h0m0s (due every 360h0m0s)", worse: []float64{362}, notWo: []float64{360}},
	}
}

// TestOpExamples: each op compiles, reads back from JSON and YAML as
// written, keeps state across a change within its class, reads as its
// alarm message and keeps the worst value as the peak.
func TestOpExamples(t *testing.T) {
	for op, ex := range opExamples() {
		t.Run(string(op), func(t *testing.T) {
			c, err := ex.rule.compile()
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			for name, codec := range map[string]struct {
				marshal   func(any) ([]byte, error)
				unmarshal func([]byte, any) error
			}{"json": {json.Marshal, json.Unmarshal}, "yaml": {yaml.Marshal, yaml.Unmarshal}} {
				b, err := codec.marshal(ex.rule.Condition)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				var back Condition
				if err := codec.unmarshal(b, &back); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if back.Op != op {
					t.Errorf("%s: %s reads back as op %q", name, b, back.Op)
				}
				if _, err := back.compile(); err != nil {
					t.Errorf("%s: read back, it no longer compiles: %v", name, err)
				}
			}
			if got, want := signature(c), string(c.Kind)+"|"+c.Metric+"|"+c.Condition.Event+"|"+ex.class; got != want {
				t.Errorf("signature %q, want %q", got, want)
			}
			a := &Alarm{Device: "d1", Location: "hall", Value: ex.value, Peak: ex.peak}
			if got := describe(c, a); got != ex.reads {
				t.Errorf("reads %q, want %q", got, ex.reads)
			}
			for _, x := range ex.worse {
				if got := worse(c, 0, ex.peak, x); got != x {
					t.Errorf("from peak %g, %g is worse: peak %g", ex.peak, x, got)
				}
			}
			for _, x := range ex.notWo {
				if got := worse(c, 0, ex.peak, x); got != ex.peak {
					t.Errorf("from peak %g, %g is not worse: peak %g", ex.peak, x, got)
				}
			}
		})
	}
}

// TestOpTable walks the table of ops: every row is complete, every op has
// an example above (so TestOpExamples compiles it, reads it back and reads
// its message), and an unknown op is refused with the list of all of them.
func TestOpTable(t *testing.T) {
	examples := opExamples()
	seen := map[Op]bool{}
	for _, s := range ops {
		t.Run(string(s.op), func(t *testing.T) {
			if seen[s.op] {
				t.Fatalf("op %q has two rows", s.op)
			}
			seen[s.op] = true
			if got, ok := s.op.spec(); !ok || got.op != s.op {
				t.Errorf("spec(%q) does not find its row", s.op)
			}
			switch {
			case s.op == "":
				t.Error("no op name")
			case s.class == "":
				t.Error("no class")
			case s.compile == nil:
				t.Error("no compile")
			case s.reads == nil:
				t.Error("no reads")
			case s.worse < higher || s.worse > along:
				t.Errorf("no direction in which a value is worse (%d)", s.worse)
			case s.subject != onMetric && (s.needs != nil || s.thresholds != nil || s.relative || s.clear != nil):
				t.Error("an op that tests no metric takes no metric type, thresholds, nominal or clear")
			case s.needsFor != "":
				r := examples[s.op].rule
				r.For = 0
				if err := r.Validate(); err == nil || !strings.HasPrefix(err.Error(), "for: ") {
					t.Errorf("needs for, but a rule without it: %v", err)
				}
			}
			ex, ok := examples[s.op]
			if !ok {
				t.Fatalf("no example in opExamples")
			}
			if ex.class != s.class {
				t.Errorf("example class %q, row %q", ex.class, s.class)
			}
			if ex.rule.Condition.Op != s.op {
				t.Errorf("example tests op %q", ex.rule.Condition.Op)
			}
			if s.relative {
				r := ex.rule
				r.Condition.Nominal = 50
				if _, err := r.compile(); err != nil {
					t.Errorf("takes nominal, but with it: %v", err)
				}
			}
		})
	}
	for op := range examples {
		if !seen[op] {
			t.Errorf("example for %q, which has no row", op)
		}
	}
	r := with(gasRule, func(r *Rule) { r.Condition.Op = "~" })
	want := `condition.op: "~" is not one of > >= < <= == != outside is event rate_above rate_below trend_crosses counter_every stale unchanged all building_count building_alarm service_overdue`
	if err := r.Validate(); err == nil || err.Error() != want {
		t.Errorf("unknown op: %v, want %s", err, want)
	}
	r = with(gasRule, func(r *Rule) { r.Condition.Op, r.Condition.Nominal = "==", 220 })
	want = "condition.nominal: applies to > >= < <= and outside only"
	if err := r.Validate(); err == nil || err.Error() != want {
		t.Errorf("nominal on ==: %v, want %s", err, want)
	}
}

package rules

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

type recordingSink struct{ alarms []Alarm }

func (s *recordingSink) HandleAlarm(_ context.Context, a Alarm) error {
	s.alarms = append(s.alarms, a)
	return nil
}

func (s *recordingSink) states() string {
	var b []string
	for _, a := range s.alarms {
		b = append(b, fmt.Sprintf("%s@%s", a.State, a.RaisedAt.Format("05")))
		if a.State == Cleared {
			b[len(b)-1] = fmt.Sprintf("%s@%s", a.State, a.ClearedAt.Format("05"))
		}
	}
	return strings.Join(b, " ")
}

var t0 = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

// step is one point of a timeline: at +sec, either a value arrives or the
// clock ticks with no data.
type step struct {
	sec  int
	val  any // float64, bool, or nil for a clock tick only
	tick bool
}

func TestEngineTimelines(t *testing.T) {
	gas := Rule{ID: "gas", Kind: devices.KindGas, Metric: "lel_pct", Severity: Critical,
		Condition: Condition{Op: ">=", Value: 20}, Clear: &Condition{Op: "<", Value: 15}}
	gasFor := gas
	gasFor.For = devices.Duration(5 * time.Second)
	gasFor.ClearFor = devices.Duration(3 * time.Second)
	leak := Rule{ID: "leak", Kind: devices.KindWaterLeak, Metric: "leak", Severity: Critical,
		Condition: Condition{Op: "is", Value: true}, For: devices.Duration(10 * time.Second)}

	tests := []struct {
		name  string
		rule  Rule
		steps []step
		want  string
	}{
		{"raises at once", gas, []step{{0, 5.0, false}, {1, 25.0, false}}, "raised@01"},
		{"hysteresis holds between clear and raise", gas,
			[]step{{1, 25.0, false}, {2, 17.0, false}, {3, 19.0, false}, {4, 14.0, false}}, "raised@01 cleared@04"},
		{"for-duration not met", gasFor, []step{{0, 25.0, false}, {3, 25.0, false}, {4, 10.0, false}, {6, 25.0, false}}, ""},
		{"for-duration met by readings", gasFor, []step{{0, 25.0, false}, {3, 25.0, false}, {5, 26.0, false}}, "raised@05"},
		{"clear_for needs the drop to hold", gasFor,
			[]step{{0, 25.0, false}, {5, 25.0, false}, {6, 10.0, false}, {7, 21.0, false}, {8, 10.0, false}, {11, 10.0, false}},
			"raised@05 cleared@11"},
		{"wet once then silent raises when for runs out", leak,
			[]step{{0, true, false}, {5, nil, true}, {10, nil, true}}, "raised@10"},
		{"dry before for runs out raises nothing", leak,
			[]step{{0, true, false}, {4, false, false}, {12, nil, true}}, ""},
		{"stale reading changes nothing", gas,
			[]step{{5, 25.0, false}, {6, 10.0, false}, {3, 30.0, false}}, "raised@05 cleared@06"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &recordingSink{}
			e, err := NewEngine(Config{Rules: []Rule{tc.rule}, Sink: sink})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			for _, s := range tc.steps {
				at := t0.Add(time.Duration(s.sec) * time.Second)
				if s.tick {
					e.Tick(ctx, at)
					continue
				}
				v := devices.Value{}
				switch x := s.val.(type) {
				case float64:
					v = devices.Num(x)
				case bool:
					v = devices.FlagValue(x)
				}
				e.Reading(ctx, devices.Reading{Device: "d1", Kind: tc.rule.Kind, Site: "s1", Time: at,
					Values: map[string]devices.Value{tc.rule.Metric: v}})
			}
			if got := sink.states(); got != tc.want {
				t.Fatalf("alarms = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAlarmIDStableAcrossReplay(t *testing.T) {
	rule := Rule{ID: "gas", Kind: devices.KindGas, Metric: "lel_pct", Severity: Critical,
		Condition: Condition{Op: ">=", Value: 20}}
	ids := make([]string, 2)
	for i := range ids {
		sink := &recordingSink{}
		e, err := NewEngine(Config{Rules: []Rule{rule}, Sink: sink})
		if err != nil {
			t.Fatal(err)
		}
		e.Reading(context.Background(), devices.Reading{Device: "g1", Kind: devices.KindGas, Site: "s1",
			Time: t0, Values: map[string]devices.Value{"lel_pct": devices.Num(30)}})
		if len(sink.alarms) != 1 {
			t.Fatalf("run %d: %d alarms", i, len(sink.alarms))
		}
		ids[i] = sink.alarms[0].ID
	}
	if ids[0] != ids[1] {
		t.Fatalf("replayed reading gave a new alarm id: %s vs %s", ids[0], ids[1])
	}
}

func TestEventRule(t *testing.T) {
	sink := &recordingSink{}
	rules, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	reg := fakeDevices{"e1": {ID: "e1", Location: "Tower A lift 1"}}
	e, err := NewEngine(Config{Rules: rules, Sink: sink, Devices: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := devices.Event{Device: "e1", Kind: devices.KindElevator, Site: "s1", Name: "entrapment", Active: true, Time: t0}
	e.Event(ctx, ev)
	ev.Active, ev.Time = false, t0.Add(time.Minute)
	e.Event(ctx, ev)
	if got := sink.states(); got != "raised@00 cleared@00" {
		t.Fatalf("alarms = %q", got)
	}
	a := sink.alarms[0]
	if a.Level != 1 || a.RuleID != "elevator-entrapment" || !strings.Contains(a.Message, "Tower A lift 1") {
		t.Fatalf("alarm = %+v", a)
	}
}

type fakeDevices map[string]devices.Device

func (f fakeDevices) Lookup(id string) (devices.Device, bool) { d, ok := f[id]; return d, ok }

func TestRuleValidation(t *testing.T) {
	base := Rule{ID: "r", Kind: devices.KindGas, Metric: "lel_pct", Severity: Critical, Condition: Condition{Op: ">=", Value: 20}}
	tests := []struct {
		name  string
		edit  func(r *Rule)
		field string
	}{
		{"ok", func(r *Rule) {}, ""},
		{"bad id", func(r *Rule) { r.ID = "a b" }, "id:"},
		{"bad kind", func(r *Rule) { r.Kind = "boiler" }, "kind:"},
		{"metric of another kind", func(r *Rule) { r.Metric = "leak" }, "metric:"},
		{"missing op", func(r *Rule) { r.Condition.Op = "" }, "condition.op:"},
		{"value not number", func(r *Rule) { r.Condition.Value = "high" }, "condition.value:"},
		{"outside reversed", func(r *Rule) { r.Condition = Condition{Op: "outside", Low: 5, High: 1} }, "condition.low:"},
		{"bad severity", func(r *Rule) { r.Severity = "urgent" }, "severity:"},
		{"level contradicts severity", func(r *Rule) { r.Level = 3 }, "level:"},
		{"bad mode", func(r *Rule) { r.Mode = "dry" }, "mode:"},
		{"unknown event", func(r *Rule) { r.Condition = Condition{Op: "event", Event: "explosion"} }, "condition.event:"},
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
			if err == nil || !strings.HasPrefix(err.Error(), tc.field) {
				t.Fatalf("error = %v, want prefix %q", err, tc.field)
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

package rules

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// FuzzParseRules feeds rule files to ParseRules. It must never panic, and a
// rule it accepts must be one the rest of Caretaker can use: it validates,
// its thresholds are finite numbers, its durations not negative, it goes
// through JSON (the API's GET and PUT) unchanged, and the engine takes it
// and evaluates a reading with it. Longer runs by hand (docs/testing.md):
//
//	go test -run '^$' -fuzz '^FuzzParseRules$' -fuzztime 5m ./rules
func FuzzParseRules(f *testing.F) {
	f.Add(defaultPack)
	for _, s := range []string{
		"rules:\n  - {id: a, kind: gas, metric: lel_pct, condition: {op: '>=', value: 20}, clear: {op: '<', value: 15}, severity: critical}\n",
		"rules:\n  - {id: b, kind: power, metric: voltage_v, condition: {op: outside, low: -10, high: 10, nominal: 220}, severity: major, for: 30s}\n",
		"rules:\n  - {id: c, kind: power, metric: voltage_v, condition: {op: outside, low: -.inf, high: .inf}, severity: major}\n",
		"rules:\n  - {id: d, kind: elevator, metric: motor_temp_c, condition: {op: trend_crosses, value: 90, window: 10m, horizon: 30m}, severity: minor}\n",
		"rules:\n  - {id: e, kind: elevator, metric: door_cycles, condition: {op: counter_every, every: 1e5}, severity: maintenance}\n",
		"rules:\n  - {id: f, kind: gas, condition: {op: stale, after: 5m}, severity: major, flap_count: 3, flap_window: 10m}\n",
		"rules:\n  - {id: g, kind: elevator, condition: {op: event, event: entrapment}, severity: critical, mode: shadow}\n",
		"rules:\n  - {id: h, kind: water_leak, metric: leak, condition: {op: is, value: true}, clear: {op: is, value: false}, severity: critical}\n",
		"rules:\n  - {id: i, kind: power, metric: power_kw, condition: {op: rate_above, per_minute: .nan}, severity: minor}\n",
		"rules:\n  - {id: j, kind: gas, metric: co_ppm, condition: {op: '>', value: 1e400}, severity: minor}\n",
		"rules:\n  - &r {id: k, kind: gas, metric: co_ppm, condition: {op: '>', value: 5}, severity: minor}\n  - *r\n",
		"rules: [{id: l, kind: '', metric: x, condition: {op: '<=', value: !!binary aGk=}, severity: minor}]\n",
		"rules: {}\n", "rules: [1]\n", "x: 1\n", "", "\t",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ParseRules(b)
		if err != nil {
			if rs != nil {
				t.Fatalf("error %v but %d rules", err, len(rs))
			}
			return
		}
		seen := map[string]bool{}
		var unique []Rule
		for _, r := range rs {
			if err := r.Validate(); err != nil {
				t.Fatalf("accepted rule %s does not validate: %v", r.ID, err)
			}
			checkFinite(t, r)
			// Through JSON as the API shows and takes it back: unchanged.
			j1, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("rule %s cannot be shown by the API: %v (%+v)", r.ID, err, r)
			}
			var back Rule
			if err := json.Unmarshal(j1, &back); err != nil {
				t.Fatalf("rule %s: the API's own JSON %s does not read back: %v", r.ID, j1, err)
			}
			if err := back.Validate(); err != nil {
				t.Fatalf("rule %s: valid in YAML, not after JSON %s: %v", r.ID, j1, err)
			}
			if j2, _ := json.Marshal(back); !bytes.Equal(j1, j2) {
				t.Fatalf("rule %s changed through JSON:\n%s\n%s", r.ID, j1, j2)
			}
			if !seen[r.key()] {
				seen[r.key()] = true
				unique = append(unique, r)
			}
		}
		eng, err := NewEngine(Config{Rules: unique})
		if err != nil {
			t.Fatalf("engine refuses accepted rules: %v", err)
		}
		// One reading of every kind goes through without a panic.
		at := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
		for _, k := range []devices.Kind{devices.KindGas, devices.KindPower, devices.KindElevator, devices.KindWaterLeak} {
			spec, _ := devices.SpecOf(k)
			vals := map[string]devices.Value{}
			for _, m := range spec.Metrics {
				if m.Type == devices.Flag {
					vals[m.Name] = devices.FlagValue(true)
				} else {
					vals[m.Name] = devices.Num(50)
				}
			}
			eng.Reading(t.Context(), devices.Reading{Device: "d-" + string(k), Kind: k, Site: "s1", Building: "B1", Time: at, Received: at, Values: vals})
		}
		eng.Tick(t.Context(), at.Add(time.Hour))
	})
}

func checkFinite(t *testing.T, r Rule) {
	t.Helper()
	conds := []Condition{r.Condition}
	if r.Clear != nil {
		conds = append(conds, *r.Clear)
	}
	for _, c := range conds {
		nums := []float64{c.Low, c.High, c.PerMinute, c.Every, c.Nominal}
		if f, ok := c.Value.(float64); ok {
			nums = append(nums, f)
		}
		for _, x := range nums {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("rule %s accepted with a threshold of %v: %+v", r.ID, x, c)
			}
		}
		if c.Window < 0 || c.Horizon < 0 || c.After < 0 {
			t.Fatalf("rule %s accepted with a negative duration: %+v", r.ID, c)
		}
	}
	if r.For < 0 || r.ClearFor < 0 || r.FlapWindow < 0 || r.FlapCount < 0 {
		t.Fatalf("rule %s accepted with a negative duration or count: %+v", r.ID, r)
	}
	if strings.TrimSpace(r.ID) == "" {
		t.Fatalf("rule accepted without an id")
	}
}

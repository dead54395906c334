package firmwaresim

import (
	"bytes"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/caretaker-iot/caretaker/devices"
)

// Scenario is a timeline of faults relative to the start of the run.
type Scenario struct {
	Name  string `yaml:"name"`
	Steps []Step `yaml:"steps"`
}

// Step is one fault: a metric ramping to a value, or a device event.
//
//   - {at: 30s, device: gas-b2-01, metric: lel_pct, to: 35, over: 20s, hold: 2m}
//   - {at: 2m, device: elev-e3, event: entrapment, hold: 5m}
type Step struct {
	At     devices.Duration `yaml:"at"`
	Device string           `yaml:"device"`
	Metric string           `yaml:"metric"`
	To     any              `yaml:"to"` // number, or true/false for flags
	Over   devices.Duration `yaml:"over"`
	Hold   devices.Duration `yaml:"hold"` // 0: for the rest of the run
	Event  string           `yaml:"event"`
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, err
	}
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", path, err)
	}
	return s, nil
}

// DemoScenario makes the demo estate show an alarm within a minute: gas
// rises in the B2 boiler room, then the B1 pump room floods, then an
// elevator traps passengers.
func DemoScenario() Scenario {
	d := func(s string) devices.Duration { v, _ := time.ParseDuration(s); return devices.Duration(v) }
	return Scenario{Name: "demo", Steps: []Step{
		{At: d("15s"), Device: "gas-b2-01", Metric: "lel_pct", To: 35.0, Over: d("20s"), Hold: d("3m")},
		{At: d("40s"), Device: "leak-b1-01", Metric: "leak", To: true, Hold: d("2m")},
		{At: d("75s"), Device: "elev-e3", Event: "entrapment", Hold: d("5m")},
	}}
}

// Validate checks the steps against the estate; the error names the step.
func (s Scenario) Validate(estate []devices.Device) error {
	byID := map[string]devices.Device{}
	for _, d := range estate {
		byID[d.ID] = d
	}
	for i, st := range s.Steps {
		d, ok := byID[st.Device]
		if !ok {
			return fmt.Errorf("steps[%d].device: %q is not in the estate", i, st.Device)
		}
		spec, _ := devices.SpecOf(d.Kind)
		switch {
		case st.Event != "":
			if !spec.HasEvent(st.Event) {
				return fmt.Errorf("steps[%d].event: %s devices do not report %q", i, d.Kind, st.Event)
			}
		case st.Metric != "":
			m, ok := spec.Metric(st.Metric)
			if !ok {
				return fmt.Errorf("steps[%d].metric: %s devices do not report %q", i, d.Kind, st.Metric)
			}
			if _, err := target(m, st.To); err != nil {
				return fmt.Errorf("steps[%d].to: %w", i, err)
			}
		default:
			return fmt.Errorf("steps[%d]: needs a metric or an event", i)
		}
	}
	return nil
}

func target(m devices.MetricSpec, to any) (devices.Value, error) {
	if m.Type == devices.Flag {
		b, ok := to.(bool)
		if !ok {
			return devices.Value{}, fmt.Errorf("%v must be true or false for %s", to, m.Name)
		}
		return devices.FlagValue(b), nil
	}
	switch x := to.(type) {
	case int:
		return devices.Num(float64(x)), nil
	case float64:
		return devices.Num(x), nil
	}
	return devices.Value{}, fmt.Errorf("%v must be a number for %s", to, m.Name)
}

// apply overrides the model's values with the scenario's at elapsed time.
func (s Scenario) apply(dev devices.Device, el time.Duration, vals map[string]devices.Value) {
	spec, _ := devices.SpecOf(dev.Kind)
	for _, st := range s.Steps {
		if st.Device != dev.ID || st.Metric == "" || el < st.At.Std() {
			continue
		}
		if st.Hold > 0 && el >= st.At.Std()+st.Over.Std()+st.Hold.Std() {
			continue
		}
		m, _ := spec.Metric(st.Metric)
		to, err := target(m, st.To)
		if err != nil {
			continue
		}
		if to.IsFlag || st.Over <= 0 {
			vals[st.Metric] = to
			continue
		}
		frac := float64(el-st.At.Std()) / float64(st.Over.Std())
		if frac > 1 {
			frac = 1
		}
		base := vals[st.Metric].Number
		vals[st.Metric] = devices.Num(round(base+(to.Number-base)*frac, 2))
	}
}

// eventsAt returns the event changes due between two elapsed times.
func (s Scenario) eventsAt(dev string, from, to time.Duration) []eventChange {
	var out []eventChange
	for _, st := range s.Steps {
		if st.Device != dev || st.Event == "" {
			continue
		}
		if start := st.At.Std(); start >= from && start < to {
			out = append(out, eventChange{name: st.Event, active: true})
		}
		if st.Hold > 0 {
			if end := st.At.Std() + st.Hold.Std(); end >= from && end < to {
				out = append(out, eventChange{name: st.Event, active: false})
			}
		}
	}
	return out
}

type eventChange struct {
	name   string
	active bool
}

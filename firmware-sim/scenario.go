package firmwaresim

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/caretaker-iot/caretaker/devices"
)

// Scenario is a timeline of faults relative to the start of the run.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	Steps       []Step `yaml:"steps"`
}

// Step is one fault: a metric ramping to a value, a device event, or a
// physical fault the device's model plays out.
//
//   - {at: 30s, device: gas-b2-01, metric: lel_pct, to: 35, over: 20s, hold: 2m}
//   - {at: 2m, device: elev-e3, event: entrapment, hold: 5m}
//   - {at: 1m, device: pm-b4-01, fault: outage, hold: 90s}
//   - {at: 0s, device: elev-e1, fault: wear, to: 1, over: 2h}
//
// A step starts at At, ramps over Over and then holds for Hold; Hold 0
// means for the rest of the run.
type Step struct {
	At     devices.Duration `yaml:"at"`
	Device string           `yaml:"device"`
	Metric string           `yaml:"metric,omitempty"`
	To     any              `yaml:"to,omitempty"` // number, or true/false for flags
	Over   devices.Duration `yaml:"over,omitempty"`
	Hold   devices.Duration `yaml:"hold,omitempty"`
	Event  string           `yaml:"event,omitempty"`
	Fault  string           `yaml:"fault,omitempty"`
}

// Faults a step can put a device in, by kind.
var faultKinds = map[string]devices.Kind{
	"sag":    devices.KindPower,    // to: the sagged voltage, V
	"outage": devices.KindPower,    // supply lost; the meter reports the outage event
	"wear":   devices.KindElevator, // to: bearing wear 0..1, reached after over
	"stall":  devices.KindElevator, // the car stops between floors, outside the door zone, doors shut
	"sensor": devices.KindGas,      // the detector head faults: fault true, reads 0
	"stuck":  devices.KindGas,      // the LEL channel hangs at its last value, no fault flag
	// to: the phase (1-3) lost, or the one that climbs when the neutral breaks
	"phase_loss":   devices.KindPower,
	"neutral_loss": devices.KindPower,
	"leakage":      devices.KindPower, // to: the residual current, mA
}

// active tells whether the step is on at elapsed el, and how far up its
// ramp it is (0..1).
func (st Step) active(el time.Duration) (bool, float64) {
	start := st.At.Std()
	if el < start {
		return false, 0
	}
	if st.Hold > 0 && el >= start+st.Over.Std()+st.Hold.Std() {
		return false, 0
	}
	if st.Over <= 0 {
		return true, 1
	}
	return true, min(1, float64(el-start)/float64(st.Over.Std()))
}

// end is when the step stops, or -1 when it lasts for the run.
func (st Step) end() time.Duration {
	if st.Hold <= 0 {
		return -1
	}
	return st.At.Std() + st.Over.Std() + st.Hold.Std()
}

//go:embed scenarios/*.yaml
var builtinScenarios embed.FS

// BuiltinScenarios lists the names of the scenarios shipped in
// firmware-sim/scenarios/, sorted.
func BuiltinScenarios() []string {
	entries, _ := fs.ReadDir(builtinScenarios, "scenarios")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// BuiltinScenario returns a shipped scenario by name ("demo", "gas-leak").
func BuiltinScenario(name string) (Scenario, error) {
	b, err := builtinScenarios.ReadFile(path.Join("scenarios", name+".yaml"))
	if err != nil {
		return Scenario{}, fmt.Errorf("no built-in scenario %q (have %s)", name, strings.Join(BuiltinScenarios(), ", "))
	}
	return ParseScenario(b, name)
}

// ParseScenario reads a scenario from YAML; unknown keys are an error. The
// name is used in errors and when the file names none.
func ParseScenario(b []byte, name string) (Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", name, err)
	}
	if s.Name == "" {
		s.Name = name
	}
	return s, nil
}

// LoadScenario reads a scenario file, or a built-in scenario when path is
// one of BuiltinScenarios and no such file exists.
func LoadScenario(p string) (Scenario, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(p, "/.") {
		return BuiltinScenario(p)
	}
	if err != nil {
		return Scenario{}, err
	}
	return ParseScenario(b, p)
}

// DemoScenario makes the demo estate show an alarm within a minute: gas
// rises in the B2 boiler room, then the B1 pump room floods, then an
// elevator traps passengers. scenarios/demo.yaml holds the same timeline.
func DemoScenario() Scenario {
	d := func(s string) devices.Duration { v, _ := time.ParseDuration(s); return devices.Duration(v) }
	return Scenario{Name: "demo", Description: "gas in the B2 boiler room, a leak in the B1 pump room, passengers trapped in E3",
		Steps: []Step{
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
		if st.At < 0 || st.Over < 0 || st.Hold < 0 {
			return fmt.Errorf("steps[%d]: at, over and hold must not be negative", i)
		}
		spec, _ := devices.SpecOf(d.Kind)
		set := 0
		for _, v := range []string{st.Event, st.Metric, st.Fault} {
			if v != "" {
				set++
			}
		}
		if set != 1 {
			return fmt.Errorf("steps[%d]: needs exactly one of metric, event or fault", i)
		}
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
		case st.Fault != "":
			k, ok := faultKinds[st.Fault]
			if !ok {
				return fmt.Errorf("steps[%d].fault: %q is not sag, outage, phase_loss, neutral_loss, leakage, wear, stall, sensor or stuck", i, st.Fault)
			}
			if k != d.Kind {
				return fmt.Errorf("steps[%d].fault: %s is a fault of %s devices, %s is %s", i, st.Fault, k, d.ID, d.Kind)
			}
			if err := checkFaultTo(st); err != nil {
				return fmt.Errorf("steps[%d].to: %w", i, err)
			}
		}
	}
	return nil
}

func checkFaultTo(st Step) error {
	switch st.Fault {
	case "sag":
		v, err := target(devices.MetricSpec{Name: "voltage_v"}, st.To)
		if err != nil || v.Number <= 0 {
			return fmt.Errorf("a sag needs the sagged voltage above 0 (to: 180)")
		}
	case "wear":
		v, err := target(devices.MetricSpec{Name: "wear"}, st.To)
		if err != nil || v.Number < 0 || v.Number > 1 {
			return fmt.Errorf("wear is a fraction from 0 to 1 (to: 0.8)")
		}
	case "phase_loss", "neutral_loss":
		v, err := target(devices.MetricSpec{Name: "phase"}, st.To)
		if err != nil || (v.Number != 1 && v.Number != 2 && v.Number != 3) {
			return fmt.Errorf("a %s names the phase, 1, 2 or 3 (to: 2)", st.Fault)
		}
	case "leakage":
		v, err := target(devices.MetricSpec{Name: "residual_ma"}, st.To)
		if err != nil || v.Number <= 0 {
			return fmt.Errorf("leakage needs the residual current in mA above 0 (to: 350)")
		}
	default:
		if st.To != nil {
			return fmt.Errorf("a %s fault takes no value", st.Fault)
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

// conditionsAt gathers the faults the scenario puts a device in.
func (s Scenario) conditionsAt(dev string, el time.Duration) conditions {
	var c conditions
	for _, st := range s.Steps {
		if st.Device != dev || st.Fault == "" {
			continue
		}
		on, frac := st.active(el)
		if !on {
			continue
		}
		switch st.Fault {
		case "sag":
			v, _ := target(devices.MetricSpec{}, st.To)
			c.sagV = v.Number
		case "outage":
			c.outage = true
		case "wear":
			v, _ := target(devices.MetricSpec{}, st.To)
			c.wear = v.Number * frac
		case "sensor":
			c.sensorFault = true
		case "stuck":
			c.stuck = true
		case "stall":
			c.stall = true
		case "phase_loss":
			v, _ := target(devices.MetricSpec{}, st.To)
			c.phaseLoss = int(v.Number)
		case "neutral_loss":
			v, _ := target(devices.MetricSpec{}, st.To)
			c.neutralLoss = int(v.Number)
		case "leakage":
			v, _ := target(devices.MetricSpec{}, st.To)
			c.leakageMA = v.Number
		}
	}
	return c
}

// apply overrides the model's values with the scenario's metric steps at
// elapsed time: flags switch at once, numbers ramp from the model's value.
func (s Scenario) apply(dev devices.Device, el time.Duration, vals map[string]devices.Value) {
	spec, _ := devices.SpecOf(dev.Kind)
	for _, st := range s.Steps {
		if st.Device != dev.ID || st.Metric == "" {
			continue
		}
		on, frac := st.active(el)
		if !on {
			continue
		}
		m, _ := spec.Metric(st.Metric)
		to, err := target(m, st.To)
		if err != nil {
			continue
		}
		if to.IsFlag {
			vals[st.Metric] = to
			continue
		}
		base := vals[st.Metric].Number
		vals[st.Metric] = devices.Num(round(base+(to.Number-base)*frac, 2))
	}
}

// eventsAt returns the event changes due in [from, to): scenario events
// and the outage events a power fault makes the meter report.
func (s Scenario) eventsAt(dev string, from, to time.Duration) []eventChange {
	var out []eventChange
	for _, st := range s.Steps {
		if st.Device != dev {
			continue
		}
		name := st.Event
		if st.Fault == "outage" {
			name = "outage"
		}
		if name == "" {
			continue
		}
		if start := st.At.Std(); start >= from && start < to {
			out = append(out, eventChange{name: name, active: true})
		}
		if end := st.end(); end >= 0 && end >= from && end < to {
			out = append(out, eventChange{name: name, active: false})
		}
	}
	return out
}

type eventChange struct {
	name   string
	active bool
}

// EventChange is a device event a scenario makes a device report: a
// scenario event, or the outage event of a power fault.
type EventChange struct {
	Name   string
	Active bool
}

// Events returns the event changes of device dev due in [from, to) of
// elapsed time, as the simulator publishes them; replays of a scenario
// without a broker use it with Device.Sample.
func (s Scenario) Events(dev string, from, to time.Duration) []EventChange {
	var out []EventChange
	for _, ev := range s.eventsAt(dev, from, to) {
		out = append(out, EventChange{Name: ev.name, Active: ev.active})
	}
	return out
}

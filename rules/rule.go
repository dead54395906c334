package rules

import (
	"fmt"
	"math"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Rule is one alarm rule as configured and as the API shows it.
type Rule struct {
	ID        string           `yaml:"id" json:"id"`
	Name      string           `yaml:"name" json:"name"`
	Kind      devices.Kind     `yaml:"kind" json:"kind"`
	Scope     Scope            `yaml:"scope" json:"scope"`
	Metric    string           `yaml:"metric" json:"metric,omitempty"`
	Condition Condition        `yaml:"condition" json:"condition"`
	For       devices.Duration `yaml:"for" json:"for"`
	Clear     *Condition       `yaml:"clear" json:"clear,omitempty"`
	ClearFor  devices.Duration `yaml:"clear_for" json:"clear_for"`
	Severity  Severity         `yaml:"severity" json:"severity"`
	Level     int              `yaml:"level" json:"level"`
	Enabled   *bool            `yaml:"enabled" json:"enabled"` // nil: enabled
	Mode      string           `yaml:"mode" json:"mode"`
	Version   int              `yaml:"version" json:"version"`
}

// Scope narrows a rule to a site, a building or one device; empty fields
// match everything.
type Scope struct {
	Site     string `yaml:"site" json:"site"`
	Building string `yaml:"building" json:"building"`
	Device   string `yaml:"device" json:"device"`
}

// Matches tells whether the device falls in the scope.
func (s Scope) Matches(site, building, device string) bool {
	return (s.Site == "" || s.Site == site) &&
		(s.Building == "" || s.Building == building) &&
		(s.Device == "" || s.Device == device)
}

// Condition is what a rule tests. Value is a number for the comparison
// operators and a boolean for "is".
type Condition struct {
	Op    string  `yaml:"op" json:"op"`
	Value any     `yaml:"value" json:"value,omitempty"`
	Low   float64 `yaml:"low" json:"low,omitempty"`
	High  float64 `yaml:"high" json:"high,omitempty"`
	Event string  `yaml:"event" json:"event,omitempty"`
}

// Modes: a live rule opens tickets, a shadow rule only records what it
// would have raised.
const (
	ModeLive   = "live"
	ModeShadow = "shadow"
)

// test is a compiled condition on one value.
type test func(v devices.Value) bool

func (c Condition) compile() (test, error) {
	switch c.Op {
	case ">", ">=", "<", "<=", "==", "!=":
		x, err := number(c.Value)
		if err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
		return compare(c.Op, x), nil
	case "outside":
		if !(c.Low < c.High) {
			return nil, fmt.Errorf("low: %g must be below high %g", c.Low, c.High)
		}
		lo, hi := c.Low, c.High
		return func(v devices.Value) bool { f := v.Float(); return f < lo || f > hi }, nil
	case "is":
		b, ok := c.Value.(bool)
		if !ok {
			return nil, fmt.Errorf("value: %v must be true or false for op is", c.Value)
		}
		return func(v devices.Value) bool { return v.IsFlag && v.Flag == b }, nil
	case "event":
		if c.Event == "" {
			return nil, fmt.Errorf("event: missing for op event")
		}
		return nil, nil // events are matched by name, not by value
	case "":
		return nil, fmt.Errorf("op: missing")
	default:
		return nil, fmt.Errorf("op: %q is not supported", c.Op)
	}
}

func compare(op string, x float64) test {
	switch op {
	case ">":
		return func(v devices.Value) bool { return !v.IsFlag && v.Number > x }
	case ">=":
		return func(v devices.Value) bool { return !v.IsFlag && v.Number >= x }
	case "<":
		return func(v devices.Value) bool { return !v.IsFlag && v.Number < x }
	case "<=":
		return func(v devices.Value) bool { return !v.IsFlag && v.Number <= x }
	case "==":
		return func(v devices.Value) bool { return v.Float() == x }
	default:
		return func(v devices.Value) bool { return v.Float() != x }
	}
}

func number(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	default:
		return 0, fmt.Errorf("%v is not a number", v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%v is not a finite number", v)
	}
	return f, nil
}

// compiled is a validated rule ready to evaluate.
type compiled struct {
	Rule
	raise test
	clear test // nil: the raise condition no longer holding clears
}

// Validate checks a rule; the error names the field at fault.
func (r Rule) Validate() error {
	_, err := r.compile()
	return err
}

func (r Rule) compile() (*compiled, error) {
	if !devices.ValidID(r.ID) {
		return nil, fmt.Errorf("id: %q must be 1-64 letters, digits, '.', '_' or '-'", r.ID)
	}
	if _, err := devices.ParseKind(string(r.Kind)); err != nil {
		return nil, fmt.Errorf("kind: %w", err)
	}
	spec, _ := devices.SpecOf(r.Kind)
	c := &compiled{Rule: r}
	var err error
	if c.raise, err = r.Condition.compile(); err != nil {
		return nil, fmt.Errorf("condition.%w", err)
	}
	if r.Condition.Op == "event" {
		if r.Kind != devices.KindUnknown && !spec.HasEvent(r.Condition.Event) {
			return nil, fmt.Errorf("condition.event: %s devices do not report %q", r.Kind, r.Condition.Event)
		}
	} else if r.Kind != devices.KindUnknown {
		if _, ok := spec.Metric(r.Metric); !ok {
			return nil, fmt.Errorf("metric: %s devices do not report %q", r.Kind, r.Metric)
		}
	}
	if r.Clear != nil {
		if r.Condition.Op == "event" {
			return nil, fmt.Errorf("clear: an event rule clears when the device says the event ended")
		}
		if c.clear, err = r.Clear.compile(); err != nil {
			return nil, fmt.Errorf("clear.%w", err)
		}
	}
	switch r.Severity {
	case Critical, Major, Minor, Maintenance:
	default:
		return nil, fmt.Errorf("severity: %q is not critical, major, minor or maintenance", r.Severity)
	}
	if r.Level != 0 && r.Level != r.Severity.Level() {
		return nil, fmt.Errorf("level: %d does not match severity %s (level %d)", r.Level, r.Severity, r.Severity.Level())
	}
	c.Level = r.Severity.Level()
	switch r.Mode {
	case "":
		c.Mode = ModeLive
	case ModeLive, ModeShadow:
	default:
		return nil, fmt.Errorf("mode: %q is not live or shadow", r.Mode)
	}
	if r.For < 0 || r.ClearFor < 0 {
		return nil, fmt.Errorf("for: durations must not be negative")
	}
	if c.Enabled == nil {
		on := true
		c.Enabled = &on
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	return c, nil
}

// IsEnabled tells whether the rule is evaluated; a rule is on unless it
// says enabled: false.
func (r Rule) IsEnabled() bool { return r.Enabled == nil || *r.Enabled }

// holdFor is the for-duration as a time.Duration.
func (c *compiled) holdFor() time.Duration { return c.For.Std() }

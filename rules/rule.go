package rules

import (
	"fmt"
	"slices"
	"strings"
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
	// FlapCount and FlapWindow: a rule whose alarm toggles (raise or clear)
	// more than FlapCount times within FlapWindow stays raised and is marked
	// flapping until the toggles in the window fall back to FlapCount.
	// 0 turns the guard off.
	FlapCount  int              `yaml:"flap_count" json:"flap_count,omitempty"`
	FlapWindow devices.Duration `yaml:"flap_window" json:"flap_window,omitempty"`
	Severity   Severity         `yaml:"severity" json:"severity"`
	Level      int              `yaml:"level" json:"level"`
	Enabled    *bool            `yaml:"enabled" json:"enabled"` // nil: enabled
	Mode       string           `yaml:"mode" json:"mode"`
	Version    int              `yaml:"version" json:"version"`
	// Unless names rule families whose alarm, while on for the same
	// device, holds this rule back: its values are not evaluated and a
	// pending for-duration is dropped (an alarm already raised stays).
	// The outage alarm stands for the 0 V a dead supply reads.
	Unless []string `yaml:"unless" json:"unless,omitempty"`
	// Rationale says why the rule has its values; shipped rules carry it, an
	// engineer may replace it.
	Rationale string `yaml:"rationale" json:"rationale,omitempty"`
	// When limits the readings the rule looks at to those where every
	// term holds (a lift's vibration while it runs); other readings, and
	// those without a term's metric, decide nothing for it. Terms are
	// plain comparisons or flags.
	When []Term `yaml:"when" json:"when,omitempty"`
	// Action says what to do; it ends the alarm's message (and so the
	// ticket's text). {maintainer} in it is replaced by the device's
	// maintenance contractor (devices.Device.Maintainer, 维保单位).
	Action string `yaml:"action" json:"action,omitempty"`
	// Commands are the device actions the rule's alarm calls for when it
	// is raised (close the zone's water valve, start its fan).
	Commands []Command `yaml:"commands" json:"commands,omitempty"`
	// Open says what a raised alarm below level 1 does: "" (or "triage")
	// waits in the operator's triage queue; OpenTicket ("ticket") opens
	// its ticket by itself, as level 1 always does. Preventive rules
	// whose alarm is the work order itself (a service due, a wear trend)
	// open their ticket.
	Open string `yaml:"open" json:"open,omitempty"`
}

// What a raised alarm of a rule below level 1 does (Rule.Open).
const (
	OpenTriage = "triage"
	OpenTicket = "ticket"
)

// Scope narrows a rule to a site, a building or one device, and to
// devices with given properties (their place type, machine class or
// model: any of the listed values); empty fields match everything.
type Scope struct {
	Site         string   `yaml:"site" json:"site"`
	Building     string   `yaml:"building" json:"building"`
	Device       string   `yaml:"device" json:"device"`
	PlaceType    []string `yaml:"place_type" json:"place_type,omitempty"`
	MachineClass []string `yaml:"machine_class" json:"machine_class,omitempty"`
	Model        []string `yaml:"model" json:"model,omitempty"`
}

// Matches tells whether the device falls in the scope. Only the place
// fields of d (ID, Site, Building) are needed when the scope names no
// property.
func (s Scope) Matches(d devices.Device) bool {
	return (s.Site == "" || s.Site == d.Site) &&
		(s.Building == "" || s.Building == d.Building) &&
		(s.Device == "" || s.Device == d.ID) &&
		anyOf(s.PlaceType, d.PlaceType) &&
		anyOf(s.MachineClass, d.MachineClass) &&
		anyOf(s.Model, d.Model)
}

// anyOf: an empty list matches everything, else v must be listed.
func anyOf(list []string, v string) bool {
	return len(list) == 0 || slices.Contains(list, v)
}

// Narrowness ranks a scope: by place first (device, building, site, the
// whole kind), then by the number of properties it selects on, so that
// "water-leak.flat" (place_type: [flat]) replaces "water-leak" in flats
// while a building-scoped member replaces both in its building.
func (s Scope) Narrowness() int {
	n := 0
	switch {
	case s.Device != "":
		n = 3
	case s.Building != "":
		n = 2
	case s.Site != "":
		n = 1
	}
	n *= 4
	for _, l := range [][]string{s.PlaceType, s.MachineClass, s.Model} {
		if len(l) > 0 {
			n++
		}
	}
	return n
}

// validate refuses property values no device can have.
func (s Scope) validate() error {
	for _, p := range s.PlaceType {
		if p == "" || !devices.ValidPlaceType(p) {
			return fieldErr("scope.place_type", "%q is not one of %s", p, strings.Join(devices.PlaceTypes(), ", "))
		}
	}
	for _, c := range s.MachineClass {
		if c == "" || !devices.ValidMachineClass(c) {
			return fieldErr("scope.machine_class", "%q is not one of %s (ISO 10816-1)", c, strings.Join(devices.MachineClasses(), ", "))
		}
	}
	for _, m := range s.Model {
		if m == "" {
			return fieldErr("scope.model", "an empty model name")
		}
	}
	return nil
}

// Family is the part of a rule id before the first '.': "gas-lel-critical"
// and "gas-lel-critical.b2" are one family, and for each device only the
// narrowest-scoped matching rule of a family is evaluated.
func (r Rule) Family() string {
	f, _, _ := strings.Cut(r.ID, ".")
	return f
}

// Condition is what a rule tests. Which fields count depends on Op (each
// op is one row of the table ops, op.go):
//
//	> >= < <= == !=   value (a number)
//	outside           low, high
//	is                value (true or false), for flags
//	event             event, a device event name
//	rate_above        per_minute: change per minute above it (signed)
//	rate_below        per_minute: change per minute below it (signed)
//	trend_crosses     value, window, horizon, direction (rising|falling)
//	counter_every     every: a service is due every N counts
//	stale             after: no data from the device for that long
//	unchanged         tolerance: the value has not moved by more than it
//	                  (default 0: not at all) for the rule's for, which
//	                  it needs; the device keeps reporting (stale is for
//	                  silence): a frozen or stuck sensor
//	building_count    rules, at_least: at least that many devices (default
//	                  1) of one building have an alarm of one of the named
//	                  rule families on; one alarm for the building (device
//	                  "building:<site>/<building>")
//	building_alarm    rules: a device of the building has an alarm of one
//	                  of the named families on; an alarm on every device of
//	                  the rule's kind in that building
//	service_overdue   after: no service recorded for the device (Engine.
//	                  RecordService) for that long; counted from when the
//	                  engine first saw the device while none is recorded
//	all               of: two or more terms, each a metric and a condition
//	                  on it, that must all hold at one reading (a reading
//	                  that lacks a term's metric decides nothing); the
//	                  rule names no metric
//
// Nominal, with a comparison or outside, makes the thresholds percent
// deviations from the device's nominal value of the metric
// (devices.Device.Nominal), Nominal being the default when the device
// names none: {op: outside, low: -10, high: 10, nominal: 220} is "more
// than 10% off 220 V".
type Condition struct {
	Op        Op               `yaml:"op" json:"op"`
	Value     any              `yaml:"value" json:"value,omitempty"`
	Low       float64          `yaml:"low" json:"low,omitempty"`
	High      float64          `yaml:"high" json:"high,omitempty"`
	Event     string           `yaml:"event" json:"event,omitempty"`
	PerMinute float64          `yaml:"per_minute" json:"per_minute,omitempty"`
	Window    devices.Duration `yaml:"window" json:"window,omitempty"`
	Horizon   devices.Duration `yaml:"horizon" json:"horizon,omitempty"`
	Direction string           `yaml:"direction" json:"direction,omitempty"`
	Every     float64          `yaml:"every" json:"every,omitempty"`
	After     devices.Duration `yaml:"after" json:"after,omitempty"`
	Tolerance float64          `yaml:"tolerance" json:"tolerance,omitempty"`
	Nominal   float64          `yaml:"nominal" json:"nominal,omitempty"`
	Of        []Term           `yaml:"of" json:"of,omitempty"`
	Rules     []string         `yaml:"rules" json:"rules,omitempty"`
	AtLeast   int              `yaml:"at_least" json:"at_least,omitempty"`
	// Minus, with a comparison, tests the metric less this metric of the
	// same reading (a motor's rise above its room); a reading without it
	// decides nothing.
	Minus string `yaml:"minus" json:"minus,omitempty"`
	// Rating, like nominal, makes the thresholds percent deviations, from
	// the device's rating of that name (devices.Ratings: breaker_a); a
	// device that gives no such rating does not have the rule.
	Rating string `yaml:"rating" json:"rating,omitempty"`
}

// Term is one metric's condition within an all condition.
type Term struct {
	Metric    string `yaml:"metric" json:"metric"`
	Condition `yaml:",inline"`
}

// Modes: a live rule opens tickets, a shadow rule only records what it
// would have raised.
const (
	ModeLive   = "live"
	ModeShadow = "shadow"
)

// FieldError is a rule that does not validate; Field names the key at
// fault, e.g. "condition.value".
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// FieldName lets the HTTP layer name the field in a 400 answer.
func (e *FieldError) FieldName() string { return e.Field }

func fieldErr(field, format string, a ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
}

// under prefixes the field of a FieldError, for nested structures.
func under(prefix string, err error) error {
	if fe, ok := err.(*FieldError); ok {
		return &FieldError{Field: prefix + "." + fe.Field, Msg: fe.Msg}
	}
	return fmt.Errorf("%s.%w", prefix, err)
}

// Validate checks a rule; the error (a *FieldError) names the field at fault.
func (r Rule) Validate() error {
	_, err := r.compile()
	return err
}

// IsEnabled tells whether the rule is evaluated; a rule is on unless it
// says enabled: false.
func (r Rule) IsEnabled() bool { return r.Enabled == nil || *r.Enabled }

// key is the engine slot of a rule: its id, with "~shadow" for a shadow
// version, which runs beside the live rule of the same id.
func (r Rule) key() string { return ruleKey(r.ID, r.Mode == ModeShadow) }

// ruleKey is the engine slot of the live or the shadow version of rule id.
func ruleKey(id string, shadow bool) string {
	if shadow {
		return id + "~shadow"
	}
	return id
}

func (r Rule) compile() (*compiled, error) {
	if !devices.ValidID(r.ID) {
		return nil, fieldErr("id", "%q must be 1-64 letters, digits, '.', '_' or '-'", r.ID)
	}
	if _, err := devices.ParseKind(string(r.Kind)); err != nil {
		return nil, fieldErr("kind", "%v", err)
	}
	if err := r.Scope.validate(); err != nil {
		return nil, err
	}
	for _, u := range r.Unless {
		if !devices.ValidID(u) {
			return nil, fieldErr("unless", "%q is not a rule id", u)
		}
		if (Rule{ID: u}).Family() == r.Family() {
			return nil, fieldErr("unless", "%q is the rule's own family", u)
		}
	}
	for i, cmd := range r.Commands {
		if err := cmd.validate(); err != nil {
			return nil, under(fmt.Sprintf("commands[%d]", i), err)
		}
	}
	spec, _ := devices.SpecOf(r.Kind)
	c := &compiled{Rule: r}
	if len(r.When) > 0 {
		for i, tm := range r.When {
			if s, ok := tm.Op.spec(); ok && s.class != "value" {
				return nil, fieldErr(fmt.Sprintf("when[%d].op", i), "%s keeps state; a when term is a plain comparison or flag", tm.Op)
			}
		}
		w, err := compileTerms(r.Kind, spec, r.When)
		if err != nil {
			return nil, under("when", err)
		}
		c.when = w
	}
	ev, err := r.Condition.compile()
	if err != nil {
		return nil, under("condition", err)
	}
	c.eval = ev
	c.op, _ = r.Condition.Op.spec()
	switch c.op.subject {
	case onEvent:
		if r.Metric != "" {
			return nil, fieldErr("metric", "an event rule tests no metric")
		}
		if r.Kind != devices.KindUnknown && !spec.HasEvent(r.Condition.Event) {
			return nil, fieldErr("condition.event", "%s devices do not report %q", r.Kind, r.Condition.Event)
		}
	case onDevice:
		if r.Metric != "" {
			return nil, fieldErr("metric", "a %s rule watches all data of a device, not one metric", r.Condition.Op)
		}
	case onBuilding, onCalendar:
		if r.Metric != "" {
			return nil, fieldErr("metric", "a %s rule tests no metric", r.Condition.Op)
		}
	case onTerms:
		if r.Metric != "" {
			return nil, fieldErr("metric", "an %s rule names its metrics in condition.of", r.Condition.Op)
		}
		if c.terms, err = compileTerms(r.Kind, spec, r.Condition.Of); err != nil {
			return nil, under("condition", err)
		}
	default:
		if r.Metric == "" {
			return nil, fieldErr("metric", "missing")
		}
		if r.Kind != devices.KindUnknown {
			m, ok := spec.Metric(r.Metric)
			if !ok {
				return nil, fieldErr("metric", "%s devices do not report %q", r.Kind, r.Metric)
			}
			if need := c.op.needs; need != nil && m.Type != need.typ {
				return nil, fieldErr("condition.op", need.msg, r.Metric)
			}
			if err := inRange(m, "condition", r.Condition); err != nil {
				return nil, err
			}
			if mi := r.Condition.Minus; mi != "" {
				o, ok := spec.Metric(mi)
				switch {
				case !ok:
					return nil, fieldErr("condition.minus", "%s devices do not report %q", r.Kind, mi)
				case o.Type != devices.Gauge || m.Type != devices.Gauge:
					return nil, fieldErr("condition.minus", "subtracts one gauge from another; %s or %s is not one", r.Metric, mi)
				case mi == r.Metric:
					return nil, fieldErr("condition.minus", "%s less itself is always 0", mi)
				}
			}
			if r.Clear != nil {
				if err := inRange(m, "clear", *r.Clear); err != nil {
					return nil, err
				}
			}
		}
	}
	if r.Clear != nil {
		if err := checkClear(r.Condition, *r.Clear); err != nil {
			return nil, err
		}
		if c.clear, err = r.Clear.compile(); err != nil {
			return nil, under("clear", err)
		}
	}
	switch r.Severity {
	case Critical, Major, Minor, Maintenance:
	default:
		return nil, fieldErr("severity", "%q is not critical, major, minor or maintenance", r.Severity)
	}
	if r.Level != 0 && r.Level != r.Severity.Level() {
		return nil, fieldErr("level", "%d does not match severity %s (level %d)", r.Level, r.Severity, r.Severity.Level())
	}
	c.Level = r.Severity.Level()
	switch r.Open {
	case "", OpenTriage, OpenTicket:
	default:
		return nil, fieldErr("open", "%q is not ticket or triage", r.Open)
	}
	switch r.Mode {
	case "":
		c.Mode = ModeLive
	case ModeLive, ModeShadow:
	default:
		return nil, fieldErr("mode", "%q is not live or shadow", r.Mode)
	}
	if r.For < 0 {
		return nil, fieldErr("for", "must not be negative")
	}
	if c.op.needsFor != "" && r.For <= 0 {
		return nil, fieldErr("for", "must be a positive duration for op %s (%s)", r.Condition.Op, c.op.needsFor)
	}
	if r.ClearFor < 0 {
		return nil, fieldErr("clear_for", "must not be negative")
	}
	if r.FlapCount < 0 {
		return nil, fieldErr("flap_count", "must not be negative")
	}
	if r.FlapCount > 0 && r.FlapWindow <= 0 {
		return nil, fieldErr("flap_window", "must be a positive duration when flap_count is set")
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

// checkClear refuses a clear condition that cannot work as hysteresis: it
// must point the other way from the raise condition and not overlap it,
// or a value could raise and clear at once.
func checkClear(raise, clear Condition) error {
	s, _ := raise.Op.spec()
	if s == nil || s.clear == nil {
		a := "a"
		if strings.ContainsAny(string(raise.Op)[:min(1, len(raise.Op))], "aeiou") {
			a = "an"
		}
		return fieldErr("clear", "%s %s rule clears when its condition stops holding; it takes no clear condition", a, raise.Op)
	}
	return s.clear(raise, clear)
}

// inRange refuses thresholds a metric can never reach: a percentage
// outside 0..100, a negative counter interval is caught elsewhere.
func inRange(m devices.MetricSpec, field string, c Condition) error {
	if (m.Unit != "%" && m.Unit != "%LEL") || c.Nominal != 0 || c.Rating != "" {
		return nil
	}
	s, ok := c.Op.spec()
	if !ok || s.thresholds == nil {
		return nil
	}
	for _, t := range s.thresholds(c) {
		if t.v < 0 || t.v > 100 {
			return fieldErr(field+"."+t.field, "%g is outside 0..100 %s", t.v, m.Unit)
		}
	}
	return nil
}

// holdFor is the for-duration as a time.Duration.
func (c *compiled) holdFor() time.Duration { return c.For.Std() }

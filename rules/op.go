package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Op is the operator of a condition, spelled as rules and the API spell
// it (contract.md): {op: ">=", value: 20}.
type Op string

// The condition operators; which Condition fields each one reads is
// listed on Condition.
const (
	OpAbove          Op = ">"
	OpAtLeast        Op = ">="
	OpBelow          Op = "<"
	OpAtMost         Op = "<="
	OpEqual          Op = "=="
	OpNotEqual       Op = "!="
	OpOutside        Op = "outside"
	OpIs             Op = "is"
	OpEvent          Op = "event"
	OpRateAbove      Op = "rate_above"
	OpRateBelow      Op = "rate_below"
	OpTrendCrosses   Op = "trend_crosses"
	OpCounterEvery   Op = "counter_every"
	OpStale          Op = "stale"
	OpUnchanged      Op = "unchanged"
	OpAll            Op = "all"
	OpBuildingCount  Op = "building_count"
	OpBuildingAlarm  Op = "building_alarm"
	OpServiceOverdue Op = "service_overdue"
)

// opSpec is everything the engine knows of one op; adding an op is adding
// a row to ops (and TestOpTable asks for every field).
type opSpec struct {
	op Op
	// class groups ops whose memory means the same thing: a rule
	// replaced by one of the same class, kind and metric keeps its
	// per-device state. Snapshots store it: do not rename a class.
	class   string
	subject subject
	// relative: nominal may make the thresholds percent deviations.
	relative bool
	// needs is the metric type the op tests; nil: any.
	needs *metricNeed
	// compile checks the condition's fields and builds its evaluator.
	compile func(Condition) (evaluator, error)
	// thresholds are the values to check against the metric's range
	// (a percentage stays within 0..100); nil: none.
	thresholds func(Condition) []threshold
	// clear checks a clear condition against the raise condition; nil:
	// the op takes none (it clears when it stops holding).
	clear func(raise, clear Condition) error
	// worse is the way the peak of an episode moves.
	worse direction
	// reads is the alarm's message; place is the device and its location.
	reads func(c *compiled, a *Alarm, place string) string
	// needsFor, when set, makes the rule's for required (a positive
	// duration) and says what it means, for the error.
	needsFor string
	// byReading: only a reading completes for and clear_for; time alone
	// decides nothing (a device that stopped reporting is stale's
	// business, not this op's).
	byReading bool
	// runStart, when set, is when the condition began to hold, from the
	// op's memory, for a run that the reading at t finds holding (the run
	// may have begun at an earlier reading); nil: at t.
	runStart func(m *memory, t time.Time) time.Time
}

// subject is what a condition watches.
type subject int

const (
	onMetric   subject = iota // one metric of the readings
	onEvent                   // a device event; the rule names no metric
	onDevice                  // all data of the device; the rule names no metric
	onTerms                   // several metrics of one reading (all); the rule names none
	onBuilding                // the alarms of other rules on the devices of a building
	onCalendar                // time since the device's last recorded service
)

// direction is which way of a value is worse, for the peak of an episode.
type direction int

const (
	_      direction = iota // unset: TestOpTable refuses it
	higher                  // a higher value is worse
	lower                   // a lower value is worse
	away                    // farther from the middle of the band
	along                   // the way the trend is feared to go (direction)
)

// metricNeed is the metric type an op requires, and what is said when the
// rule's metric is of another type (%s: the metric).
type metricNeed struct {
	typ devices.MetricType
	msg string
}

// threshold is a named value of a condition (the field it comes from).
type threshold struct {
	field string
	v     float64
}

// ops is the table of condition operators, in the order errors list them.
var ops = []opSpec{
	{op: OpAbove, class: "value", relative: true, compile: compareWith(false, func(f, x float64) bool { return f > x }),
		thresholds: valueThreshold, clear: clearThreshold(higher), worse: higher, reads: readsCompare},
	{op: OpAtLeast, class: "value", relative: true, compile: compareWith(false, func(f, x float64) bool { return f >= x }),
		thresholds: valueThreshold, clear: clearThreshold(higher), worse: higher, reads: readsCompare},
	{op: OpBelow, class: "value", relative: true, compile: compareWith(false, func(f, x float64) bool { return f < x }),
		thresholds: valueThreshold, clear: clearThreshold(lower), worse: lower, reads: readsCompare},
	{op: OpAtMost, class: "value", relative: true, compile: compareWith(false, func(f, x float64) bool { return f <= x }),
		thresholds: valueThreshold, clear: clearThreshold(lower), worse: lower, reads: readsCompare},
	{op: OpEqual, class: "value", compile: compareWith(true, func(f, x float64) bool { return f == x }),
		thresholds: valueThreshold, worse: higher, reads: readsCompare},
	{op: OpNotEqual, class: "value", compile: compareWith(true, func(f, x float64) bool { return f != x }),
		thresholds: valueThreshold, worse: higher, reads: readsCompare},
	{op: OpOutside, class: "value", relative: true, compile: compileOutside, thresholds: bandThresholds,
		worse: away, reads: readsOutside},
	{op: OpIs, class: "value", needs: &metricNeed{devices.Flag, "is tests flags; %s is a number"},
		compile: compileIs, clear: clearFlag, worse: higher, reads: readsIs},
	{op: OpEvent, class: "event", subject: onEvent, compile: compileEvent, worse: higher, reads: readsEvent},
	{op: OpRateAbove, class: "rate_above", compile: compileRate(true), worse: higher, reads: readsRate},
	{op: OpRateBelow, class: "rate_below", compile: compileRate(false), worse: lower, reads: readsRate},
	{op: OpTrendCrosses, class: "trend_crosses", compile: compileTrend, thresholds: valueThreshold,
		worse: along, reads: readsTrend},
	{op: OpCounterEvery, class: "counter_every", needs: &metricNeed{devices.Counter, "counter_every needs a counter; %s is not one"},
		compile: compileCounter, worse: higher, reads: readsCounter},
	{op: OpStale, class: "stale", subject: onDevice, compile: compileStale, worse: higher, reads: readsStale},
	{op: OpUnchanged, class: "unchanged", compile: compileUnchanged, worse: higher, reads: readsUnchanged,
		needsFor: "how long the value has not moved", byReading: true, runStart: unchangedSince},
	{op: OpAll, class: "all", subject: onTerms, compile: compileAll, worse: higher, reads: readsAll},
	{op: OpBuildingCount, class: "building_count", subject: onBuilding, compile: compileBuilding(true), worse: higher, reads: readsBuilding},
	{op: OpBuildingAlarm, class: "building_alarm", subject: onBuilding, compile: compileBuilding(false), worse: higher, reads: readsBuilding},
	{op: OpServiceOverdue, class: "service_overdue", subject: onCalendar, compile: compileOverdue, worse: higher, reads: readsOverdue},
}

// spec returns the table row of op.
func (op Op) spec() (*opSpec, bool) {
	for i := range ops {
		if ops[i].op == op {
			return &ops[i], true
		}
	}
	return nil, false
}

// opNames lists the ops, for the error naming an unknown one.
func opNames() string {
	names := make([]string, len(ops))
	for i, s := range ops {
		names[i] = string(s.op)
	}
	return strings.Join(names, " ")
}

// relativeOps lists the ops that take nominal: "> >= and outside".
func relativeOps() string {
	var names []string
	for _, s := range ops {
		if s.relative {
			names = append(names, string(s.op))
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], " ") + " and " + names[len(names)-1]
}

// compareWith compiles a comparison with value; flags: the op also
// compares flags (as 0 and 1).
func compareWith(flags bool, holds func(f, x float64) bool) func(Condition) (evaluator, error) {
	return func(c Condition) (evaluator, error) {
		x, err := number(c.Value)
		if err != nil {
			return nil, fieldErr("value", "%v", err)
		}
		return c.relative(func(v devices.Value, f float64) bool { return (!v.IsFlag || flags) && holds(f, x) }), nil
	}
}

func compileOutside(c Condition) (evaluator, error) {
	if err := finite(c.Low); err != nil {
		return nil, fieldErr("low", "%v", err)
	}
	if err := finite(c.High); err != nil {
		return nil, fieldErr("high", "%v", err)
	}
	if !(c.Low < c.High) {
		return nil, fieldErr("low", "%g must be below high %g", c.Low, c.High)
	}
	lo, hi := c.Low, c.High
	return c.relative(func(v devices.Value, f float64) bool { return !v.IsFlag && (f < lo || f > hi) }), nil
}

func compileIs(c Condition) (evaluator, error) {
	b, ok := c.Value.(bool)
	if !ok {
		return nil, fieldErr("value", "%v must be true or false for op is", c.Value)
	}
	return func(_ *memory, _ time.Time, v devices.Value, _ float64) bool { return v.IsFlag && v.Flag == b }, nil
}

func compileEvent(c Condition) (evaluator, error) {
	if c.Event == "" {
		return nil, fieldErr("event", "missing for op event")
	}
	return func(_ *memory, _ time.Time, v devices.Value, _ float64) bool { return v.Flag }, nil
}

func compileRate(above bool) func(Condition) (evaluator, error) {
	return func(c Condition) (evaluator, error) {
		if err := finite(c.PerMinute); err != nil || c.PerMinute == 0 {
			return nil, fieldErr("per_minute", "must be a non-zero number (change per minute; negative for a fall)")
		}
		return rate(above, c.PerMinute), nil
	}
}

func compileTrend(c Condition) (evaluator, error) {
	x, err := number(c.Value)
	if err != nil {
		return nil, fieldErr("value", "%v", err)
	}
	if c.Window <= 0 {
		return nil, fieldErr("window", "must be a positive duration")
	}
	if c.Horizon <= 0 {
		return nil, fieldErr("horizon", "must be a positive duration")
	}
	if c.Direction != "" && c.Direction != "rising" && c.Direction != "falling" {
		return nil, fieldErr("direction", "%q is not rising or falling", c.Direction)
	}
	return trend(x, c.Window.Std(), c.Horizon.Std(), c.Direction != "falling"), nil
}

func compileCounter(c Condition) (evaluator, error) {
	if err := finite(c.Every); err != nil || c.Every <= 0 {
		return nil, fieldErr("every", "must be a positive number of counts")
	}
	return counterEvery(c.Every), nil
}

func compileStale(c Condition) (evaluator, error) {
	if c.After <= 0 {
		return nil, fieldErr("after", "must be a positive duration")
	}
	// Time alone raises it (tickStale); no value does.
	return func(*memory, time.Time, devices.Value, float64) bool { return false }, nil
}

// compileBuilding: the engine counts the alarms (Engine.derive) and hands
// the episode its verdict as a flag.
func compileBuilding(count bool) func(Condition) (evaluator, error) {
	return func(c Condition) (evaluator, error) {
		if len(c.Rules) == 0 {
			return nil, fieldErr("rules", "names no rule family to watch")
		}
		for _, id := range c.Rules {
			if !devices.ValidID(id) {
				return nil, fieldErr("rules", "%q is not a rule id", id)
			}
		}
		if !count {
			return func(_ *memory, _ time.Time, v devices.Value, _ float64) bool { return v.Flag }, nil
		}
		if c.AtLeast < 0 {
			return nil, fieldErr("at_least", "%d must be 1 or more", c.AtLeast)
		}
		need := float64(max(1, c.AtLeast))
		return func(_ *memory, _ time.Time, v devices.Value, _ float64) bool { return v.Number >= need }, nil
	}
}

func compileOverdue(c Condition) (evaluator, error) {
	if c.After <= 0 {
		return nil, fieldErr("after", "must be a positive duration (the service interval)")
	}
	// Time alone raises it (tickCalendar); no value does.
	return func(*memory, time.Time, devices.Value, float64) bool { return false }, nil
}

// compileAll: the engine evaluates the terms (compiled.holdsAll) and
// hands the episode their verdict as a flag.
func compileAll(c Condition) (evaluator, error) {
	if len(c.Of) < 2 {
		return nil, fieldErr("of", "an all condition needs two or more terms (metric and condition)")
	}
	return func(_ *memory, _ time.Time, v devices.Value, _ float64) bool { return v.Flag }, nil
}

// compileTerms checks the terms of an all condition against the kind's
// metrics and compiles each one. A term is a plain condition on one
// metric: no event, no silence, nothing that needs a for of its own, and
// no all within all.
func compileTerms(kind devices.Kind, spec devices.KindSpec, of []Term) ([]termEval, error) {
	out := make([]termEval, 0, len(of))
	for i, tm := range of {
		field := fmt.Sprintf("of[%d]", i)
		if tm.Metric == "" {
			return nil, fieldErr(field+".metric", "missing")
		}
		s, ok := tm.Op.spec()
		if ok && (s.subject != onMetric || s.needsFor != "") {
			return nil, fieldErr(field+".op", "%s cannot be a term of all", tm.Op)
		}
		if kind != devices.KindUnknown {
			m, known := spec.Metric(tm.Metric)
			if !known {
				return nil, fieldErr(field+".metric", "%s devices do not report %q", kind, tm.Metric)
			}
			if ok && s.needs != nil && m.Type != s.needs.typ {
				return nil, fieldErr(field+".op", s.needs.msg, tm.Metric)
			}
		}
		ev, err := tm.Condition.compile()
		if err != nil {
			return nil, under(field, err)
		}
		out = append(out, termEval{metric: tm.Metric, eval: ev})
	}
	return out, nil
}

func compileUnchanged(c Condition) (evaluator, error) {
	if err := finite(c.Tolerance); err != nil || c.Tolerance < 0 {
		return nil, fieldErr("tolerance", "%g must be 0 or more (the band within which the value counts as unmoved)", c.Tolerance)
	}
	return unchanged(c.Tolerance), nil
}

// unchanged holds while each reading is within tol of the value at the
// start of the run (m.x, since m.t). A reading beyond it has
// moved: the condition does not hold at it (a raised alarm clears), and
// it is the first value of the next run.
func unchanged(tol float64) evaluator {
	return func(m *memory, t time.Time, v devices.Value, _ float64) bool {
		x := v.Float()
		if m.hasRef() && abs(x-m.x) <= tol {
			return true
		}
		moved := m.hasRef()
		m.of, m.has, m.x, m.t = memRef, true, x, stampOf(t)
		return !moved
	}
}

// unchangedSince: the run began at its first reading.
func unchangedSince(m *memory, t time.Time) time.Time {
	if m.hasRef() && m.t.time().Before(t) {
		return m.t.time()
	}
	return t
}

func valueThreshold(c Condition) []threshold {
	if v, err := number(c.Value); err == nil {
		return []threshold{{"value", v}}
	}
	return nil
}

func bandThresholds(c Condition) []threshold {
	return []threshold{{"low", c.Low}, {"high", c.High}}
}

// clearThreshold: a threshold rule clears on the other side of its value,
// with no overlap, or a value could raise and clear at once.
// worse is the raise op's direction.
func clearThreshold(worse direction) func(raise, clear Condition) error {
	return func(raise, clear Condition) error {
		if clear.Nominal != raise.Nominal {
			return fieldErr("clear.nominal", "must equal condition.nominal")
		}
		if clear.Rating != raise.Rating {
			return fieldErr("clear.rating", "must equal condition.rating")
		}
		if clear.Minus != raise.Minus {
			return fieldErr("clear.minus", "must equal condition.minus")
		}
		rv, err := number(raise.Value)
		if err != nil {
			return nil // reported on condition.value
		}
		cv, err := number(clear.Value)
		if err != nil {
			return fieldErr("clear.value", "%v", err)
		}
		up := worse == higher
		switch {
		case up && !slices.Contains([]Op{OpBelow, OpAtMost}, clear.Op):
			return fieldErr("clear.op", "raise is %s, so clear must be < or <=, not %q", raise.Op, clear.Op)
		case !up && !slices.Contains([]Op{OpAbove, OpAtLeast}, clear.Op):
			return fieldErr("clear.op", "raise is %s, so clear must be > or >=, not %q", raise.Op, clear.Op)
		case up && cv > rv:
			return fieldErr("clear.value", "%g is above the raise value %g: a value between them would raise and clear at once", cv, rv)
		case !up && cv < rv:
			return fieldErr("clear.value", "%g is below the raise value %g: a value between them would raise and clear at once", cv, rv)
		}
		return nil
	}
}

// clearFlag: a flag rule clears with the opposite flag.
func clearFlag(raise, clear Condition) error {
	if clear.Op != OpIs {
		return fieldErr("clear.op", "a flag rule clears with is, not %q", clear.Op)
	}
	rv, _ := raise.Value.(bool)
	cv, ok := clear.Value.(bool)
	if ok && cv == rv {
		return fieldErr("clear.value", "must be the opposite of condition.value")
	}
	return nil
}

// readsPeak: a threshold alarm is described by the worst value of its
// episode: an alarm announced after the fact (late data) must not quote
// the last, harmless reading.
func readsPeak(c *compiled, a *Alarm, place, cond string) string {
	unit := ""
	switch {
	case c.Condition.Rating != "":
		unit = "% of " + c.Condition.Rating
	case c.Condition.Nominal != 0:
		unit = "% of nominal"
	}
	metric := c.Metric
	if c.Condition.Minus != "" {
		metric += " - " + c.Condition.Minus
	}
	return fmt.Sprintf("%s: %s %s = %s (%s%s)", c.Name, place, metric, num(a.Peak), cond, unit)
}

func readsCompare(c *compiled, a *Alarm, place string) string {
	return readsPeak(c, a, place, fmt.Sprintf("%s %v", c.Condition.Op, c.Condition.Value))
}

func readsOutside(c *compiled, a *Alarm, place string) string {
	return readsPeak(c, a, place, fmt.Sprintf("outside %g..%g", c.Condition.Low, c.Condition.High))
}

func readsIs(c *compiled, a *Alarm, place string) string {
	return fmt.Sprintf("%s: %s %s is %v", c.Name, place, c.Metric, a.Peak != 0)
}

func readsEvent(c *compiled, _ *Alarm, place string) string {
	return fmt.Sprintf("%s: %s reported %s", c.Name, place, c.Condition.Event)
}

func readsRate(c *compiled, a *Alarm, place string) string {
	return fmt.Sprintf("%s: %s %s = %s, changing faster than %g per minute", c.Name, place, c.Metric, num(a.Value), c.Condition.PerMinute)
}

func readsTrend(c *compiled, a *Alarm, place string) string {
	when := "soon"
	if a.PredictedAt != nil {
		when = "by " + a.PredictedAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s: %s %s = %s, trending to cross %v %s", c.Name, place, c.Metric, num(a.Value), c.Condition.Value, when)
}

func readsCounter(c *compiled, a *Alarm, place string) string {
	return fmt.Sprintf("%s: %s %s = %s, service due (every %g)", c.Name, place, c.Metric, num(a.Value), c.Condition.Every)
}

func readsStale(c *compiled, _ *Alarm, place string) string {
	return fmt.Sprintf("%s: %s sent no data for %s (device offline)", c.Name, place, c.Condition.After.Std())
}

func readsUnchanged(c *compiled, a *Alarm, place string) string {
	return fmt.Sprintf("%s: %s %s = %s, unchanged (within %g) for %s: a frozen sensor or a stuck head",
		c.Name, place, c.Metric, num(a.Value), c.Condition.Tolerance, c.For.Std())
}

func readsBuilding(c *compiled, a *Alarm, place string) string {
	if c.Condition.Op == OpBuildingCount {
		return fmt.Sprintf("%s: %s: %s devices with %s on at once", c.Name, place, num(a.Peak), strings.Join(c.Condition.Rules, " or "))
	}
	return fmt.Sprintf("%s: %s: %s in its building", c.Name, place, strings.Join(c.Condition.Rules, " or "))
}

func readsOverdue(c *compiled, a *Alarm, place string) string {
	return fmt.Sprintf("%s: %s has had no service recorded for %s (due every %s)", c.Name, place,
		time.Duration(a.Value*float64(time.Hour)).Round(time.Hour), c.Condition.After.Std())
}

func readsAll(c *compiled, _ *Alarm, place string) string {
	parts := make([]string, len(c.Condition.Of))
	for i, tm := range c.Condition.Of {
		parts[i] = tm.Metric + " " + termText(tm.Condition)
	}
	return fmt.Sprintf("%s: %s %s", c.Name, place, strings.Join(parts, " and "))
}

// termText writes a term's condition as the rules spell it.
func termText(c Condition) string {
	switch c.Op {
	case OpIs:
		return fmt.Sprintf("is %v", c.Value)
	case OpOutside:
		return fmt.Sprintf("outside %g..%g", c.Low, c.High)
	case OpRateAbove, OpRateBelow:
		return fmt.Sprintf("changing %s %g per minute", map[Op]string{OpRateAbove: "faster than", OpRateBelow: "slower than"}[c.Op], c.PerMinute)
	}
	return fmt.Sprintf("%s %v", c.Op, c.Value)
}

// num writes a value as short as it reads exactly.
func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

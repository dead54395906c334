package rules

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// compiled is a validated rule ready to evaluate.
type compiled struct {
	Rule
	op    *opSpec // the row of Condition.Op
	eval  evaluator
	clear evaluator  // nil: the raise condition no longer holding clears
	terms []termEval // all: the terms, each on its metric
	when  []termEval // Rule.When
}

// looksAt tells whether the rule's when terms let it look at a reading.
func (c *compiled) looksAt(t time.Time, vals map[string]devices.Value, nominal map[string]float64) bool {
	for _, tm := range c.when {
		v, ok := vals[tm.metric]
		if !ok || !tm.eval(&memory{}, t, v, nominal[tm.metric]) {
			return false
		}
	}
	return true
}

// termEval is one compiled term of an all condition.
type termEval struct {
	metric string
	eval   evaluator
}

// holdsAll evaluates the terms of an all rule on one reading, each with
// its own memory; ok false: the reading lacks a term's metric and
// decides nothing.
func (c *compiled) holdsAll(m *memory, t time.Time, vals map[string]devices.Value, nominal map[string]float64) (holds, ok bool) {
	for _, tm := range c.terms {
		if _, has := vals[tm.metric]; !has {
			return false, false
		}
	}
	if len(m.terms()) != len(c.terms) {
		m.withTerms().terms = make([]memory, len(c.terms))
	}
	terms := m.ext.terms
	holds = true
	for i, tm := range c.terms {
		// every term sees every reading, so a rate term's previous value
		// is the previous reading even while another term fails
		if !tm.eval(&terms[i], t, vals[tm.metric], nominal[tm.metric]) {
			holds = false
		}
	}
	return holds, true
}

// evaluator tells whether a condition holds for value v at event time t.
// m is the rule's memory for one device (previous value, trend samples,
// counter offsets); nominal is the device's nominal value of the metric.
type evaluator func(m *memory, t time.Time, v devices.Value, nominal float64) bool

// memory is what a condition remembers between values of one device.
// What only trend, counter and all rules need is kept apart (ext), so that
// the memory of every other rule on every device stays small.
//
// A rule remembers one time and value at most outside ext, so they share
// two fields, of telling what they are: a rate rule's previous value
// (memPrev), an unchanged rule's value at the start of the run and when
// it began (memRef), a calendar rule's last service, or when the device
// was first seen (memService). 32 bytes, not 56: every episode and every
// term of an all rule has one.
type memory struct {
	t   stamp   // memPrev: the previous value's time; memRef: when the run began; memService: the last service
	x   float64 // memPrev: the previous value; memRef: the value at the start of the run
	of  memKind
	has bool // memPrev: there is a previous value; memRef: a run

	ext *memoryExt // trend_crosses, counter_every, all; nil until one needs it
}

// memKind is what a memory's t and x are.
type memKind uint8

const (
	memNone memKind = iota
	memPrev
	memRef
	memService
)

func (m *memory) hasPrev() bool { return m.of == memPrev && m.has }
func (m *memory) hasRef() bool  { return m.of == memRef && m.has }

// service is the last service of a calendar rule (0: none).
func (m *memory) service() stamp {
	if m.of == memService {
		return m.t
	}
	return 0
}

func (m *memory) setService(at stamp) { m.of, m.t, m.x, m.has = memService, at, 0, false }

// serviceMemory is the memory of a calendar rule last serviced at at.
func serviceMemory(at stamp) memory { return memory{of: memService, t: at} }

// memoryExt is the memory of trend, counter and all rules: an all rule's
// terms, and apart what trend and counter rules keep, so that an all
// rule's memory is its terms alone (32 bytes, not 104).
type memoryExt struct {
	*trendMemory // trend_crosses, counter_every; nil until one needs it

	terms []memory // all: each term's memory
}

// trendMemory is the memory of trend and counter rules, and a flap
// guard's record of an episode's raises and clears.
type trendMemory struct {
	samples   []sample  // trend_crosses: the window, thinned
	predicted time.Time // trend_crosses: when the line crosses the value

	hasRaw      bool
	baseNext    bool    // a service was recorded before any value came
	raw         float64 // counter_every: last raw counter value
	offset      float64 // counter_every: counts lost to controller resets
	serviceBase float64 // counter_every: total at the last recorded service

	// toggles: when the episode raised and cleared, under a flap guard
	// only (episode.toggled): any rule's, kept here because few have any.
	toggles []time.Time
}

// terms is the memory of each term of an all condition (none yet: nil).
func (m *memory) terms() []memory {
	if m.ext == nil {
		return nil
	}
	return m.ext.terms
}

// more is the trend and counter part of the memory, made if need be.
func (m *memory) more() *memoryExt {
	x := m.withTerms()
	if x.trendMemory == nil {
		x.trendMemory = &trendMemory{}
	}
	return x
}

// withTerms is the extended memory, made if need be, with no trend and
// counter part made for it (what an all rule needs).
func (m *memory) withTerms() *memoryExt {
	if m.ext == nil {
		m.ext = &memoryExt{}
	}
	return m.ext
}

// trend is the trend and counter part of the memory; nil if none.
func (m *memory) trend() *trendMemory {
	if m.ext == nil {
		return nil
	}
	return m.ext.trendMemory
}

type sample struct {
	t time.Time
	x float64
}

// trendSamples is how many samples a trend window keeps at most: values
// closer together than window/trendSamples are skipped, so memory stays
// bounded whatever the reporting rate.
const trendSamples = 240

// compile checks the condition and builds its evaluator; what each op
// needs is its row in ops.
func (c Condition) compile() (evaluator, error) {
	s, known := c.Op.spec()
	if c.Nominal != 0 {
		if !known || !s.relative {
			return nil, fieldErr("nominal", "applies to %s only", relativeOps())
		}
		if c.Nominal < 0 || math.IsNaN(c.Nominal) || math.IsInf(c.Nominal, 0) {
			return nil, fieldErr("nominal", "%g must be a positive number", c.Nominal)
		}
	}
	switch {
	case c.Op == "":
		return nil, fieldErr("op", "missing")
	case !known:
		return nil, fieldErr("op", "%q is not one of %s", c.Op, opNames())
	case c.Tolerance != 0 && c.Op != OpUnchanged:
		return nil, fieldErr("tolerance", "applies to %s only", OpUnchanged)
	case c.Rating != "" && (!s.relative || c.Nominal != 0 || !slices.Contains(devices.Ratings(), c.Rating)):
		return nil, fieldErr("rating", "%q: applies to %s, without nominal, and names one of %s", c.Rating, relativeOps(), strings.Join(devices.Ratings(), ", "))
	case c.Minus != "" && (!s.relative || c.Nominal != 0):
		return nil, fieldErr("minus", "applies to > >= < <= and outside, without nominal")
	case len(c.Rules) > 0 && s.subject != onBuilding:
		return nil, fieldErr("rules", "applies to building_count and building_alarm only")
	case c.AtLeast != 0 && c.Op != OpBuildingCount:
		return nil, fieldErr("at_least", "applies to building_count only")
	}
	return s.compile(c)
}

// relative turns the value into a percent deviation from nominal when the
// condition has one.
func (c Condition) relative(f func(v devices.Value, x float64) bool) evaluator {
	if c.Rating != "" {
		return func(_ *memory, _ time.Time, v devices.Value, rating float64) bool {
			return rating > 0 && f(v, (v.Float()-rating)/rating*100)
		}
	}
	if c.Nominal == 0 {
		return func(_ *memory, _ time.Time, v devices.Value, _ float64) bool { return f(v, v.Float()) }
	}
	def := c.Nominal
	return func(_ *memory, _ time.Time, v devices.Value, nominal float64) bool {
		if nominal <= 0 {
			nominal = def
		}
		return f(v, (v.Float()-nominal)/nominal*100)
	}
}

// rate compares the change per minute between the previous value and this
// one with the limit. The first value of a device has no rate and holds
// nothing; a value at the same instant as the previous one keeps the
// previous answer out (no division by zero).
func rate(above bool, perMinute float64) evaluator {
	return func(m *memory, t time.Time, v devices.Value, _ float64) bool {
		x := v.Float()
		defer func() { m.of, m.has, m.t, m.x = memPrev, true, stampOf(t), x }()
		prevT := m.t.time()
		if !m.hasPrev() || !t.After(prevT) {
			return false
		}
		r := (x - m.x) / t.Sub(prevT).Minutes()
		if above {
			return r > perMinute
		}
		return r < perMinute
	}
}

// trend fits a least-squares line through the samples of the last window
// and holds when, moving in the feared direction, the line reaches the
// value within horizon of t (or already has). It needs at least three
// samples spanning half the window, so two noisy readings predict nothing.
func trend(value float64, window, horizon time.Duration, rising bool) evaluator {
	spacing := window / trendSamples
	return func(mm *memory, t time.Time, v devices.Value, _ float64) bool {
		m := mm.more()
		x := v.Float()
		if n := len(m.samples); n == 0 || t.Sub(m.samples[n-1].t) >= spacing {
			m.samples = append(m.samples, sample{t, x})
		}
		cut := 0
		for cut < len(m.samples) && t.Sub(m.samples[cut].t) > window {
			cut++
		}
		m.samples = m.samples[cut:]
		m.predicted = time.Time{}
		if len(m.samples) < 3 || t.Sub(m.samples[0].t) < window/2 {
			return false
		}
		slope, at0 := fitLine(m.samples)
		if (rising && slope <= 0) || (!rising && slope >= 0) {
			return false
		}
		t0 := m.samples[0].t
		cross := t0.Add(time.Duration((value - at0) / slope * float64(time.Second))).Round(time.Second)
		if cross.After(t.Add(horizon)) {
			return false
		}
		if cross.Before(t) {
			cross = t
		}
		m.predicted = cross
		return true
	}
}

// fitLine returns the slope per second and the value at the first sample's
// time of the least-squares line through the samples.
func fitLine(s []sample) (slope, at0 float64) {
	t0 := s[0].t
	var n, sx, sy, sxx, sxy float64
	for _, p := range s {
		x := p.t.Sub(t0).Seconds()
		n++
		sx += x
		sy += p.x
		sxx += x * x
		sxy += x * p.x
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, sy / n
	}
	slope = (n*sxy - sx*sy) / d
	return slope, (sy - slope*sx) / n
}

// counterEvery holds once the counter has grown by every since the last
// recorded service (from zero when none is recorded). A counter that goes
// down was reset by its controller: the counts before the reset are kept
// as an offset, so a reset neither hides nor re-raises a due service.
func counterEvery(every float64) evaluator {
	return func(mm *memory, _ time.Time, v devices.Value, _ float64) bool {
		m := mm.more()
		raw := v.Float()
		if m.hasRaw && raw < m.raw {
			m.offset += m.raw
		}
		m.hasRaw, m.raw = true, raw
		if m.baseNext {
			m.serviceBase, m.baseNext = m.offset+raw, false
		}
		return m.offset+raw-m.serviceBase >= every
	}
}

// total is the counter's value with resets added back.
func (m *memoryExt) total() float64 { return m.offset + m.raw }

func number(v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		f = x
	case nil:
		return 0, errors.New("missing")
	default:
		return 0, fmt.Errorf("%v is not a number", v)
	}
	return f, finite(f)
}

func finite(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%v is not a finite number", f)
	}
	return nil
}

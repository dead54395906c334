package rules

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// compiled is a validated rule ready to evaluate.
type compiled struct {
	Rule
	eval  evaluator
	clear evaluator // nil: the raise condition no longer holding clears
}

// evaluator tells whether a condition holds for value v at event time t.
// m is the rule's memory for one device (previous value, trend samples,
// counter offsets); nominal is the device's nominal value of the metric.
type evaluator func(m *memory, t time.Time, v devices.Value, nominal float64) bool

// memory is what a condition remembers between values of one device.
type memory struct {
	hasPrev bool
	prevT   time.Time
	prevX   float64

	samples   []sample  // trend_crosses: the window, thinned
	predicted time.Time // trend_crosses: when the line crosses the value

	hasRaw      bool
	raw         float64 // counter_every: last raw counter value
	offset      float64 // counter_every: counts lost to controller resets
	serviceBase float64 // counter_every: total at the last recorded service
	baseNext    bool    // a service was recorded before any value came
}

type sample struct {
	t time.Time
	x float64
}

// trendSamples is how many samples a trend window keeps at most: values
// closer together than window/trendSamples are skipped, so memory stays
// bounded whatever the reporting rate.
const trendSamples = 240

// class groups ops whose memory means the same thing; a rule replaced by
// one of the same class, kind and metric keeps its per-device state.
func (c Condition) class() string {
	switch c.Op {
	case ">", ">=", "<", "<=", "==", "!=", "outside", "is":
		return "value"
	}
	return c.Op
}

func (c Condition) compile() (evaluator, error) {
	if c.Nominal != 0 {
		switch c.Op {
		case ">", ">=", "<", "<=", "outside":
		default:
			return nil, fieldErr("nominal", "applies to > >= < <= and outside only")
		}
		if c.Nominal < 0 || math.IsNaN(c.Nominal) || math.IsInf(c.Nominal, 0) {
			return nil, fieldErr("nominal", "%g must be a positive number", c.Nominal)
		}
	}
	switch c.Op {
	case ">", ">=", "<", "<=", "==", "!=":
		x, err := number(c.Value)
		if err != nil {
			return nil, fieldErr("value", "%v", err)
		}
		cmp := compare(c.Op, x)
		return c.relative(func(v devices.Value, f float64) bool { return (!v.IsFlag || c.Op == "==" || c.Op == "!=") && cmp(f) }), nil
	case "outside":
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
	case "is":
		b, ok := c.Value.(bool)
		if !ok {
			return nil, fieldErr("value", "%v must be true or false for op is", c.Value)
		}
		return func(_ *memory, _ time.Time, v devices.Value, _ float64) bool { return v.IsFlag && v.Flag == b }, nil
	case "event":
		if c.Event == "" {
			return nil, fieldErr("event", "missing for op event")
		}
		return func(_ *memory, _ time.Time, v devices.Value, _ float64) bool { return v.Flag }, nil
	case "rate_above", "rate_below":
		if err := finite(c.PerMinute); err != nil || c.PerMinute == 0 {
			return nil, fieldErr("per_minute", "must be a non-zero number (change per minute; negative for a fall)")
		}
		return rate(c.Op == "rate_above", c.PerMinute), nil
	case "trend_crosses":
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
	case "counter_every":
		if err := finite(c.Every); err != nil || c.Every <= 0 {
			return nil, fieldErr("every", "must be a positive number of counts")
		}
		return counterEvery(c.Every), nil
	case "stale":
		if c.After <= 0 {
			return nil, fieldErr("after", "must be a positive duration")
		}
		return func(*memory, time.Time, devices.Value, float64) bool { return false }, nil
	case "":
		return nil, fieldErr("op", "missing")
	default:
		return nil, fieldErr("op", "%q is not one of > >= < <= == != outside is event rate_above rate_below trend_crosses counter_every stale", c.Op)
	}
}

// relative turns the value into a percent deviation from nominal when the
// condition has one.
func (c Condition) relative(f func(v devices.Value, x float64) bool) evaluator {
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

func compare(op string, x float64) func(float64) bool {
	switch op {
	case ">":
		return func(f float64) bool { return f > x }
	case ">=":
		return func(f float64) bool { return f >= x }
	case "<":
		return func(f float64) bool { return f < x }
	case "<=":
		return func(f float64) bool { return f <= x }
	case "==":
		return func(f float64) bool { return f == x }
	default:
		return func(f float64) bool { return f != x }
	}
}

// rate compares the change per minute between the previous value and this
// one with the limit. The first value of a device has no rate and holds
// nothing; a value at the same instant as the previous one keeps the
// previous answer out (no division by zero).
func rate(above bool, perMinute float64) evaluator {
	return func(m *memory, t time.Time, v devices.Value, _ float64) bool {
		x := v.Float()
		defer func() { m.hasPrev, m.prevT, m.prevX = true, t, x }()
		if !m.hasPrev || !t.After(m.prevT) {
			return false
		}
		r := (x - m.prevX) / t.Sub(m.prevT).Minutes()
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
	return func(m *memory, t time.Time, v devices.Value, _ float64) bool {
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
	return func(m *memory, _ time.Time, v devices.Value, _ float64) bool {
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
func (m *memory) total() float64 { return m.offset + m.raw }

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

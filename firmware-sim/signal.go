package firmwaresim

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// conditions are the faults a scenario puts a device in at one instant;
// the signal models turn them into readings the way the real thing would.
type conditions struct {
	sagV        float64 // power: supply sagged to this voltage (0: none)
	outage      bool    // power: supply lost
	wear        float64 // elevator: bearing wear, 0 (new) to 1 (about to seize)
	sensorFault bool    // gas: the detector head reports a fault
	stuck       bool    // gas: the LEL channel hangs: it reports the value it read when this began
	phaseLoss   int     // power: this phase (1-3) is lost (0: none)
	neutralLoss int     // power: the neutral is broken and this phase (1-3) climbs towards 380 V
	leakageMA   float64 // power: residual (earth leakage) current, mA (0: normal)
	stall       bool    // elevator: the car stopped between floors (outside the door zone), doors shut
}

// model produces the behaviour of one device at a time since the start.
// Samples come at increasing times; models with state integrate between
// them.
type model interface {
	sample(elapsed time.Duration, rng *rand.Rand, c conditions) map[string]devices.Value
}

func newModel(d devices.Device, rng *rand.Rand) model {
	switch d.Kind {
	case devices.KindGas:
		return &gasModel{zero: rng.Float64() * 0.4, driftPerDay: 0.1 + rng.Float64()*0.3}
	case devices.KindWaterLeak:
		return &leakModel{battery: 80 + rng.Float64()*20, drainPerDay: 0.05 + rng.Float64()*0.1}
	case devices.KindPower:
		nominal := 220.0
		if v, ok := d.Nominal["voltage_v"]; ok && v > 0 {
			nominal = v
		}
		m := &powerModel{nominal: nominal, peak: 40 + rng.Float64()*40, energy: rng.Float64() * 50000}
		// The phases draw from a source of their own, seeded from the
		// shared one's results, so the metrics the meter had before keep
		// their seeded values.
		m.phases = rand.New(rand.NewPCG(math.Float64bits(m.peak), math.Float64bits(m.energy)))
		for i := range m.vOff {
			m.vOff[i] = (m.phases.Float64()*2 - 1) * 1.2
			m.aShare[i] = (m.phases.Float64()*2 - 1) * 0.08
		}
		return m
	case devices.KindElevator:
		return newElevator(rng)
	default:
		return nil
	}
}

// gasModel: a detector that reads near zero, with a zero point that drifts
// slowly upward (sensor ageing) and a fault flag the scenario can raise;
// a faulted head reads 0. A stuck LEL channel keeps reporting the value it
// read when it hung, with no fault flag (the controller sees nothing).
type gasModel struct {
	zero, driftPerDay float64
	frozen            bool
	frozenLEL         float64
}

func (m *gasModel) sample(el time.Duration, rng *rand.Rand, c conditions) map[string]devices.Value {
	lel := math.Max(0, m.zero+m.driftPerDay*el.Hours()/24+rng.NormFloat64()*0.15)
	co := math.Max(0, 2+rng.NormFloat64()*0.8)
	if c.sensorFault {
		lel, co = 0, 0
	}
	switch {
	case c.stuck && !m.frozen:
		m.frozen, m.frozenLEL = true, round(lel, 2)
	case !c.stuck:
		m.frozen = false
	}
	if m.frozen {
		lel = m.frozenLEL
	}
	return map[string]devices.Value{
		"lel_pct": devices.Num(round(lel, 2)),
		"co_ppm":  devices.Num(round(co, 1)),
		"fault":   devices.FlagValue(c.sensorFault),
	}
}

// leakModel: a dry probe whose battery drains a little every day.
type leakModel struct{ battery, drainPerDay float64 }

func (m *leakModel) sample(el time.Duration, _ *rand.Rand, _ conditions) map[string]devices.Value {
	b := m.battery - m.drainPerDay*el.Hours()/24
	return map[string]devices.Value{
		"leak":        devices.FlagValue(false),
		"battery_pct": devices.Num(round(math.Max(0, b), 1)),
		"fault":       devices.FlagValue(false),
	}
}

// powerModel: a three-phase load with a daily curve (the simulated day
// starts at 08:00 and peaks mid-afternoon) and noise; a sag pulls the
// voltage down, an outage reads zero and stops the energy counter. The
// three phases sit a volt or so apart around the mean (voltage_v) and
// share the current a little unevenly; a lost phase reads 0 V, a broken
// neutral shifts the star point so one phase climbs to 1.4x nominal and
// the other two fall to 0.87x; leakage sets the residual current.
type powerModel struct {
	nominal, peak float64
	energy        float64
	last          time.Duration
	phases        *rand.Rand
	vOff, aShare  [2]float64 // phases 1 and 2; phase 3 balances them
}

// startHour is the hour of the simulated day at elapsed 0.
const startHour = 8

func (m *powerModel) sample(el time.Duration, rng *rand.Rand, c conditions) map[string]devices.Value {
	hour := math.Mod(el.Hours()+startHour, 24)
	load := m.peak * (0.55 + 0.45*math.Sin((hour-9)/24*2*math.Pi))
	load = math.Max(1, load+rng.NormFloat64()*1.5)
	v := m.nominal + rng.NormFloat64()*1.5
	freq := 50 + rng.NormFloat64()*0.02
	pf := math.Min(1, 0.95+rng.NormFloat64()*0.01)
	if c.sagV > 0 {
		v = c.sagV + rng.NormFloat64()*0.5
		load *= (v / m.nominal) * (v / m.nominal) // a resistive load draws less
	}
	if c.outage {
		v, load, freq, pf = 0, 0, 0, 0
	}
	if c.phaseLoss > 0 && !c.outage {
		load *= 2.0 / 3
	}
	if el > m.last {
		m.energy += load * (el - m.last).Hours()
		m.last = el
	}
	current := 0.0
	if v > 0 && pf > 0 {
		current = load * 1000 / (v * math.Sqrt(3) * pf)
	}
	// Phase voltages and currents around the means.
	d1 := m.vOff[0] + m.phases.NormFloat64()*0.4
	d2 := m.vOff[1] + m.phases.NormFloat64()*0.4
	u1 := m.aShare[0] + m.phases.NormFloat64()*0.01
	u2 := m.aShare[1] + m.phases.NormFloat64()*0.01
	residual := math.Max(0, 20+15*load/m.peak+m.phases.NormFloat64()*3)
	var lv, la [3]float64
	if v > 0 {
		lv = [3]float64{v + d1, v + d2, v - d1 - d2}
		la = [3]float64{current * (1 + u1), current * (1 + u2), current * (1 - u1 - u2)}
	}
	// Phasors at their ideal angles, then the faults.
	var ph [3]complex128
	for i := range ph {
		ph[i] = cmplx.Rect(lv[i], -2*math.Pi/3*float64(i))
	}
	if k := c.neutralLoss; k > 0 && v > 0 {
		shift := cmplx.Rect(0.4*v, -2*math.Pi/3*float64(k-1))
		for i := range ph {
			ph[i] += shift
		}
	}
	if k := c.phaseLoss; k > 0 {
		ph[k-1], la[k-1] = 0, 0
	}
	if c.leakageMA > 0 && v > 0 {
		residual = c.leakageMA + m.phases.NormFloat64()*2
	}
	if v == 0 {
		residual = 0
	}
	mean := 0.0
	for i := range ph {
		lv[i] = cmplx.Abs(ph[i])
		mean += lv[i] / 3
	}
	volts := v
	if c.phaseLoss > 0 || c.neutralLoss > 0 {
		volts = mean
	}
	return map[string]devices.Value{
		"voltage_v":             devices.Num(round(volts, 1)),
		"current_a":             devices.Num(round(current, 1)),
		"power_kw":              devices.Num(round(load, 2)),
		"frequency_hz":          devices.Num(round(freq, 2)),
		"power_factor":          devices.Num(round(pf, 3)),
		"energy_kwh":            devices.Num(round(m.energy, 1)),
		"l1_v":                  devices.Num(round(lv[0], 1)),
		"l2_v":                  devices.Num(round(lv[1], 1)),
		"l3_v":                  devices.Num(round(lv[2], 1)),
		"l1_a":                  devices.Num(round(la[0], 1)),
		"l2_a":                  devices.Num(round(la[1], 1)),
		"l3_a":                  devices.Num(round(la[2], 1)),
		"residual_ma":           devices.Num(round(residual, 0)),
		"voltage_unbalance_pct": devices.Num(round(unbalance(ph), 2)),
	}
}

// unbalance is the negative-sequence voltage unbalance of GB/T 15543-2008
// (U2/U1 in percent), from the line voltages, so a shifted star point
// (a broken neutral, zero sequence only) does not show in it and a lost
// phase does (50%). No voltage: 0.
func unbalance(ph [3]complex128) float64 {
	a := cmplx.Rect(1, 2*math.Pi/3)
	ab, bc, ca := ph[0]-ph[1], ph[1]-ph[2], ph[2]-ph[0]
	u1 := (ab + a*bc + a*a*ca) / 3
	u2 := (ab + a*a*bc + a*ca) / 3
	if cmplx.Abs(u1) < 1 {
		return 0
	}
	return cmplx.Abs(u2) / cmplx.Abs(u1) * 100
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

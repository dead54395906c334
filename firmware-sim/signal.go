package firmwaresim

import (
	"math"
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
		return &powerModel{nominal: nominal, peak: 40 + rng.Float64()*40, energy: rng.Float64() * 50000}
	case devices.KindElevator:
		return newElevator(rng)
	default:
		return nil
	}
}

// gasModel: a detector that reads near zero, with a zero point that drifts
// slowly upward (sensor ageing) and a fault flag the scenario can raise;
// a faulted head reads 0.
type gasModel struct{ zero, driftPerDay float64 }

func (m *gasModel) sample(el time.Duration, rng *rand.Rand, c conditions) map[string]devices.Value {
	lel := math.Max(0, m.zero+m.driftPerDay*el.Hours()/24+rng.NormFloat64()*0.15)
	co := math.Max(0, 2+rng.NormFloat64()*0.8)
	if c.sensorFault {
		lel, co = 0, 0
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
	}
}

// powerModel: a three-phase load with a daily curve (the simulated day
// starts at 08:00 and peaks mid-afternoon) and noise; a sag pulls the
// voltage down, an outage reads zero and stops the energy counter.
type powerModel struct {
	nominal, peak float64
	energy        float64
	last          time.Duration
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
	if el > m.last {
		m.energy += load * (el - m.last).Hours()
		m.last = el
	}
	current := 0.0
	if v > 0 && pf > 0 {
		current = load * 1000 / (v * math.Sqrt(3) * pf)
	}
	return map[string]devices.Value{
		"voltage_v":    devices.Num(round(v, 1)),
		"current_a":    devices.Num(round(current, 1)),
		"power_kw":     devices.Num(round(load, 2)),
		"frequency_hz": devices.Num(round(freq, 2)),
		"power_factor": devices.Num(round(pf, 3)),
		"energy_kwh":   devices.Num(round(m.energy, 1)),
	}
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

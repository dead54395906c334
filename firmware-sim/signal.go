package firmwaresim

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// model produces the normal behaviour of one device at a time since start.
type model interface {
	sample(elapsed time.Duration, rng *rand.Rand) map[string]devices.Value
}

func newModel(d devices.Device, rng *rand.Rand) model {
	switch d.Kind {
	case devices.KindGas:
		return &gasModel{drift: rng.Float64() * 0.5}
	case devices.KindWaterLeak:
		return &leakModel{battery: 80 + rng.Float64()*20}
	case devices.KindPower:
		return &powerModel{nominal: 220, peak: 40 + rng.Float64()*40}
	case devices.KindElevator:
		return &elevatorModel{floors: 12, cycles: rng.Float64() * 100000}
	default:
		return nil
	}
}

// gasModel: a detector near zero with a small slow sensor drift.
type gasModel struct{ drift float64 }

func (m *gasModel) sample(el time.Duration, rng *rand.Rand) map[string]devices.Value {
	lel := math.Max(0, m.drift+rng.NormFloat64()*0.2)
	return map[string]devices.Value{
		"lel_pct": devices.Num(round(lel, 2)),
		"co_ppm":  devices.Num(round(math.Max(0, 2+rng.NormFloat64()), 1)),
		"fault":   devices.FlagValue(false),
	}
}

// leakModel: a dry probe whose battery drains slowly.
type leakModel struct{ battery float64 }

func (m *leakModel) sample(el time.Duration, rng *rand.Rand) map[string]devices.Value {
	b := m.battery - el.Hours()*0.01
	return map[string]devices.Value{
		"leak":        devices.FlagValue(false),
		"battery_pct": devices.Num(round(math.Max(0, b), 1)),
	}
}

// powerModel: a load with a daily curve (peak mid-afternoon) and noise.
type powerModel struct {
	nominal, peak float64
	energy        float64
	last          time.Duration
}

func (m *powerModel) sample(el time.Duration, rng *rand.Rand) map[string]devices.Value {
	hour := math.Mod(el.Hours()+8, 24) // the simulated day starts at 08:00
	load := m.peak * (0.55 + 0.45*math.Sin((hour-9)/24*2*math.Pi))
	load = math.Max(1, load+rng.NormFloat64()*1.5)
	v := m.nominal + rng.NormFloat64()*1.5
	m.energy += load * (el - m.last).Hours()
	m.last = el
	return map[string]devices.Value{
		"voltage_v":    devices.Num(round(v, 1)),
		"current_a":    devices.Num(round(load*1000/(v*math.Sqrt(3)*0.95), 1)),
		"power_kw":     devices.Num(round(load, 2)),
		"frequency_hz": devices.Num(round(50+rng.NormFloat64()*0.02, 2)),
		"power_factor": devices.Num(round(0.95+rng.NormFloat64()*0.01, 3)),
		"energy_kwh":   devices.Num(round(m.energy, 3)),
	}
}

// elevatorModel: a car moving between floors, doors cycling.
type elevatorModel struct {
	floors int
	cycles float64
	floor  int
}

func (m *elevatorModel) sample(el time.Duration, rng *rand.Rand) map[string]devices.Value {
	running := rng.Float64() < 0.6
	if running {
		m.floor = rng.IntN(m.floors) + 1
	} else {
		m.cycles++
	}
	return map[string]devices.Value{
		"motor_temp_c":   devices.Num(round(45+rng.NormFloat64()*0.8, 1)),
		"vibration_mm_s": devices.Num(round(math.Abs(1.2+rng.NormFloat64()*0.2), 2)),
		"door_cycles":    devices.Num(math.Floor(m.cycles)),
		"car_floor":      devices.Num(float64(m.floor)),
		"running":        devices.FlagValue(running),
		"door_open":      devices.FlagValue(!running),
	}
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

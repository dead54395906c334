package firmwaresim

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Elevator timing, as a mid-rise passenger lift behaves.
const (
	elevFloors     = 12
	elevPerFloor   = 2 * time.Second // travel time per floor
	elevDoorsOpen  = 6 * time.Second // doors open at a landing
	elevMinIdle    = 2 * time.Second
	elevMaxIdle    = 40 * time.Second
	elevTempTau    = 10 * time.Minute // motor thermal time constant
	elevAmbientC   = 30.0
	elevRunRiseC   = 15.0 // motor above ambient when running all the time
	elevWearRiseC  = 30.0 // extra heat of a worn-out bearing
	elevWearVibMmS = 8.0  // extra vibration of a worn-out bearing
	// elevDoorZone is the unlocking (door) zone either side of a landing as
	// a fraction of the floor height: 0.2 m of a 3 m floor.
	elevDoorZone = 0.2 / 3
)

type elevPhase int

const (
	phaseIdle   elevPhase = iota // doors closed, waiting for a call
	phaseMoving                  // travelling to target
	phaseDoors                   // doors open at a landing
)

// elevatorModel: a car that answers calls between floors. Every stop opens
// the doors once (door_cycles counts up), the motor warms while running and
// cools while idle, and a degrading bearing adds heat and vibration.
type elevatorModel struct {
	phase    elevPhase
	phaseEnd time.Duration
	floor    int
	target   int
	cycles   float64
	tempC    float64
	now      time.Duration
	rng      *rand.Rand
}

func newElevator(rng *rand.Rand) *elevatorModel {
	return &elevatorModel{
		floor:    1,
		cycles:   math.Floor(rng.Float64() * 100000),
		tempC:    elevAmbientC + 5,
		phaseEnd: randDur(rng, elevMinIdle, elevMaxIdle),
		rng:      rng,
	}
}

func randDur(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// advance runs the car's state machine up to el, one phase at a time.
func (m *elevatorModel) advance(el time.Duration, wear float64) {
	for m.now < el {
		step := min(el, m.phaseEnd) - m.now
		running := m.phase == phaseMoving
		m.warm(step, running, wear)
		m.now += step
		if m.now < m.phaseEnd {
			return
		}
		switch m.phase {
		case phaseIdle:
			m.target = m.rng.IntN(elevFloors-1) + 1
			if m.target >= m.floor {
				m.target++ // never the floor it is at
			}
			m.phase = phaseMoving
			m.phaseEnd = m.now + time.Duration(abs(m.target-m.floor))*elevPerFloor
		case phaseMoving:
			m.floor = m.target
			m.cycles++
			m.phase = phaseDoors
			m.phaseEnd = m.now + elevDoorsOpen
		case phaseDoors:
			m.phase = phaseIdle
			m.phaseEnd = m.now + randDur(m.rng, elevMinIdle, elevMaxIdle)
		}
	}
}

// warm moves the motor temperature toward where running (or not) and the
// bearing's wear would settle it.
func (m *elevatorModel) warm(d time.Duration, running bool, wear float64) {
	target := elevAmbientC + elevWearRiseC*wear
	if running {
		target += elevRunRiseC
	}
	k := 1 - math.Exp(-float64(d)/float64(elevTempTau))
	m.tempC += (target - m.tempC) * k
}

// inDoorZone tells whether the car is within the unlocking zone of a
// landing: always at rest, while moving only as it passes a landing.
func (m *elevatorModel) inDoorZone() bool {
	if m.phase != phaseMoving {
		return true
	}
	frac := float64((m.phaseEnd-m.now)%elevPerFloor) / float64(elevPerFloor)
	return frac < elevDoorZone || frac > 1-elevDoorZone
}

// carFloor is where the car is; while moving, the floor it is passing.
func (m *elevatorModel) carFloor() int {
	if m.phase != phaseMoving {
		return m.floor
	}
	left := int((m.phaseEnd - m.now + elevPerFloor - 1) / elevPerFloor)
	if m.target > m.floor {
		return m.target - left
	}
	return m.target + left
}

func (m *elevatorModel) sample(el time.Duration, rng *rand.Rand, c conditions) map[string]devices.Value {
	if c.stall {
		// Stopped between floors: the state machine waits, the motor
		// cools at rest.
		m.warm(el-m.now, false, c.wear)
		m.phaseEnd += el - m.now
		m.now = el
	} else {
		m.advance(el, c.wear)
	}
	running := m.phase == phaseMoving && !c.stall
	vib := 0.1 + math.Abs(rng.NormFloat64()*0.05)
	if running {
		vib = 1.2 + elevWearVibMmS*c.wear*c.wear + rng.NormFloat64()*0.15
	}
	return map[string]devices.Value{
		"motor_temp_c":   devices.Num(round(m.tempC+rng.NormFloat64()*0.2, 1)),
		"vibration_mm_s": devices.Num(round(math.Max(0, vib), 2)),
		"door_cycles":    devices.Num(m.cycles),
		"car_floor":      devices.Num(float64(m.carFloor())),
		"running":        devices.FlagValue(running),
		"door_open":      devices.FlagValue(m.phase == phaseDoors && !c.stall),
		"door_zone":      devices.FlagValue(m.inDoorZone() && !c.stall),
		"overload":       devices.FlagValue(false),
		"load_fault":     devices.FlagValue(false),
		"inspection":     devices.FlagValue(false),
		// the machine room follows the day by a degree and a half
		"machine_room_temp_c": devices.Num(round(elevAmbientC+1.5*math.Sin(2*math.Pi*el.Hours()/24), 1)),
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

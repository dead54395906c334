// Package tsdbdata makes the readings the embedded store candidates are
// measured with (bench's TestStoreCandidates and bench/promtsdb): a site
// of gas detectors, power meters and climate sensors reporting every 1 s
// to 60 s, times with the jitter of a receipt clock, values as devices
// send them (decimals of few digits, mostly flat, counting or wandering).
// The same seed gives the same readings.
package tsdbdata

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Start is when the readings begin.
var Start = time.UnixMilli(1795395500000)

// Series is one metric of one device.
type Series struct {
	Device, Kind, Metric string
}

// Device is one device and the pace it reports at.
type Device struct {
	ID, Kind string
	Every    time.Duration
	Metrics  []string
}

// Devices are n devices: 60% gas detectors, 20% power meters, 20% climate
// sensors, reporting every 1, 5, 10, 30 or 60 s.
func Devices(n int) []Device {
	paces := []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, 60 * time.Second}
	out := make([]Device, n)
	for i := range out {
		d := Device{Every: paces[i%len(paces)]}
		switch {
		case i%5 < 3:
			d.ID, d.Kind, d.Metrics = fmt.Sprintf("gas-%04d", i), "gas", []string{"co_ppm", "fault", "lel_pct"}
		case i%5 == 3:
			d.ID, d.Kind, d.Metrics = fmt.Sprintf("meter-%04d", i), "power", []string{"amps", "kwh", "volts"}
		default:
			d.ID, d.Kind, d.Metrics = fmt.Sprintf("climate-%04d", i), "climate", []string{"humidity_pct", "temp_c"}
		}
		out[i] = d
	}
	return out
}

// Each calls fn with every reading of devs over d, in time order: the
// device, its time and its values (in the order of Device.Metrics), the
// slice reused.
func Each(devs []Device, d time.Duration, fn func(dev int, at time.Time, values []float64)) {
	type state struct {
		next     time.Time
		walk     float64
		counter  float64
		values   []float64
		rng      *rand.Rand
		gasEvent int
	}
	st := make([]state, len(devs))
	for i := range st {
		st[i] = state{next: Start.Add(time.Duration(i) * time.Millisecond * 37 % devs[i].Every), walk: 21, counter: 1000 + float64(i),
			values: make([]float64, len(devs[i].Metrics)), rng: rand.New(rand.NewPCG(uint64(i), 42))}
	}
	end := Start.Add(d)
	// Second by second, each device sends what is due.
	for t := Start; t.Before(end); t = t.Add(time.Second) {
		for i := range devs {
			s := &st[i]
			for s.next.Before(t.Add(time.Second)) && s.next.Before(end) {
				values(devs[i].Kind, s.rng, &s.walk, &s.counter, &s.gasEvent, s.values)
				at := s.next.Add(time.Duration(s.rng.IntN(50)) * time.Millisecond) // receipt jitter
				fn(i, at, s.values)
				s.next = s.next.Add(devs[i].Every)
			}
		}
	}
}

func values(kind string, rng *rand.Rand, walk, counter *float64, event *int, out []float64) {
	round := func(v float64, digits int) float64 {
		p := math.Pow10(digits)
		return math.Round(v*p) / p
	}
	switch kind {
	case "gas": // co_ppm, fault, lel_pct: clean air with a rare leak
		if *event == 0 && rng.IntN(5000) == 0 {
			*event = 60 + rng.IntN(300)
		}
		lel := 0.0
		if *event > 0 {
			*event--
			lel = round(5+rng.Float64()*20, 1)
		} else if rng.IntN(8) == 0 {
			lel = round(rng.Float64()*0.4, 1)
		}
		out[0] = float64(rng.IntN(3) / 2)
		out[1] = 0
		out[2] = lel
	case "power": // amps, kwh, volts
		amps := round(12+rng.NormFloat64()*1.5, 2)
		*counter += amps * 230 / 3.6e6 * 60
		out[0] = amps
		out[1] = round(*counter, 2)
		out[2] = round(230+rng.NormFloat64()*1.2, 1)
	default: // humidity_pct, temp_c: slow wander
		*walk += rng.NormFloat64() * 0.05
		out[0] = math.Round(45 + (*walk-21)*3)
		out[1] = round(*walk, 1)
	}
}

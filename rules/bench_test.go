package rules

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// benchEstate is 10 000 devices, 2 500 of each kind, with the default pack.
func benchEstate(b *testing.B, sink AlarmSink) (*Engine, []devices.Reading, *testkit.FakeClock) {
	b.Helper()
	pack, err := DefaultPack()
	if err != nil {
		b.Fatal(err)
	}
	reg := fakeDevices{}
	kinds := devices.Kinds()
	var rs []devices.Reading
	for i := 0; i < 10000; i++ {
		k := kinds[i%len(kinds)]
		id := fmt.Sprintf("%s-%05d", k, i)
		reg[id] = devices.Device{ID: id, Kind: k, Site: "s1", Building: fmt.Sprintf("B%d", i%40)}
		rs = append(rs, devices.Reading{Device: id, Kind: k, Site: "s1", Building: reg[id].Building, Values: normal(k)})
	}
	clk := testkit.NewFakeClock(t0)
	e, err := NewEngine(Config{Rules: pack, Sink: sink, Devices: reg, Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	return e, rs, clk
}

// normal is a quiet reading of every metric of a kind.
func normal(k devices.Kind) map[string]devices.Value {
	switch k {
	case devices.KindElevator:
		return map[string]devices.Value{"motor_temp_c": devices.Num(55), "vibration_mm_s": devices.Num(1.8),
			"door_cycles": devices.Num(120000), "car_floor": devices.Num(3), "running": devices.FlagValue(true),
			"door_open": devices.FlagValue(false)}
	case devices.KindWaterLeak:
		return map[string]devices.Value{"leak": devices.FlagValue(false), "battery_pct": devices.Num(80)}
	case devices.KindPower:
		return map[string]devices.Value{"voltage_v": devices.Num(221), "current_a": devices.Num(40), "power_kw": devices.Num(8),
			"frequency_hz": devices.Num(50), "power_factor": devices.Num(0.95), "energy_kwh": devices.Num(1e5)}
	default:
		return map[string]devices.Value{"lel_pct": devices.Num(2), "co_ppm": devices.Num(5), "fault": devices.FlagValue(false)}
	}
}

// evaluations counts the rule evaluations one reading causes.
func evaluations(e *Engine, r devices.Reading) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.planFor(r.Device, r.Kind, r.Site, r.Building).rules {
		if _, ok := r.Values[c.Metric]; ok && c.Condition.Op != "event" {
			n++
		}
	}
	return n
}

// BenchmarkEngineReadings: quiet readings round-robin over 10 000 devices,
// one second of event time per sweep. Reports readings/s and rule
// evaluations/s.
func BenchmarkEngineReadings(b *testing.B) {
	e, rs, clk := benchEstate(b, nil)
	ctx := context.Background()
	evals := 0
	for _, r := range rs {
		evals += evaluations(e, r)
	}
	perReading := float64(evals) / float64(len(rs))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rs[i%len(rs)]
		r.Time = t0.Add(time.Duration(i/len(rs)) * time.Second)
		if i%len(rs) == 0 {
			clk.Set(r.Time)
		}
		e.Reading(ctx, r)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "readings/s")
	b.ReportMetric(float64(b.N)*perReading/sec, "evals/s")
}

// BenchmarkEngineTick: one Tick over 10 000 watched devices (staleness
// and pending durations), as Run does every second.
func BenchmarkEngineTick(b *testing.B) {
	e, rs, clk := benchEstate(b, nil)
	ctx := context.Background()
	for _, r := range rs {
		r.Time = t0
		e.Reading(ctx, r)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now := t0.Add(time.Duration(i%30) * time.Second) // never stale: 2 min not reached
		clk.Set(now)
		e.Tick(ctx, now)
	}
}

// latencySink records when each alarm reached it.
type latencySink struct{ at []time.Time }

func (s *latencySink) HandleAlarm(_ context.Context, a Alarm) error {
	if a.State == Raised {
		s.at = append(s.at, time.Now())
	}
	return nil
}

// BenchmarkReadingToAlarm: with 10 000 devices warm, one gas detector at a
// time crosses 20 %LEL; the time from the reading entering the engine to
// the sink holding the L1 alarm is measured (p50, p99). Each iteration
// also clears it again (two low readings, so clear_for is met).
func BenchmarkReadingToAlarm(b *testing.B) {
	sink := &latencySink{}
	e, rs, clk := benchEstate(b, sink)
	ctx := context.Background()
	for _, r := range rs {
		r.Time = t0
		e.Reading(ctx, r)
	}
	var gas []devices.Reading
	for _, r := range rs {
		if r.Kind == devices.KindGas {
			gas = append(gas, r)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := gas[i%len(gas)]
		ts := t0.Add(time.Duration(2*i+1) * time.Minute)
		clk.Set(ts)
		hot := r
		hot.Time, hot.Values = ts, map[string]devices.Value{"lel_pct": devices.Num(35)}
		n := len(sink.at)
		start := time.Now()
		e.Reading(ctx, hot)
		if len(sink.at) == n {
			b.Fatalf("no alarm for %s", r.Device)
		}
		lat = append(lat, sink.at[n].Sub(start))
		// two low readings 11 s apart: the clear holds for clear_for (10 s)
		for _, d := range []time.Duration{30 * time.Second, 41 * time.Second} {
			cool := r
			cool.Time, cool.Values = ts.Add(d), map[string]devices.Value{"lel_pct": devices.Num(1)}
			clk.Set(cool.Time)
			e.Reading(ctx, cool)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

package rules

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// genHistory is an in-memory history that makes its values as they are
// asked for: one lel_pct value a minute per device, quiet at 2-4% with a
// rise to 12-30% for a quarter of an hour every eight hours or so (each
// device at its own times), so the rules raise and clear.
type genHistory struct {
	from time.Time
	step time.Duration
}

func genValue(dev, i int) float64 {
	h := uint32(dev*2654435761) ^ uint32(i*40503)
	if (i+dev*97)%480 < 15 {
		return 12 + float64(h%19)
	}
	return 2 + float64(h%3)
}

func (g genHistory) index(q devices.Query) (dev, first, last int) {
	fmt.Sscanf(q.Device, "gas-%d", &dev)
	first = int((q.From.Sub(g.from) + g.step - 1) / g.step)
	last = int((q.To.Sub(g.from) + g.step - 1) / g.step)
	return dev, max(first, 0), last
}

func (g genHistory) Readings(_ context.Context, q devices.Query) ([]devices.Point, error) {
	if q.Metric != "" && q.Metric != "lel_pct" {
		return nil, nil
	}
	dev, first, last := g.index(q)
	out := make([]devices.Point, 0, last-first)
	for i := first; i < last; i++ {
		out = append(out, devices.Point{Time: g.from.Add(time.Duration(i) * g.step), Metric: "lel_pct", Value: genValue(dev, i)})
	}
	return out, nil
}

// genStream is genHistory read as a stream: it makes each value as it
// hands it over, and holds none.
type genStream struct{ genHistory }

func (g genStream) ReadingsFunc(_ context.Context, q devices.Query, fn func(devices.Point) error) error {
	if q.Metric != "" && q.Metric != "lel_pct" {
		return nil
	}
	dev, first, last := g.index(q)
	for i := first; i < last; i++ {
		if err := fn(devices.Point{Time: g.from.Add(time.Duration(i) * g.step), Metric: "lel_pct", Value: genValue(dev, i)}); err != nil {
			return err
		}
	}
	return nil
}

// benchDevices is a registry of n gas detectors gas-0000 ...
func benchDevices(n int) fakeDevices {
	reg := fakeDevices{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("gas-%04d", i)
		reg[id] = devices.Device{ID: id, Kind: devices.KindGas, Site: "s1", Building: fmt.Sprintf("B%d", i%10)}
	}
	return reg
}

func packRule(b *testing.B, id string) Rule {
	pack, err := DefaultPack()
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range pack {
		if r.ID == id {
			return r
		}
	}
	b.Fatalf("no rule %s in the default pack", id)
	return Rule{}
}

// BenchmarkBacktest replays 20 gas detectors × 30 days of one-minute
// lel_pct values (864 000 readings) through gas-lel-warning as it is and
// with condition.value=12, from an in-memory history handed over as one
// slice per device (loaded) or as a stream (streamed), one device at a
// time or GOMAXPROCS at once; it reports readings replayed per second
// (each through both rules) and the peak heap in use.
func BenchmarkBacktest(b *testing.B) {
	gen := genHistory{from: t0, step: time.Minute}
	for _, c := range []struct {
		name    string
		hist    History
		workers int
	}{
		{"loaded", gen, 1},
		{"streamed", genStream{gen}, 1},
		{"streamed-parallel", genStream{gen}, 0},
	} {
		b.Run(c.name, func(b *testing.B) { benchBacktest(b, c.hist, c.workers) })
	}
}

func benchBacktest(b *testing.B, hist History, workers int) {
	const nDev, days = 20, 30
	rule := packRule(b, "gas-lel-warning")
	bt := &Backtester{History: hist, Devices: benchDevices(nDev), Workers: workers}
	req := BacktestRequest{From: t0, To: t0.Add(days * 24 * time.Hour), Set: map[string]any{"condition.value": 12.0}}
	ctx := context.Background()
	readings := 0
	var peak peakHeap
	stop := peak.watch()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := bt.Run(ctx, rule, req)
		if err != nil {
			b.Fatal(err)
		}
		if res.Count == 0 || res.CurrentCount == 0 {
			b.Fatalf("no episodes: %+v", res.Count)
		}
		readings += res.Readings
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64(readings)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(peak.max)/(1<<20), "peak-heap-MiB")
}

// peakHeap samples the heap in use every few milliseconds.
type peakHeap struct{ max uint64 }

func (p *peakHeap) watch() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			p.max = max(p.max, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-finished }
}

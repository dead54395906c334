package rules

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// heapProfile: where benchMemory writes a heap profile of the engine after
// a reading each (go tool pprof -sample_index=inuse_space).
var heapProfile = flag.String("heapprofile", "", "benchMemory: write a heap profile, engine alive, after a reading each")

// memoryEstate registers n devices the way ./bench/run -only devices does
// (gas detectors, site s1, buildings B1..B8); mixed: the four kinds in
// turn instead.
func memoryEstate(n int, mixed bool) fakeDevices {
	reg := fakeDevices{}
	kinds := devices.Kinds()
	for i := range n {
		k := devices.KindGas
		if mixed {
			k = kinds[i%len(kinds)]
		}
		id := fmt.Sprintf("bench-dev-%06d", i)
		reg[id] = devices.Device{ID: id, Kind: k, Site: "s1", Building: fmt.Sprintf("B%d", i%8+1)}
	}
	return reg
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchMemory measures, for n registered devices and the default pack, the
// engine's heap per device after start (built, and the first tick has
// taken in the roster) and after one quiet reading from each device (as
// the bench's publisher sends them: a new device string per reading, as
// ingest parses it from the topic), the start-up time (NewEngine and the
// first tick), the size per device of the first save after the readings
// (every device changed) and what it allocates, the heap per device once
// saved (without the set of devices changed since the last save), and
// how many devices the next save, nothing having changed, writes.
// Figures, no limits.
func benchMemory(b *testing.B, n int, mixed bool) {
	pack, err := DefaultPack()
	if err != nil {
		b.Fatal(err)
	}
	reg := memoryEstate(n, mixed)
	ids := make([]string, 0, n)
	for id := range reg {
		ids = append(ids, id)
	}
	ctx := context.Background()
	var start, read, snap, snapAlloc, startup, startupCPU float64
	var resaved int
	var saved float64
	for i := 0; i < b.N; i++ {
		base := testkit.LiveHeap()
		now := t0
		began, cpu0 := time.Now(), cpuTime()
		e, err := NewEngine(Config{Rules: pack, Devices: reg, Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		e.Tick(ctx, now)
		startup, startupCPU = time.Since(began).Seconds(), (cpuTime() - cpu0).Seconds()
		start = float64(testkit.LiveHeap() - base)
		for j, id := range ids {
			d := reg[id]
			now = t0.Add(time.Duration(j) * 500 * time.Microsecond) // all within 90 s: none goes stale
			e.Reading(ctx, devices.Reading{Device: strings.Clone(id), Kind: d.Kind, Site: d.Site, Building: d.Building,
				Time: now, Received: now, Values: normal(d.Kind)})
		}
		e.Tick(ctx, now)
		read = float64(testkit.LiveHeap() - base)
		if *heapProfile != "" {
			f, err := os.Create(*heapProfile)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.WriteHeapProfile(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		// The first save after the readings writes every device; the
		// next, nothing having changed, none.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var written countingState
		if _, err := e.SaveChanges(ctx, &written); err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		snap, snapAlloc = float64(written.bytes), float64(after.TotalAlloc-before.TotalAlloc)
		resaved, err = e.SaveChanges(ctx, &written)
		if err != nil {
			b.Fatal(err)
		}
		saved = float64(testkit.LiveHeap() - base)
		runtime.KeepAlive(e)
	}
	b.ReportMetric(start/float64(n), "B/device-start")
	b.ReportMetric(read/float64(n), "B/device")
	b.ReportMetric(saved/float64(n), "B/device-saved")
	b.ReportMetric(snap/float64(n), "snapshot-B/device")
	b.ReportMetric(snapAlloc/float64(n), "snapshot-alloc-B/device")
	b.ReportMetric(float64(resaved), "devices-resaved-unchanged")
	b.ReportMetric(startup*1000, "ms-startup")
	b.ReportMetric(startupCPU*1000, "cpu-ms-startup")
}

// countingState is a StateStore that counts the bytes of the rows it is
// given, and keeps none.
type countingState struct{ bytes, rows int }

func (c *countingState) SaveState(_ context.Context, b StateBatch) error {
	c.bytes += len(b.Head)
	for _, d := range b.Devices {
		c.bytes += len(d.Body)
		c.rows++
	}
	return nil
}

// BenchmarkEngineMemory: 100 000 devices, the default pack. Run it once:
//
//	go test -run '^$' -bench EngineMemory -benchtime 1x ./rules/
func BenchmarkEngineMemory(b *testing.B) {
	b.Run("gas", func(b *testing.B) { benchMemory(b, 100000, false) })
	b.Run("mixed", func(b *testing.B) { benchMemory(b, 100000, true) })
}

// TestMemoryBenchmarkReports: the memory benchmark reports its figures
// (bytes per device after a reading each, and at start), on a small estate.
func TestMemoryBenchmarkReports(t *testing.T) {
	res := testing.Benchmark(func(b *testing.B) { benchMemory(b, 500, true) })
	for _, unit := range []string{"B/device", "B/device-saved", "B/device-start", "snapshot-B/device", "snapshot-alloc-B/device", "devices-resaved-unchanged", "ms-startup", "cpu-ms-startup"} {
		if _, ok := res.Extra[unit]; !ok {
			t.Errorf("the memory benchmark reports no %s: %v", unit, res.Extra)
		}
	}
	if res.Extra["B/device"] <= 0 {
		t.Errorf("bytes per device after a reading each: %g, want a positive figure", res.Extra["B/device"])
	}
}

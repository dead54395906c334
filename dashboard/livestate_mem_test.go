package dashboard

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// liveEstate is n registered gas detectors in 8 buildings, as
// ./bench/run -only devices registers them, and a quiet reading of each.
func liveEstate(tb testing.TB, n int) (*devices.Registry, []devices.Reading) {
	tb.Helper()
	cat := devices.Catalog{}
	for i := range n {
		cat.Devices = append(cat.Devices, devices.Device{ID: fmt.Sprintf("bench-dev-%06d", i), Kind: devices.KindGas, Site: "s1",
			Building: fmt.Sprintf("B%d", i%8+1)})
	}
	reg, err := devices.NewRegistry(cat)
	if err != nil {
		tb.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	rs := make([]devices.Reading, n)
	for i, d := range cat.Devices {
		// the id as ingest parses it from the topic: a string of its own
		rs[i] = devices.Reading{Device: strings.Clone(d.ID), Kind: d.Kind, Site: d.Site, Building: d.Building, Time: at, Received: at,
			Values: map[string]devices.Value{"lel_pct": devices.Num(2), "co_ppm": devices.Num(5), "fault": devices.FlagValue(false)}}
	}
	return reg, rs
}

// TestLiveStateReadingAllocatesNothing: a reading of a device the live
// state already knows, which no screen follows, allocates nothing (its
// last-seen time is kept in place, not as a new pointer each time).
func TestLiveStateReadingAllocatesNothing(t *testing.T) {
	reg, rs := liveEstate(t, 1)
	l := NewLiveState(nil, reg, nil)
	ctx := context.Background()
	r := rs[0]
	l.Reading(ctx, r)
	allocs := testing.AllocsPerRun(100, func() {
		r.Time = r.Time.Add(time.Second)
		r.Received = r.Time
		l.Reading(ctx, r)
	})
	if allocs != 0 {
		t.Errorf("a reading allocates %v times, want 0", allocs)
	}
	st, ok := l.Device(r.Device)
	if !ok || !st.Online || st.LastSeen == nil || !st.LastSeen.Equal(r.Time) || st.Building != "B1" || st.Kind != devices.KindGas {
		t.Errorf("state after the readings: %+v (LastSeen %v), want online, last seen %v, gas in B1", st, st.LastSeen, r.Time)
	}
}

// BenchmarkLiveStateMemory: the live state's heap per device after one
// reading from each of 100 000 registered devices (the registry not
// counted). A figure, no limit.
func BenchmarkLiveStateMemory(b *testing.B) {
	const n = 100_000
	reg, rs := liveEstate(b, n)
	ctx := context.Background()
	var per float64
	for i := 0; i < b.N; i++ {
		base := testkit.LiveHeap()
		l := NewLiveState(nil, reg, nil)
		for _, r := range rs {
			l.Reading(ctx, r)
		}
		per = float64(testkit.LiveHeap()-base) / n
		runtime.KeepAlive(l)
	}
	b.ReportMetric(per, "B/device")
}

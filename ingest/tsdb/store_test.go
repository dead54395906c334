package tsdb_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

func TestEmbeddedStoreWriteAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "ts.db")
	st, err := tsdb.Open(path, 0, ingesttest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.UnixMilli(1795395500123)
	// More than one batch, so the size-triggered flush runs too.
	const n = 1500
	for i := 0; i < n; i++ {
		r := devices.Reading{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2",
			Time:   t0.Add(time.Duration(i) * time.Second),
			Values: map[string]devices.Value{"lel_pct": devices.Num(float64(i)), "fault": devices.FlagValue(i%2 == 1)}}
		if err := st.WriteReading(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	other := devices.Reading{Device: "gas-b2-08", Kind: devices.KindGas, Site: "s1", Time: t0,
		Values: map[string]devices.Value{"lel_pct": devices.Num(99)}}
	if err := st.WriteReading(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteEvent(ctx, devices.Event{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Time: t0, Name: "x", Active: true}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		q     devices.Query
		count int
		first devices.Point
		last  devices.Point
	}{
		{name: "one metric, range with exclusive end",
			q:     devices.Query{Device: "gas-b2-07", Metric: "lel_pct", From: t0.Add(10 * time.Second), To: t0.Add(20 * time.Second)},
			count: 10, first: devices.Point{Time: t0.Add(10 * time.Second), Metric: "lel_pct", Value: 10},
			last: devices.Point{Time: t0.Add(19 * time.Second), Metric: "lel_pct", Value: 19}},
		{name: "all metrics ordered by time then metric",
			q:     devices.Query{Device: "gas-b2-07", Kind: devices.KindGas, From: t0, To: t0.Add(2 * time.Second)},
			count: 4, first: devices.Point{Time: t0, Metric: "fault", Value: 0},
			last: devices.Point{Time: t0.Add(time.Second), Metric: "lel_pct", Value: 1}},
		{name: "other device",
			q:     devices.Query{Device: "gas-b2-08", From: t0, To: t0.Add(time.Hour)},
			count: 1, first: devices.Point{Time: t0, Metric: "lel_pct", Value: 99}, last: devices.Point{Time: t0, Metric: "lel_pct", Value: 99}},
		{name: "other kind matches nothing",
			q:     devices.Query{Device: "gas-b2-07", Kind: devices.KindPower, From: t0, To: t0.Add(time.Hour)},
			count: 0},
		{name: "whole history",
			q:     devices.Query{Device: "gas-b2-07", Metric: "lel_pct", From: t0, To: t0.Add(n * time.Second)},
			count: n, first: devices.Point{Time: t0, Metric: "lel_pct", Value: 0},
			last: devices.Point{Time: t0.Add((n - 1) * time.Second), Metric: "lel_pct", Value: n - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pts, err := st.Readings(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(pts) != tt.count {
				t.Fatalf("got %d points, want %d", len(pts), tt.count)
			}
			if tt.count == 0 {
				return
			}
			if !ingesttest.SamePoints([]devices.Point{pts[0], pts[len(pts)-1]}, []devices.Point{tt.first, tt.last}) {
				t.Errorf("first, last = %v, %v; want %v, %v", pts[0], pts[len(pts)-1], tt.first, tt.last)
			}
		})
	}
	if _, err := st.Readings(ctx, devices.Query{Device: "bad id'"}); err == nil {
		t.Error("a bad device id was accepted")
	}

	// Retention deletes what is older than the cut.
	deleted, err := st.DeleteBefore(ctx, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 4 { // two values of gas-b2-07, one of gas-b2-08, one event
		t.Errorf("deleted %d rows, want 4", deleted)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The data survives a reopen.
	st, err = tsdb.Open(path, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pts, err := st.Readings(ctx, devices.Query{Device: "gas-b2-07", Metric: "lel_pct", From: t0, To: t0.Add(n * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != n-1 {
		t.Errorf("after reopen %d points, want %d", len(pts), n-1)
	}
}

func TestEmbeddedStoreRunFlushesAndAppliesRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ts.db")
	st, err := tsdb.Open(path, 24*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() }) // after Run has stopped
	// A second handle on the same file sees only what the first has flushed.
	peek, err := tsdb.Open(path, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer peek.Close()

	ctx := context.Background()
	now := time.Now()
	write := func(at time.Time, v float64) {
		t.Helper()
		if err := st.WriteReading(ctx, devices.Reading{Device: "d1", Kind: devices.KindGas, Site: "s1", Time: at,
			Values: map[string]devices.Value{"lel_pct": devices.Num(v)}}); err != nil {
			t.Fatal(err)
		}
	}
	write(now.Add(-48*time.Hour), 1) // older than the retention
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ingesttest.RunAsync(t, "EmbeddedStore", st.Run)
	write(now, 2) // flushed by Run's ticker, not by anyone reading

	deadline := time.Now().Add(5 * time.Second)
	for {
		pts, err := peek.Readings(ctx, devices.Query{Device: "d1", From: now.Add(-72 * time.Hour), To: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) == 1 && pts[0].Value == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("points = %v, want only the recent one", pts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package tsdb_test

import (
	"context"
	"database/sql"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

// TestEmbeddedStoreBadDataCostsNothing: a NaN among good values is kept
// with them (the batch is not refused), and a chunk damaged on disk is
// skipped by reads, retention and folds, the others read as before.
func TestEmbeddedStoreBadDataCostsNothing(t *testing.T) {
	ctx := context.Background()
	t0 := time.UnixMilli(1795395500123)
	reading := func(i int, v float64) devices.Reading {
		return devices.Reading{Device: "gas-1", Kind: devices.KindGas, Site: "s1", Time: t0.Add(time.Duration(i) * time.Second),
			Values: map[string]devices.Value{"lel_pct": devices.Num(v)}}
	}
	read := func(t *testing.T, st *tsdb.Store) []devices.Point {
		t.Helper()
		pts, err := st.Readings(ctx, devices.Query{Device: "gas-1", From: t0, To: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return pts
	}

	t.Run("NaN among good values", func(t *testing.T) {
		st, err := tsdb.Open(filepath.Join(t.TempDir(), "ts.db"), 0, ingesttest.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for i, v := range []float64{1, math.NaN(), 3} {
			if err := st.WriteReading(ctx, reading(i, v)); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Flush(ctx); err != nil {
			t.Fatalf("a batch with a NaN: %v", err)
		}
		pts := read(t, st)
		if len(pts) != 3 || pts[0].Value != 1 || !math.IsNaN(pts[1].Value) || pts[2].Value != 3 || st.Lost() != 0 {
			t.Errorf("read back %v, %d lost; want 1, NaN, 3 and none lost", pts, st.Lost())
		}
	})

	t.Run("a chunk damaged on disk", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "ts.db")
		st, err := tsdb.OpenWith(tsdb.WithFold(tsdb.Config{Path: path, Logger: ingesttest.Logger(t)}, 10, 10))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for i := range 30 { // three chunks of ten
			if err := st.WriteReading(ctx, reading(i, float64(i))); err != nil {
				t.Fatal(err)
			}
			if err := st.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// The middle chunk (10..19) and the newest (20..29) damaged.
		res, err := db.Exec(`UPDATE chunks SET data = x'01deadbeef' WHERE min_ts >= ?`, t0.Add(10*time.Second).UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n != 2 {
			t.Fatalf("%d chunks damaged, want 2", n)
		}
		if pts := read(t, st); len(pts) != 10 || pts[9].Value != 9 {
			t.Fatalf("with two chunks damaged: %d points (%v), want the 10 of the good one", len(pts), pts)
		}
		// New values still fold (beside the damaged newest chunk).
		for i := 30; i < 45; i++ {
			if err := st.WriteReading(ctx, reading(i, float64(i))); err != nil {
				t.Fatal(err)
			}
			if err := st.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if pts := read(t, st); len(pts) != 25 || pts[10].Value != 30 || pts[24].Value != 44 {
			t.Fatalf("after more writes: %d points, want 25 (0..9, 30..44)", len(pts))
		}
		// Retention: chunks wholly older go, damaged or not (their count
		// is in their row), the one across the cut is cut.
		n, err := st.DeleteBefore(ctx, t0.Add(35*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if pts := read(t, st); n != 35 || len(pts) != 10 || pts[0].Value != 35 {
			t.Errorf("after retention: %d deleted, %d points left; want 35 (0..34) and 10 (35..44)", n, len(pts))
		}
	})
}

package tsdb_test

import (
	"cmp"
	"context"
	"database/sql"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

// firstVersion is the schema of the readings file before chunks: one row
// per metric value.
const firstVersion = `
CREATE TABLE readings (ts_ms INTEGER NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL, site TEXT NOT NULL,
	building TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, is_flag INTEGER NOT NULL);
CREATE INDEX readings_device_metric_ts ON readings (device, metric, ts_ms);
CREATE INDEX readings_ts ON readings (ts_ms);
CREATE TABLE device_events (ts_ms INTEGER NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL, site TEXT NOT NULL,
	building TEXT NOT NULL, event TEXT NOT NULL, active INTEGER NOT NULL);
CREATE INDEX device_events_device_ts ON device_events (device, ts_ms);
CREATE INDEX device_events_ts ON device_events (ts_ms);
`

// TestEmbeddedStoreReadsFirstVersion: a readings file written by the
// version that kept one row per value is converted on Open: every value
// reads back as before, the events stay, new readings go on from there,
// and the file shrinks.
func TestEmbeddedStoreReadsFirstVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "readings.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(firstVersion); err != nil {
		t.Fatal(err)
	}
	t0 := time.UnixMilli(1795395500123)
	rng := rand.New(rand.NewPCG(5, 6))
	var want []devices.Point
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	for i := range n {
		ms := t0.Add(time.Duration(i) * time.Second).UnixMilli()
		lel := math.Round(rng.NormFloat64()*10) / 10
		for _, r := range []struct {
			device, metric string
			v              float64
			flag           int
		}{{"gas-1", "lel_pct", lel, 0}, {"gas-1", "fault", float64(i % 2), 1}, {"gas-2", "lel_pct", float64(i), 0}} {
			if _, err := tx.Exec(`INSERT INTO readings VALUES (?, ?, 'gas', 's1', 'B2', ?, ?, ?)`, ms, r.device, r.metric, r.v, r.flag); err != nil {
				t.Fatal(err)
			}
			if r.device == "gas-1" {
				want = append(want, devices.Point{Time: time.UnixMilli(ms), Metric: r.metric, Value: r.v + 0})
			}
		}
	}
	late := t0.Add(1500*time.Second + 500*time.Millisecond) // came last, belongs in the middle
	if _, err := tx.Exec(`INSERT INTO readings VALUES (?, 'gas-1', 'gas', 's1', 'B2', 'lel_pct', 42, 0)`, late.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	want = append(want, devices.Point{Time: late, Metric: "lel_pct", Value: 42})
	slices.SortStableFunc(want, func(a, b devices.Point) int { return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Metric, b.Metric)) })
	if _, err := tx.Exec(`INSERT INTO device_events VALUES (?, 'gas-1', 'gas', 's1', 'B2', 'fault', 1)`, t0.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := fileSize(t, path)

	st, err := tsdb.Open(path, 0, ingesttest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := devices.Query{Device: "gas-1", From: t0, To: t0.Add(n * time.Second)}
	got, err := st.Readings(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if i := firstDiff(got, want); i >= 0 {
		t.Fatalf("after the upgrade %d points, want %d; they differ from %d", len(got), len(want), i)
	}
	if err := st.WriteReading(ctx, devices.Reading{Device: "gas-1", Kind: devices.KindGas, Site: "s1", Building: "B2", Time: t0.Add(n * time.Second),
		Values: map[string]devices.Value{"lel_pct": devices.Num(7)}}); err != nil {
		t.Fatal(err)
	}
	q.To = q.To.Add(time.Second)
	if got, err = st.Readings(ctx, q); err != nil || len(got) != len(want)+1 {
		t.Fatalf("a reading written after the upgrade: %d points (%v), want %d", len(got), err, len(want)+1)
	}
	// The event is still there: retention counts it.
	deleted, err := st.DeleteBefore(ctx, t0.Add(time.Millisecond))
	if err != nil || deleted != 4 {
		t.Errorf("DeleteBefore the first second: %d (%v), want 4 (three values, one event)", deleted, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	after := fileSize(t, path)
	if after*4 > before {
		t.Errorf("the file is %d bytes after the upgrade, %d before: want a quarter at most", after, before)
	}
	// Opened again: nothing to convert, nothing lost.
	st, err = tsdb.Open(path, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, err = st.Readings(ctx, q); err != nil || len(got) != len(want)-2+1 {
		t.Fatalf("reopened: %d points (%v), want %d", len(got), err, len(want)-1)
	}
}

// fileSize is the bytes of a SQLite file with its WAL.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

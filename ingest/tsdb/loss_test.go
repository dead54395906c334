package tsdb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

// failInserts makes the store's file refuse every new reading, as a full
// or failing disk would (a trigger set from another connection); the
// returned func lets inserts through again.
func failInserts(t *testing.T, path string) (heal func()) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON samples BEGIN SELECT RAISE(ABORT, 'disk says no'); END`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, err := db.Exec(`DROP TRIGGER refuse`); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEmbeddedStoreDropCounted: batches the file refuses are kept for a
// retry while the buffer is under MaxBufferedRows; past it they are
// dropped, and every reading and event dropped is counted in
// caretaker_embedded_store_points_lost_total{reason="buffer_full"} and
// by Lost, and their acknowledgements released.
func TestEmbeddedStoreDropCounted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ts.db")
	reg := prometheus.NewRegistry()
	st, err := tsdb.OpenWith(tsdb.Config{Path: path, Logger: ingesttest.Logger(t), Metrics: reg, MaxBufferedRows: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	heal := failInserts(t, path)
	ctx := context.Background()
	two := func(i int) devices.Reading { // two values: two rows
		r := ingesttest.GasReading(i)
		r.Values["co_ppm"] = devices.Num(1)
		return r
	}
	lost := func() float64 {
		return ingesttest.CounterValue(t, reg, "caretaker_embedded_store_points_lost_total", "buffer_full")
	}

	if err := st.WriteReading(ctx, two(0)); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(ctx); err == nil || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("first failed flush: %v, want kept for a retry", err)
	}
	if st.Lost() != 0 || lost() != 0 || st.Buffered() != 2 {
		t.Fatalf("after a kept batch: Lost %d, metric %g, buffered %d; want 0, 0, 2", st.Lost(), lost(), st.Buffered())
	}
	for i := 1; i < 3; i++ {
		if err := st.WriteReading(ctx, two(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.WriteEvent(ctx, devices.Event{Device: "gas-1", Kind: devices.KindGas, Site: "s1", Time: ingesttest.GasReading(0).Time, Name: "fault", Active: true}); err != nil {
		t.Fatal(err)
	}
	d := ingesttest.NewDone()
	st.AfterDurable(d.Fn())
	if err := st.Flush(ctx); err == nil || !strings.Contains(err.Error(), "dropped") {
		t.Fatalf("flush past the limit: %v, want dropped", err)
	}
	d.Wait(t, "a dropped batch's waiter")
	if st.Lost() != 4 || lost() != 4 || st.Buffered() != 0 {
		t.Errorf("after the drop: Lost %d, metric %g, buffered %d; want 4 (3 readings, 1 event), 4, 0", st.Lost(), lost(), st.Buffered())
	}

	heal()
	if err := st.WriteReading(ctx, two(9)); err != nil {
		t.Fatal(err)
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatalf("flush once the file takes writes again: %v", err)
	}
	if st.Lost() != 4 {
		t.Errorf("Lost = %d after a good flush, want 4 still", st.Lost())
	}
}

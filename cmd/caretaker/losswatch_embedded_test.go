package main

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// TestEmbeddedStoreLossRaisesStoreAlarm: the embedded store's file
// refuses writes (a trigger, as a failing disk would) until its buffer,
// made small, overflows: the dropped readings are counted in
// caretaker_embedded_store_points_lost_total and the loss watch reports
// store:embedded offline with the count; once the file takes writes again
// and the buffer is written, online.
func TestEmbeddedStoreLossRaisesStoreAlarm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "readings.db")
	reg := prometheus.NewRegistry()
	st, err := tsdb.OpenWith(tsdb.Config{Path: path, Metrics: reg, MaxBufferedRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src, ok := lossSourceOf(st)
	if !ok || src.id != EmbeddedStoreStatusID {
		t.Fatalf("loss watch source of the embedded store: %+v, %v", src, ok)
	}
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	exec := func(q string) {
		if _, err := other.Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	rec := &statusRecorder{}
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- watchLoss(ctx, src, rec, ticks, time.Now, slog.New(slog.DiscardHandler)) }()
	ticks <- time.Now() // the watch has its starting count

	exec(`CREATE TRIGGER refuse BEFORE INSERT ON samples BEGIN SELECT RAISE(ABORT, 'disk says no'); END`)
	for i := 0; i < 4; i++ {
		r := devices.Reading{Device: "gas-1", Kind: devices.KindGas, Site: "s1", Time: time.UnixMilli(1795395500000 + int64(i)),
			Values: map[string]devices.Value{"lel_pct": devices.Num(float64(i))}}
		if err := st.WriteReading(ctx, r); err != nil {
			t.Fatal(err)
		}
		_ = st.Flush(ctx) // fails: kept, then dropped
	}
	if st.Lost() == 0 {
		t.Fatal("nothing dropped past the buffer limit")
	}
	ticks <- time.Now()
	exec(`DROP TRIGGER refuse`)
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ticks <- time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	lost := st.Lost()
	metric := testkit.Gather(t, reg).Sum("caretaker_embedded_store_points_lost_total")
	if metric != float64(lost) {
		t.Errorf("caretaker_embedded_store_points_lost_total = %g, Lost = %d", metric, lost)
	}
	got := rec.all()
	if len(got) != 2 || got[0].Device != EmbeddedStoreStatusID || got[0].Online || got[1].Device != EmbeddedStoreStatusID || !got[1].Online {
		t.Fatalf("reports %+v, want store:embedded offline then online", got)
	}
	if !strings.Contains(got[0].Reason, "embedded store lost") || !strings.Contains(got[0].Reason, "caretaker_embedded_store_points_lost_total") {
		t.Errorf("offline reason %q does not say what was lost where", got[0].Reason)
	}
}

package tsdb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

// TestEmbeddedStoreAfterDurable: the callback runs once the reading is
// committed (seen from another connection), within the durable wait and
// not the 200 ms flush tick.
func TestEmbeddedStoreAfterDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ts.db")
	st, err := tsdb.Open(path, 0, ingesttest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ingesttest.RunAsync(t, "EmbeddedStore", st.Run)
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	committed := func() int {
		var n int
		if err := other.QueryRow(`SELECT (SELECT COUNT(*) FROM samples) + (SELECT COALESCE(SUM(n), 0) FROM chunks)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	d := ingesttest.NewDone()
	st.AfterDurable(d.Fn()) // nothing written yet
	d.Wait(t, "empty store")

	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := st.WriteReading(ctx, ingesttest.GasReading(i)); err != nil {
			t.Fatal(err)
		}
	}
	d = ingesttest.NewDone()
	st.AfterDurable(d.Fn())
	d.Wait(t, "three readings")
	if n := committed(); n != 3 {
		t.Errorf("%d rows committed when Done ran, want 3", n)
	}
}

// TestCloseWaitsForAcknowledgements: Close returns only once the
// AfterDurable callbacks under way have returned, so a shutdown does not
// end while an acknowledgement is still being sent.
func TestCloseWaitsForAcknowledgements(t *testing.T) {
	st, err := tsdb.Open(filepath.Join(t.TempDir(), "ts.db"), 0, ingesttest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteReading(context.Background(), ingesttest.GasReading(1)); err != nil {
		t.Fatal(err)
	}
	ingesttest.CloseWaitsForCallbacks(t, st, func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
}

package influx_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// TestInfluxAfterDurable: without a spool (so without a journal) the
// callback runs once InfluxDB answered 2xx for the point; with the batch
// far from full and the flush interval an hour away.
func TestInfluxAfterDurable(t *testing.T) {
	fake := &fakeInflux{status: func() int { return http.StatusNoContent }}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	in, err := influx.Open(influx.Config{URL: srv.URL, Bucket: "b", BatchSize: 5000, FlushInterval: time.Hour,
		RetryMin: time.Hour, Logger: ingesttest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ingesttest.RunAsync(t, "influx", in.Run)
	ctx := context.Background()

	d := ingesttest.NewDone()
	in.AfterDurable(d.Fn())
	d.Wait(t, "nothing written")

	for i := 0; i < 3; i++ {
		if err := in.WriteReading(ctx, ingesttest.GasReading(i)); err != nil {
			t.Fatal(err)
		}
	}
	d = ingesttest.NewDone()
	in.AfterDurable(d.Fn())
	d.Wait(t, "written")
	if n := len(fake.Lines()); n != 3 {
		t.Errorf("InfluxDB had %d lines when Done ran, want 3", n)
	}
}

// TestInfluxAfterDurableJournal: with a spool, the callback runs once the
// points are synced into the journal, before InfluxDB has answered (here
// it never does); a writer opened again on the same folder, as after a
// crash, spools what the journal holds and writes it to InfluxDB.
func TestInfluxAfterDurableJournal(t *testing.T) {
	hang := make(chan struct{})
	var hung sync.Once
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer stuck.Close()
	defer hung.Do(func() { close(hang) })
	dir := t.TempDir()
	in, err := influx.Open(influx.Config{URL: stuck.URL, Bucket: "b", BatchSize: 5000, FlushInterval: time.Hour,
		SpoolDir: dir, RetryMin: time.Hour, WriteTimeout: time.Hour, Logger: ingesttest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ingesttest.RunAsync(t, "influx", in.Run)
	for i := 0; i < 3; i++ {
		if err := in.WriteReading(context.Background(), ingesttest.GasReading(i)); err != nil {
			t.Fatal(err)
		}
	}
	d := ingesttest.NewDone()
	in.AfterDurable(d.Fn())
	d.Wait(t, "journaled")
	if in.Written() != 0 || in.Spooled() != 0 {
		t.Fatalf("written %d, spooled %d: Done should have come from the journal alone", in.Written(), in.Spooled())
	}

	// The first writer is stuck on its request (as if killed); a second
	// one on the same folder takes over what the journal holds.
	fake := &fakeInflux{status: func() int { return http.StatusNoContent }}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	again := newInflux(t, influx.Config{URL: srv.URL, Bucket: "b", FlushInterval: time.Hour, SpoolDir: dir,
		RetryMin: 10 * time.Millisecond, Logger: ingesttest.Logger(t)})
	testkit.Eventually(t, 10*time.Second, "the journal's points replayed", func() bool { return len(fake.Lines()) == 3 })
	for i, l := range fake.Lines() {
		if want := fmt.Sprintf("lel_pct=%d %d", i, 1795395500000+int64(i)); !strings.HasSuffix(l, want) {
			t.Errorf("line %d = %q, want it to end in %q", i, l, want)
		}
	}
	if again.Lost() != 0 {
		t.Errorf("lost %d", again.Lost())
	}
}

// TestInfluxAfterDurableBatch: DurableBatch pending points are sent at
// once, without waiting for DurableWait.
func TestInfluxAfterDurableBatch(t *testing.T) {
	fake := &fakeInflux{status: func() int { return http.StatusNoContent }}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	in := influx.New(influx.Config{URL: srv.URL, Bucket: "b", BatchSize: 5000, FlushInterval: time.Hour,
		DurableWait: time.Hour, DurableBatch: 10})
	defer in.Close()
	ingesttest.RunAsync(t, "influx", in.Run)
	var dones []ingesttest.DoneFlag
	for i := 0; i < 10; i++ {
		if err := in.WriteReading(context.Background(), ingesttest.GasReading(i)); err != nil {
			t.Fatal(err)
		}
		d := ingesttest.NewDone()
		in.AfterDurable(d.Fn())
		dones = append(dones, d)
	}
	for _, d := range dones {
		d.Wait(t, "a batch of DurableBatch")
	}
	if n := len(fake.Lines()); n != 10 {
		t.Errorf("InfluxDB has %d lines, want 10", n)
	}
}

// TestInfluxCloseWaitsForAcknowledgements: Close returns only once the
// AfterDurable callbacks under way have returned.
func TestInfluxCloseWaitsForAcknowledgements(t *testing.T) {
	fake := &fakeInflux{status: func() int { return http.StatusNoContent }}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	in, err := influx.Open(influx.Config{URL: srv.URL, Bucket: "b", FlushInterval: time.Hour, Logger: ingesttest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.WriteReading(context.Background(), ingesttest.GasReading(1)); err != nil {
		t.Fatal(err)
	}
	ingesttest.CloseWaitsForCallbacks(t, in, in.Close) // Close sends the reading, which releases the callback
	if n := len(fake.Lines()); n != 1 {
		t.Fatalf("%d lines reached InfluxDB, want 1", n)
	}
}

// TestInfluxSendsNothingBeforeRun: Open starts no goroutine; a due batch
// waits for Run, then goes out.
func TestInfluxSendsNothingBeforeRun(t *testing.T) {
	fake := &fakeInflux{status: func() int { return http.StatusNoContent }}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	in, err := influx.Open(influx.Config{URL: srv.URL, Bucket: "b", BatchSize: 1, FlushInterval: 10 * time.Millisecond,
		Logger: ingesttest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := in.WriteReading(context.Background(), ingesttest.GasReading(1)); err != nil {
		t.Fatal(err)
	}
	// A full batch, many flush intervals: a writer running on its own
	// would have sent it by now.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := len(fake.Lines()); n != 0 {
			t.Fatalf("%d lines sent before Run", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ingesttest.RunAsync(t, "influx", in.Run)
	testkit.Eventually(t, 10*time.Second, "the batch sent by Run", func() bool { return len(fake.Lines()) == 1 })
}

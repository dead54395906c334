package influx_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
)

// TestInfluxAfterDurable: the callback runs once InfluxDB answered 2xx
// for the point, or it is synced into the spool while InfluxDB fails;
// with the batch far from full and the flush interval an hour away.
func TestInfluxAfterDurable(t *testing.T) {
	var mu sync.Mutex
	code := http.StatusNoContent
	fake := &fakeInflux{status: func() int { mu.Lock(); defer mu.Unlock(); return code }}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	in, err := influx.Open(influx.Config{URL: srv.URL, Bucket: "b", BatchSize: 5000, FlushInterval: time.Hour,
		SpoolDir: t.TempDir(), RetryMin: time.Hour, Logger: ingesttest.Logger(t)})
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

	mu.Lock()
	code = http.StatusServiceUnavailable
	mu.Unlock()
	if err := in.WriteReading(ctx, ingesttest.GasReading(3)); err != nil {
		t.Fatal(err)
	}
	d = ingesttest.NewDone()
	in.AfterDurable(d.Fn())
	d.Wait(t, "spooled")
	if in.Spooled() != 1 || len(fake.Lines()) != 3 {
		t.Errorf("when Done ran: %d spooled, %d in InfluxDB; want 1 and 3", in.Spooled(), len(fake.Lines()))
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
	ingesttest.WaitFor(t, 10*time.Second, "the batch sent by Run", func() bool { return len(fake.Lines()) == 1 })
}

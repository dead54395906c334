package influx_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// fakeInflux answers writes with the status status() returns and records
// the lines of those it took (204).
type fakeInflux struct {
	status func() int
	mu     sync.Mutex
	lines  []string
}

func (f *fakeInflux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
	}
	b, _ := io.ReadAll(body)
	code := f.status()
	if code == http.StatusNoContent {
		f.mu.Lock()
		f.lines = append(f.lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
		f.mu.Unlock()
	}
	w.WriteHeader(code)
}

func (f *fakeInflux) Lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

// TestInfluxSpoolsOn5xxAndReplaysInOrder: batches answered 503 go to the
// spool and reach InfluxDB later, in the order they were written; new
// batches wait behind the spool.
func TestInfluxSpoolsOn5xxAndReplaysInOrder(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	fake := &fakeInflux{status: func() int {
		if down.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	in := newInflux(t, influx.Config{URL: srv.URL, BatchSize: 10, FlushInterval: time.Hour,
		SpoolDir: t.TempDir(), RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	ctx := context.Background()
	for i := 0; i < 95; i++ {
		_ = in.WriteReading(ctx, ingesttest.GasReading(i))
	}
	in.Flush()
	if got := in.Spooled(); got != 95 {
		t.Fatalf("spooled %d points while InfluxDB answered 503, want 95", got)
	}
	if n := len(fake.Lines()); n != 0 {
		t.Fatalf("%d lines taken while down", n)
	}
	down.Store(false)
	for i := 95; i < 100; i++ {
		_ = in.WriteReading(ctx, ingesttest.GasReading(i))
	}
	in.Flush()
	ingesttest.WaitFor(t, 10*time.Second, "spool replayed", func() bool { return in.Spooled() == 0 && len(fake.Lines()) == 100 })
	for i, l := range fake.Lines() {
		if want := fmt.Sprintf("lel_pct=%d %d", i, 1795395500000+int64(i)); !strings.HasSuffix(l, want) {
			t.Fatalf("line %d = %q, want it to end in %q (order kept)", i, l, want)
		}
	}
	if in.Lost() != 0 || in.Written() != 100 {
		t.Errorf("lost %d, written %d", in.Lost(), in.Written())
	}
}

// TestInfluxLossIsCounted: a full spool and a batch refused as malformed
// lose points, and both are counted.
func TestInfluxLossIsCounted(t *testing.T) {
	var code atomic.Int64
	code.Store(http.StatusServiceUnavailable)
	srv := httptest.NewServer(&fakeInflux{status: func() int { return int(code.Load()) }})
	t.Cleanup(srv.Close)
	in := newInflux(t, influx.Config{URL: srv.URL, BatchSize: 10, FlushInterval: time.Hour,
		SpoolDir: t.TempDir(), SpoolMaxBytes: 2000, RetryMin: time.Hour})
	for i := 0; i < 100; i++ { // about 60 bytes a line: 2000 bytes hold about 30
		_ = in.WriteReading(context.Background(), ingesttest.GasReading(i))
	}
	in.Flush()
	if in.Spooled() == 0 || in.Lost() == 0 || in.Spooled()+in.Lost() != 100 {
		t.Errorf("spooled %d lost %d, want both and 100 in all", in.Spooled(), in.Lost())
	}

	code.Store(http.StatusBadRequest)
	in2 := newInflux(t, influx.Config{URL: srv.URL, BatchSize: 10, FlushInterval: time.Hour, SpoolDir: t.TempDir()})
	for i := 0; i < 10; i++ {
		_ = in2.WriteReading(context.Background(), ingesttest.GasReading(i))
	}
	in2.Flush()
	if in2.Spooled() != 0 || in2.Lost() != 10 {
		t.Errorf("400: spooled %d lost %d, want 0 and 10", in2.Spooled(), in2.Lost())
	}
}

// TestInfluxOutageUnderLoadLosesNothing stops a real InfluxDB for 30 s
// (5 s with -short) while readings keep coming, restarts Caretaker's
// writer in the middle of the outage, and checks that every point lands.
func TestInfluxOutageUnderLoadLosesNothing(t *testing.T) {
	outage := 30 * time.Second
	if testing.Short() {
		outage = 5 * time.Second
	}
	srv := testserver.InfluxDB(t, "caretaker")
	dir := t.TempDir()
	cfg := influx.Config{URL: srv.URL, Bucket: "caretaker", BatchSize: 500, FlushInterval: 100 * time.Millisecond,
		SpoolDir: dir, RetryMin: 200 * time.Millisecond, RetryMax: time.Second, WriteTimeout: 2 * time.Second,
		Logger: ingesttest.Logger(t)}
	first, err := influx.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ingesttest.RunAsync(t, "influx", first.Run)

	var (
		mu      sync.Mutex
		w       = first
		written int
	)
	// load writes 1000 readings a second, each with its own timestamp.
	load := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			mu.Lock()
			for k := 0; k < 10; k++ {
				_ = w.WriteReading(context.Background(), ingesttest.GasReading(written))
				written++
			}
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	}
	load(2 * time.Second)
	srv.Stop()
	load(outage / 2)
	// Caretaker restarts during the outage: the new writer finds the spool.
	mu.Lock()
	first.Close()
	second := newInflux(t, cfg)
	if second.Spooled() == 0 {
		t.Error("the restarted writer found nothing in the spool")
	}
	w = second
	mu.Unlock()
	load(outage / 2)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	srv.WaitReady(t)
	load(2 * time.Second)
	second.Flush()
	ingesttest.WaitFor(t, 60*time.Second, "spool replayed", func() bool { return second.Spooled() == 0 })
	second.Flush()

	if l := first.Lost() + second.Lost(); l != 0 {
		t.Errorf("%d points lost", l)
	}
	rows := influxRows(t, srv, `SELECT count(lel_pct), sum(lel_pct) FROM gas`)
	wantSum := float64(written) * float64(written-1) / 2
	if len(rows) != 1 || rows[0]["count"] != float64(written) || rows[0]["sum"] != wantSum {
		t.Fatalf("InfluxDB holds %v, want count %d sum %g", rows, written, wantSum)
	}
	t.Logf("%d points written across a %s outage and a writer restart; %d write errors", written, outage, first.WriteErrors()+second.WriteErrors())
}

package ingest_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// gatedWriter is a DurableWriter whose AfterDurable callbacks run only
// when the test releases them.
type gatedWriter struct {
	ingesttest.Recorder
	mu      sync.Mutex
	waiting []func()
}

func (w *gatedWriter) AfterDurable(done func()) {
	w.mu.Lock()
	w.waiting = append(w.waiting, done)
	w.mu.Unlock()
}

func (w *gatedWriter) Waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiting)
}

// Release runs the first n waiting callbacks.
func (w *gatedWriter) Release(n int) {
	w.mu.Lock()
	fns := w.waiting[:n]
	w.waiting = w.waiting[n:]
	w.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// doneFlag is a Message.Done that a test can wait for.
type doneFlag chan struct{}

func newDone() doneFlag       { return make(doneFlag) }
func (d doneFlag) fn() func() { return func() { close(d) } }

func (d doneFlag) called() bool {
	select {
	case <-d:
		return true
	default:
		return false
	}
}

func (d doneFlag) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-d:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: Done not called within 10s", what)
	}
}

// TestPipelineDoneWaitsForDurable: a good message is done only once the
// sink has it and the writer says it is durable; a rejected one at once;
// with a writer that cannot tell, once handed on.
func TestPipelineDoneWaitsForDurable(t *testing.T) {
	w := &gatedWriter{}
	sink := &ingesttest.Recorder{}
	p := ingest.NewPipeline(ingest.PipelineConfig{Registry: testRegistry(t), Writer: w, Sink: sink, Now: func() time.Time { return now }})
	runAsync(t, "Pipeline", p.Run)
	ctx := context.Background()

	good, bad, status := newDone(), newDone(), newDone()
	for _, m := range []ingest.Message{
		{Topic: "sites/s1/devices/gas-b2-07/telemetry", Payload: []byte(`{"metrics": {"lel_pct": 3}}`), Done: good.fn()},
		{Topic: "sites/s1/devices/gas-b2-07/telemetry", Payload: []byte(`{not json`), Done: bad.fn()},
		{Topic: "sites/s1/devices/gas-b2-07/status", Payload: []byte(`online`), Done: status.fn()},
	} {
		if err := p.Submit(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	bad.wait(t, "rejected message")
	waitFor(t, 10*time.Second, "two callbacks waiting on the writer", func() bool { return w.Waiting() == 2 })
	if len(sink.Readings()) != 1 {
		t.Errorf("sink has %d readings before Done, want 1", len(sink.Readings()))
	}
	if good.called() || status.called() {
		t.Fatal("Done called before the writer said durable")
	}
	w.Release(2)
	good.wait(t, "good message")
	status.wait(t, "status message")

	plain := ingest.NewPipeline(ingest.PipelineConfig{Registry: testRegistry(t), Writer: &ingesttest.Recorder{}})
	runAsync(t, "Pipeline", plain.Run)
	d := newDone()
	if err := plain.Submit(ctx, ingest.Message{Topic: "sites/s1/devices/gas-b2-07/telemetry", Payload: []byte(`{"metrics": {"lel_pct": 3}}`), Done: d.fn()}); err != nil {
		t.Fatal(err)
	}
	d.wait(t, "message through a writer that cannot tell")
}

// TestEmbeddedStoreAfterDurable: the callback runs once the reading is
// committed (seen from another connection), within the durable wait and
// not the 200 ms flush tick.
func TestEmbeddedStoreAfterDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ts.db")
	st, err := ingest.OpenEmbeddedStore(path, 0, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runAsync(t, "EmbeddedStore", st.Run)
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	committed := func() int {
		var n int
		if err := other.QueryRow(`SELECT COUNT(*) FROM readings`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	d := newDone()
	st.AfterDurable(d.fn()) // nothing written yet
	d.wait(t, "empty store")

	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := st.WriteReading(ctx, gasReading(i)); err != nil {
			t.Fatal(err)
		}
	}
	d = newDone()
	st.AfterDurable(d.fn())
	d.wait(t, "three readings")
	if n := committed(); n != 3 {
		t.Errorf("%d rows committed when Done ran, want 3", n)
	}
}

// TestInfluxAfterDurable: the callback runs once InfluxDB answered 2xx
// for the point, or it is synced into the spool while InfluxDB fails;
// with the batch far from full and the flush interval an hour away.
func TestInfluxAfterDurable(t *testing.T) {
	var mu sync.Mutex
	code := http.StatusNoContent
	fake := &fakeInflux{status: func() int { mu.Lock(); defer mu.Unlock(); return code }}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	in, err := ingest.OpenInflux(ingest.InfluxConfig{URL: srv.URL, Bucket: "b", BatchSize: 5000, FlushInterval: time.Hour,
		SpoolDir: t.TempDir(), RetryMin: time.Hour, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx := context.Background()

	d := newDone()
	in.AfterDurable(d.fn())
	d.wait(t, "nothing written")

	for i := 0; i < 3; i++ {
		if err := in.WriteReading(ctx, gasReading(i)); err != nil {
			t.Fatal(err)
		}
	}
	d = newDone()
	in.AfterDurable(d.fn())
	d.wait(t, "written")
	if n := len(fake.Lines()); n != 3 {
		t.Errorf("InfluxDB had %d lines when Done ran, want 3", n)
	}

	mu.Lock()
	code = http.StatusServiceUnavailable
	mu.Unlock()
	if err := in.WriteReading(ctx, gasReading(3)); err != nil {
		t.Fatal(err)
	}
	d = newDone()
	in.AfterDurable(d.fn())
	d.wait(t, "spooled")
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
	in := ingest.NewInflux(ingest.InfluxConfig{URL: srv.URL, Bucket: "b", BatchSize: 5000, FlushInterval: time.Hour,
		DurableWait: time.Hour, DurableBatch: 10})
	defer in.Close()
	var dones []doneFlag
	for i := 0; i < 10; i++ {
		if err := in.WriteReading(context.Background(), gasReading(i)); err != nil {
			t.Fatal(err)
		}
		d := newDone()
		in.AfterDurable(d.fn())
		dones = append(dones, d)
	}
	for _, d := range dones {
		d.wait(t, "a batch of DurableBatch")
	}
	if n := len(fake.Lines()); n != 10 {
		t.Errorf("InfluxDB has %d lines, want 10", n)
	}
}

// TestMQTTGatewayAcksOnlyWhatIsDurable: messages the store has not made
// durable are not acknowledged, so when caretaker goes away (as if
// killed) the broker delivers them again to the resumed session; those it
// made durable it does not.
func TestMQTTGatewayAcksOnlyWhatIsDurable(t *testing.T) {
	broker := testserver.Mosquitto(t)
	cfg := ingest.MQTTConfig{Broker: "tcp://" + broker.Addr, ClientID: "caretaker-durable", QoS: 1, Logger: testLogger(t)}
	w := &gatedWriter{}
	p := ingest.NewPipeline(ingest.PipelineConfig{Registry: testRegistry(t), Writer: w})
	runAsync(t, "Pipeline", p.Run)
	gw := ingest.NewMQTTGateway(cfg, p)
	stop := runAsync(t, "MQTTGateway", gw.Run)
	waitClosed(t, gw.Ready(), "gateway")

	dev := pahoClient(t, broker.Addr, "gas-b2-07", nil)
	topic := "sites/s1/devices/gas-b2-07/telemetry"
	for i := 1; i <= 2; i++ {
		publish(t, dev, topic, `{"metrics": {"lel_pct": `+string(rune('0'+i))+`}}`)
	}
	waitFor(t, 10*time.Second, "2 messages waiting on the store", func() bool { return w.Waiting() == 2 })
	w.Release(2) // durable: acknowledged
	for i := 3; i <= 5; i++ {
		publish(t, dev, topic, `{"metrics": {"lel_pct": `+string(rune('0'+i))+`}}`)
	}
	waitFor(t, 10*time.Second, "3 more waiting on the store", func() bool { return w.Waiting() == 3 })
	stop() // gone before the store made them durable

	p2, sink, _ := runPipeline(t, ingest.PipelineConfig{})
	gw2 := ingest.NewMQTTGateway(cfg, p2)
	runAsync(t, "MQTTGateway", gw2.Run)
	waitClosed(t, gw2.Ready(), "gateway after restart")
	publish(t, dev, topic, `{"metrics": {"lel_pct": 9}}`) // comes after the redelivered ones
	got := map[float64]int{}
	waitFor(t, 10*time.Second, "the sentinel", func() bool {
		clear(got)
		for _, r := range sink.Readings() {
			got[r.Values["lel_pct"].Number]++
		}
		return got[9] == 1
	})
	for _, v := range []float64{3, 4, 5} {
		if got[v] != 1 {
			t.Errorf("unacknowledged reading %g delivered %d times after the restart, want 1", v, got[v])
		}
	}
	for _, v := range []float64{1, 2} {
		if got[v] != 0 {
			t.Errorf("acknowledged reading %g delivered again", v)
		}
	}
}

var _ ingest.DurableWriter = (*ingest.Influx)(nil)
var _ ingest.DurableWriter = (*ingest.EmbeddedStore)(nil)

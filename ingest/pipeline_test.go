package ingest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/prometheus/client_golang/prometheus"
)

var now = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

func submit(t *testing.T, p *ingest.Pipeline, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Submit(ctx, ingest.Message{Topic: topic, Payload: []byte(payload), Received: now}); err != nil {
		t.Fatalf("submit: %v", err)
	}
}

// waitStats polls the pipeline until it has taken n messages.
func waitStats(t *testing.T, p *ingest.Pipeline, n int) ingest.Stats {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := p.Stats()
		if s.Received >= n {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipeline received %d messages, want %d", s.Received, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPipelineEnrichesGoodReadings(t *testing.T) {
	p, sink, store := ingesttest.RunPipeline(t, ingest.PipelineConfig{})
	submit(t, p, "sites/s1/devices/gas-b2-07/telemetry", `{"ts": 1795395500000, "metrics": {"lel_pct": 35, "fault": false}}`)

	got := sink.Wait(t, 1)[0]
	want := devices.Reading{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2",
		Time: time.UnixMilli(1795395500000), Received: now}
	if got.Device != want.Device || got.Kind != want.Kind || got.Site != want.Site || got.Building != want.Building ||
		!got.Time.Equal(want.Time) || !got.Received.Equal(want.Received) {
		t.Errorf("reading = %+v, want %+v", got, want)
	}
	if got.Values["lel_pct"] != devices.Num(35) || got.Values["fault"] != devices.FlagValue(false) || len(got.Values) != 2 {
		t.Errorf("values = %v", got.Values)
	}
	if w := store.Wait(t, 1); w[0].Device != "gas-b2-07" || w[0].Kind != devices.KindGas {
		t.Errorf("stored %+v", w[0])
	}
	if s := waitStats(t, p, 1); s.Received != 1 || s.Accepted != 1 || len(s.Rejected) != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestPipelineRejects(t *testing.T) {
	tests := []struct {
		name, topic, payload string
		reason               string
	}{
		{"unknown device", "sites/s1/devices/gas-zz-99/telemetry", `{"metrics": {"lel_pct": 1}}`, ingest.ReasonUnknownDevice},
		{"site mismatch", "sites/s2/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 1}}`, ingest.ReasonSiteMismatch},
		{"bad topic", "sites/s1/devices/gas-b2-07/config", `{}`, ingest.ReasonUnknownTopic},
		{"invalid json", "sites/s1/devices/gas-b2-07/telemetry", `{`, ingest.ReasonInvalidJSON},
		{"oversized", "sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 1}, "pad": "` + strings.Repeat("x", 200) + `"}`, ingest.ReasonOversized},
		{"event of another kind", "sites/s1/devices/gas-b2-07/event", `{"event": "entrapment", "active": true}`, ingest.ReasonUnknownEvent},
		{"bad status", "sites/s1/devices/gas-b2-07/status", `maybe`, ingest.ReasonBadStatus},
		{"only unknown metrics", "sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"voltage_v": 230}}`, ingest.ReasonUnknownMetric},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			p, sink, store := ingesttest.RunPipeline(t, ingest.PipelineConfig{Metrics: reg, MaxPayload: 128})
			submit(t, p, tt.topic, tt.payload)
			s := waitStats(t, p, 1)
			if s.Rejected[tt.reason] != 1 || s.Accepted != 0 {
				t.Errorf("stats = %+v, want one %s rejection", s, tt.reason)
			}
			if n := ingesttest.CounterValue(t, reg, "caretaker_ingest_rejected_total", tt.reason); n != 1 {
				t.Errorf("caretaker_ingest_rejected_total{reason=%q} = %v, want 1", tt.reason, n)
			}
			if len(sink.Readings())+len(sink.Events())+len(sink.Statuses())+len(store.Readings()) != 0 {
				t.Errorf("a rejected message was handed on")
			}
		})
	}
}

func TestPipelineKeepsGoodMetricsOfAMessage(t *testing.T) {
	p, sink, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{})
	submit(t, p, "sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 22.5, "voltage_v": 230, "fault": 1}}`)

	got := sink.Wait(t, 1)[0]
	if len(got.Values) != 1 || got.Values["lel_pct"] != devices.Num(22.5) {
		t.Errorf("values = %v, want only lel_pct", got.Values)
	}
	s := waitStats(t, p, 1)
	if s.Rejected[ingest.ReasonUnknownMetric] != 1 || s.Rejected[ingest.ReasonBadType] != 1 || s.Accepted != 1 {
		t.Errorf("stats = %+v, want one unknown_metric, one bad_type, one accepted", s)
	}
}

func TestPipelineEventsAndStatus(t *testing.T) {
	p, sink, store := ingesttest.RunPipeline(t, ingest.PipelineConfig{})
	submit(t, p, "sites/s1/devices/el-b1-01/event", `{"ts": "2026-11-23T00:59:00Z", "event": "entrapment", "active": true}`)
	submit(t, p, "sites/s1/devices/el-b1-01/status", `offline`)

	e := sink.WaitEvents(t, 1)[0]
	if e.Device != "el-b1-01" || e.Kind != devices.KindElevator || e.Site != "s1" || e.Building != "B1" ||
		e.Name != "entrapment" || !e.Active || !e.Time.Equal(now.Add(-time.Minute)) {
		t.Errorf("event = %+v", e)
	}
	if len(store.WaitEvents(t, 1)) != 1 {
		t.Error("event not stored")
	}
	st := sink.WaitStatuses(t, 1)[0]
	if st.Device != "el-b1-01" || st.Online || !st.Time.Equal(now) {
		t.Errorf("status = %+v", st)
	}
}

func TestPipelineAutoRegister(t *testing.T) {
	reg := ingesttest.Registry(t)
	p, sink, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{Registry: reg, AutoRegister: true})
	submit(t, p, "sites/s3/devices/new-1/telemetry", `{"metrics": {"temp_c": 21}}`)

	got := sink.Wait(t, 1)[0]
	if got.Kind != devices.KindUnknown || got.Site != "s3" || got.Values["temp_c"] != devices.Num(21) {
		t.Errorf("reading = %+v", got)
	}
	if d, ok := reg.Lookup("new-1"); !ok || d.Kind != devices.KindUnknown || d.Site != "s3" {
		t.Errorf("registry has %+v, %v", d, ok)
	}
}

func TestPipelineWriteErrorStillReachesSink(t *testing.T) {
	reg := prometheus.NewRegistry()
	p, sink, store := ingesttest.RunPipeline(t, ingest.PipelineConfig{Metrics: reg})
	store.SetWriteErr(errors.New("disk full"))
	submit(t, p, "sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 40}}`)

	sink.Wait(t, 1)
	if s := waitStats(t, p, 1); s.WriteErrors != 1 || s.Accepted != 1 {
		t.Errorf("stats = %+v", s)
	}
	if n := ingesttest.CounterValue(t, reg, "caretaker_ingest_write_errors_total", ""); n != 1 {
		t.Errorf("caretaker_ingest_write_errors_total = %v, want 1", n)
	}
	if n := ingesttest.CounterValue(t, reg, "caretaker_ingest_readings_total", ""); n != 1 {
		t.Errorf("caretaker_ingest_readings_total = %v, want 1", n)
	}
}

// blockingSink holds the pipeline inside Reading until released.
type blockingSink struct {
	ingesttest.Recorder
	release chan struct{}
	once    sync.Once
	entered chan struct{}
}

func (b *blockingSink) Reading(ctx context.Context, r devices.Reading) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	b.Recorder.Reading(ctx, r)
}

// busyPipeline runs a pipeline with a queue of queueSize whose sink holds
// the first message until sink.release is closed; it returns once that
// message is being handled. cancel stops Run, which sends its result on
// done.
func busyPipeline(t *testing.T, queueSize int) (p *ingest.Pipeline, sink *blockingSink, msg ingest.Message, cancel func(), done chan error) {
	t.Helper()
	sink = &blockingSink{release: make(chan struct{}), entered: make(chan struct{})}
	p = ingest.NewPipeline(ingest.PipelineConfig{Registry: ingesttest.Registry(t), Sink: sink, QueueSize: queueSize,
		Now: func() time.Time { return now }})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done = make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	msg = ingest.Message{Topic: "sites/s1/devices/gas-b2-07/telemetry", Payload: []byte(`{"metrics": {"lel_pct": 1}}`)}
	if err := p.Submit(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	<-sink.entered // the first message is being handled; the queue is empty
	return p, sink, msg, cancel, done
}

func TestPipelineBackpressureAndDrain(t *testing.T) {
	p, sink, msg, cancel, done := busyPipeline(t, 2)
	for i := 0; i < 2; i++ {
		if err := p.Submit(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if err := p.Submit(short, msg); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Submit on a full queue = %v, want the context's deadline", err)
	}

	cancel()
	close(sink.release)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(sink.Readings()); n != 3 {
		t.Errorf("handled %d readings after stop, want all 3 queued", n)
	}
	if err := p.Submit(context.Background(), msg); !errors.Is(err, ingest.ErrPipelineClosed) {
		t.Errorf("Submit after Run = %v, want ErrPipelineClosed", err)
	}
}

// TestPipelineDrainSettlesBlockedSubmitters: submitters still waiting on a
// full queue when Run stops are each either taken (and handled before Run
// returns) or refused with ErrPipelineClosed; Run returns once the last
// one has left.
func TestPipelineDrainSettlesBlockedSubmitters(t *testing.T) {
	p, sink, msg, cancel, done := busyPipeline(t, 1) // the queue has room for one
	const waiting = 5
	results := make(chan error, waiting)
	for i := 0; i < waiting; i++ {
		go func() { results <- p.Submit(context.Background(), msg) }()
	}
	cancel()
	close(sink.release)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	taken := 1
	for i := 0; i < waiting; i++ {
		switch err := <-results; {
		case err == nil:
			taken++
		case !errors.Is(err, ingest.ErrPipelineClosed):
			t.Fatalf("Submit = %v, want nil or ErrPipelineClosed", err)
		}
	}
	if n := len(sink.Readings()); n != taken {
		t.Errorf("handled %d readings, want the %d taken", n, taken)
	}
}

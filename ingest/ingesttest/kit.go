package ingesttest

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
)

// Now is the clock RunPipeline gives a pipeline that names none.
var Now = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

// Logger discards, or writes to stderr at debug level under go test -v.
func Logger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Registry holds gas-b2-07 (gas, s1/B2) and el-b1-01 (elevator, s1/B1).
func Registry(t *testing.T) *devices.Registry {
	t.Helper()
	reg, err := devices.NewRegistry(devices.Catalog{Devices: []devices.Device{
		{ID: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2"},
		{ID: "el-b1-01", Kind: devices.KindElevator, Site: "s1", Building: "B1"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// RunPipeline starts a pipeline with a recording sink and writer (Registry
// and Now unless cfg names others) and stops it when the test ends.
func RunPipeline(t *testing.T, cfg ingest.PipelineConfig) (p *ingest.Pipeline, sink, store *Recorder) {
	t.Helper()
	sink, store = &Recorder{}, &Recorder{}
	cfg.Sink, cfg.Writer = sink, store
	if cfg.Registry == nil {
		cfg.Registry = Registry(t)
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return Now }
	}
	p = ingest.NewPipeline(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return p, sink, store
}

// RunAsync runs fn(ctx) in a goroutine; the returned stop (also run when
// the test ends) cancels it and fails the test if it returned an error or
// did not return within 15s.
func RunAsync(t *testing.T, name string, fn func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s.Run: %v", name, err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("%s.Run did not return within 15s of cancel", name)
		}
	}
	t.Cleanup(stop)
	return stop
}

// WaitFor polls cond until it holds, failing the test after d.
func WaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitClosed waits up to 10s for ch to be closed.
func WaitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s not ready within 10s", what)
	}
}

// PahoClient connects a plain MQTT client, as a device or another system
// would, and disconnects it when the test ends.
func PahoClient(t *testing.T, addr, id string, configure func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetConnectTimeout(5 * time.Second)
	if configure != nil {
		configure(opts)
	}
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, addr, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// Publish publishes at QoS 1 and waits for the broker to take it.
func Publish(t *testing.T, c paho.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// Subscribe subscribes at QoS 1 and checks the broker granted it.
func Subscribe(t *testing.T, c paho.Client, filter string, h paho.MessageHandler) {
	t.Helper()
	tok := c.Subscribe(filter, 1, h)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	if code := tok.(*paho.SubscribeToken).Result()[filter]; code > 2 {
		t.Fatalf("subscribe %s: refused with code %#x", filter, code)
	}
}

// GasReading is reading i of device gas-1: lel_pct = i, one millisecond
// after reading i-1.
func GasReading(i int) devices.Reading {
	return devices.Reading{Device: "gas-1", Kind: devices.KindGas, Site: "s1", Building: "B1",
		Time: time.UnixMilli(1795395500000 + int64(i)), Values: map[string]devices.Value{"lel_pct": devices.Num(float64(i))}}
}

// SamePoints tells whether two point lists hold the same times, metrics
// and values in the same order.
func SamePoints(got, want []devices.Point) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !got[i].Time.Equal(want[i].Time) || got[i].Metric != want[i].Metric || got[i].Value != want[i].Value {
			return false
		}
	}
	return true
}

// CounterValue reads one counter from a registry; reason "" means a
// counter without labels.
func CounterValue(t *testing.T, reg *prometheus.Registry, name, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if reason == "" && len(m.GetLabel()) == 0 {
				return m.GetCounter().GetValue()
			}
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{reason=%q}", name, reason)
	return 0
}

// GatedWriter is a DurableWriter whose AfterDurable callbacks run only
// when the test releases them.
type GatedWriter struct {
	Recorder
	mu      sync.Mutex
	waiting []func()
}

// AfterDurable holds done until Release.
func (w *GatedWriter) AfterDurable(done func()) {
	w.mu.Lock()
	w.waiting = append(w.waiting, done)
	w.mu.Unlock()
}

// Waiting is the number of callbacks held.
func (w *GatedWriter) Waiting() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.waiting)
}

// Release runs the first n waiting callbacks.
func (w *GatedWriter) Release(n int) {
	w.mu.Lock()
	fns := w.waiting[:n]
	w.waiting = w.waiting[n:]
	w.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// DoneFlag is a Message.Done that a test can wait for.
type DoneFlag chan struct{}

// NewDone makes a DoneFlag.
func NewDone() DoneFlag { return make(DoneFlag) }

// Fn is the Done function; call it once.
func (d DoneFlag) Fn() func() { return func() { close(d) } }

// Called tells whether Fn has been called.
func (d DoneFlag) Called() bool {
	select {
	case <-d:
		return true
	default:
		return false
	}
}

// Wait fails the test unless Fn is called within 10s.
func (d DoneFlag) Wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-d:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: Done not called within 10s", what)
	}
}

// CloseWaitsForCallbacks checks that closeWriter returns only once an
// AfterDurable callback under way has returned. Something must have been
// written to w first, so the callback waits for the store; it is held
// until a moment after closeWriter began.
func CloseWaitsForCallbacks(t *testing.T, w ingest.DurableWriter, closeWriter func()) {
	t.Helper()
	release := make(chan struct{})
	var finished atomic.Bool
	w.AfterDurable(func() {
		<-release
		finished.Store(true)
	})
	time.AfterFunc(50*time.Millisecond, func() { close(release) })
	closeWriter()
	if !finished.Load() {
		t.Fatal("Close returned while an acknowledgement callback was still running")
	}
}

package ingest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// settlingSink is a SettlingSink whose AfterSettled callbacks run only
// when the test releases them.
type settlingSink struct {
	ingesttest.Recorder
	mu      sync.Mutex
	waiting []func()
}

func (s *settlingSink) AfterSettled(done func()) {
	s.mu.Lock()
	s.waiting = append(s.waiting, done)
	s.mu.Unlock()
}

func (s *settlingSink) release() {
	s.mu.Lock()
	fns := s.waiting
	s.waiting = nil
	s.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

func (s *settlingSink) held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.waiting)
}

// TestPipelineDoneWaitsForTheSinkToo: with a SettlingSink, a message is
// acknowledged once both the writer says it is durable and the sink says
// it is settled, in either order; a rejected one still at once.
func TestPipelineDoneWaitsForTheSinkToo(t *testing.T) {
	for _, sinkFirst := range []bool{true, false} {
		w := &ingesttest.GatedWriter{}
		sink := &settlingSink{}
		p := ingest.NewPipeline(ingest.PipelineConfig{Registry: ingesttest.Registry(t), Writer: w, Sink: sink})
		ingesttest.RunAsync(t, "Pipeline", p.Run)
		good, bad := ingesttest.NewDone(), ingesttest.NewDone()
		for _, m := range []ingest.Message{
			{Topic: "sites/s1/devices/gas-b2-07/telemetry", Payload: []byte(`{"metrics": {"lel_pct": 3}}`), Done: good.Fn()},
			{Topic: "sites/s1/devices/gas-b2-07/telemetry", Payload: []byte(`{not json`), Done: bad.Fn()},
		} {
			if err := p.Submit(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		bad.Wait(t, "rejected message")
		testkit.Eventually(t, 10*time.Second, "the reading waiting on the writer and the sink", func() bool {
			return w.Waiting() == 1 && sink.held() == 1
		})
		if sinkFirst {
			sink.release()
		} else {
			w.Release(1)
		}
		if good.Called() {
			t.Fatalf("sink first %v: Done called with only one of the writer and the sink done", sinkFirst)
		}
		if sinkFirst {
			w.Release(1)
		} else {
			sink.release()
		}
		good.Wait(t, "the reading once both are done")
	}
}

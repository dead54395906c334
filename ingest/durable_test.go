package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
)

// TestPipelineDoneWaitsForDurable: a good message is done only once the
// sink has it and the writer says it is durable; a rejected one at once;
// with a writer that cannot tell, once handed on.
func TestPipelineDoneWaitsForDurable(t *testing.T) {
	w := &ingesttest.GatedWriter{}
	sink := &ingesttest.Recorder{}
	p := ingest.NewPipeline(ingest.PipelineConfig{Registry: ingesttest.Registry(t), Writer: w, Sink: sink, Now: func() time.Time { return now }})
	ingesttest.RunAsync(t, "Pipeline", p.Run)
	ctx := context.Background()

	good, bad, status := ingesttest.NewDone(), ingesttest.NewDone(), ingesttest.NewDone()
	for _, m := range []ingest.Message{
		{Topic: "sites/s1/devices/gas-b2-07/telemetry", Payload: []byte(`{"metrics": {"lel_pct": 3}}`), Done: good.Fn()},
		{Topic: "sites/s1/devices/gas-b2-07/telemetry", Payload: []byte(`{not json`), Done: bad.Fn()},
		{Topic: "sites/s1/devices/gas-b2-07/status", Payload: []byte(`online`), Done: status.Fn()},
	} {
		if err := p.Submit(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	bad.Wait(t, "rejected message")
	ingesttest.WaitFor(t, 10*time.Second, "two callbacks waiting on the writer", func() bool { return w.Waiting() == 2 })
	if len(sink.Readings()) != 1 {
		t.Errorf("sink has %d readings before Done, want 1", len(sink.Readings()))
	}
	if good.Called() || status.Called() {
		t.Fatal("Done called before the writer said durable")
	}
	w.Release(2)
	good.Wait(t, "good message")
	status.Wait(t, "status message")

	plain := ingest.NewPipeline(ingest.PipelineConfig{Registry: ingesttest.Registry(t), Writer: &ingesttest.Recorder{}})
	ingesttest.RunAsync(t, "Pipeline", plain.Run)
	d := ingesttest.NewDone()
	if err := plain.Submit(ctx, ingest.Message{Topic: "sites/s1/devices/gas-b2-07/telemetry", Payload: []byte(`{"metrics": {"lel_pct": 3}}`), Done: d.Fn()}); err != nil {
		t.Fatal(err)
	}
	d.Wait(t, "message through a writer that cannot tell")
}

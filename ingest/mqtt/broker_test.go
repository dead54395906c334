package mqtt_test

import (
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// TestEmbeddedBrokerAcksOnlyWhenDurable: a device publishing to the
// embedded broker gets its PUBACK (QoS 1) or PUBREC (QoS 2) only once the
// writer says the reading is durable, and at most MaxInFlight QoS 1
// messages wait for that at a time.
func TestEmbeddedBrokerAcksOnlyWhenDurable(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			w := &ingesttest.GatedWriter{}
			sink := &ingesttest.Recorder{}
			p := ingest.NewPipeline(ingest.PipelineConfig{Registry: ingesttest.Registry(t), Writer: w, Sink: sink, Now: func() time.Time { return ingesttest.Now }})
			ingesttest.RunAsync(t, "Pipeline", p.Run)
			b := mqtt.NewBroker(mqtt.BrokerConfig{Listen: "127.0.0.1:0", Anonymous: true, MaxInFlight: 2, Logger: ingesttest.Logger(t)}, p)
			ingesttest.RunAsync(t, "Broker", b.Run)
			ingesttest.WaitClosed(t, b.Ready(), "embedded broker")
			dev := ingesttest.PahoClient(t, b.Addr(), "gas-b2-07", nil)

			tok := dev.Publish("sites/s1/devices/gas-b2-07/telemetry", qos, false, `{"metrics": {"lel_pct": 3}}`)
			testkit.Eventually(t, 10*time.Second, "the reading waiting on the writer", func() bool { return w.Waiting() == 1 })
			if len(sink.Readings()) != 1 {
				t.Fatalf("sink has %d readings, want 1", len(sink.Readings()))
			}
			if tok.WaitTimeout(200 * time.Millisecond) {
				t.Fatalf("acknowledged before the writer said durable (error %v)", tok.Error())
			}
			w.Release(1)
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("not acknowledged once durable: %v", tok.Error())
			}
			if qos != 1 {
				return
			}

			// The in-flight cap: two wait, the third is not taken.
			var toks []paho.Token
			for i := 0; i < 3; i++ {
				toks = append(toks, dev.Publish("sites/s1/devices/gas-b2-07/telemetry", 1, false, fmt.Sprintf(`{"metrics": {"lel_pct": %d}}`, i)))
			}
			testkit.Eventually(t, 10*time.Second, "two readings waiting on the writer", func() bool { return w.Waiting() == 2 })
			if n := len(sink.Readings()); n != 3 || toks[2].WaitTimeout(200*time.Millisecond) {
				t.Fatalf("past the in-flight cap: sink has %d readings (want 3), third acknowledged %v", n, toks[2].WaitTimeout(0))
			}
			w.Release(2)
			testkit.Eventually(t, 10*time.Second, "the third reading waiting on the writer", func() bool { return w.Waiting() == 1 })
			w.Release(1)
			for i, tok := range toks {
				if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
					t.Fatalf("message %d not acknowledged once durable: %v", i, tok.Error())
				}
			}
		})
	}
}

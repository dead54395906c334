package mqtt_test

import (
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestMQTTGatewayAcksOnlyWhatIsDurable: messages the store has not made
// durable are not acknowledged, so when caretaker goes away (as if
// killed) the broker delivers them again to the resumed session; those it
// made durable it does not.
func TestMQTTGatewayAcksOnlyWhatIsDurable(t *testing.T) {
	broker := testserver.Mosquitto(t)
	cfg := mqtt.Config{Broker: "tcp://" + broker.Addr, ClientID: "caretaker-durable", QoS: 1, Logger: ingesttest.Logger(t)}
	w := &ingesttest.GatedWriter{}
	p := ingest.NewPipeline(ingest.PipelineConfig{Registry: ingesttest.Registry(t), Writer: w})
	ingesttest.RunAsync(t, "Pipeline", p.Run)
	gw := mqtt.NewGateway(cfg, p)
	stop := ingesttest.RunAsync(t, "MQTTGateway", gw.Run)
	ingesttest.WaitClosed(t, gw.Ready(), "gateway")

	dev := ingesttest.PahoClient(t, broker.Addr, "gas-b2-07", nil)
	topic := "sites/s1/devices/gas-b2-07/telemetry"
	for i := 1; i <= 2; i++ {
		ingesttest.Publish(t, dev, topic, `{"metrics": {"lel_pct": `+string(rune('0'+i))+`}}`)
	}
	ingesttest.WaitFor(t, 10*time.Second, "2 messages waiting on the store", func() bool { return w.Waiting() == 2 })
	w.Release(2) // durable: acknowledged
	for i := 3; i <= 5; i++ {
		ingesttest.Publish(t, dev, topic, `{"metrics": {"lel_pct": `+string(rune('0'+i))+`}}`)
	}
	ingesttest.WaitFor(t, 10*time.Second, "3 more waiting on the store", func() bool { return w.Waiting() == 3 })
	stop() // gone before the store made them durable

	p2, sink, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{})
	gw2 := mqtt.NewGateway(cfg, p2)
	ingesttest.RunAsync(t, "MQTTGateway", gw2.Run)
	ingesttest.WaitClosed(t, gw2.Ready(), "gateway after restart")
	ingesttest.Publish(t, dev, topic, `{"metrics": {"lel_pct": 9}}`) // comes after the redelivered ones
	got := map[float64]int{}
	ingesttest.WaitFor(t, 10*time.Second, "the sentinel", func() bool {
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

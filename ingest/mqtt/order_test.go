package mqtt_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestMQTTGatewayKeepsDeviceOrder: bursts of readings from two devices,
// published at QoS 1 as fast as mosquitto takes them, reach the pipeline
// in each device's publish order (the rules ignore a value older than the
// last one seen, so a reordered value would be lost).
func TestMQTTGatewayKeepsDeviceOrder(t *testing.T) {
	broker := testserver.Mosquitto(t)
	p, sink, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{Logger: ingesttest.Logger(t)})
	startGateway(t, p, mqtt.Config{Broker: "tcp://" + broker.Addr, ClientID: "caretaker-order", QoS: 1}, "gateway")

	const rounds, burst = 5, 200
	devs := []string{"gas-b2-07", "el-b1-01"}
	pub := ingesttest.PahoClient(t, broker.Addr, "burst", func(o *paho.ClientOptions) { o.SetMaxResumePubInFlight(1000) })
	base := int64(1795395500000)
	for round := 0; round < rounds; round++ {
		var toks []paho.Token
		for i := 0; i < burst; i++ {
			ts := base + int64(round*burst+i)
			for _, d := range devs {
				metric := `"lel_pct": 5`
				if d == "el-b1-01" {
					metric = `"motor_temp_c": 40`
				}
				toks = append(toks, pub.Publish("sites/s1/devices/"+d+"/telemetry", 1, false,
					fmt.Sprintf(`{"ts": %d, "metrics": {%s}}`, ts, metric)))
			}
		}
		for _, tok := range toks {
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
		got := sink.Wait(t, (round+1)*burst*len(devs))
		last := map[string]time.Time{}
		for i, r := range got {
			if prev, ok := last[r.Device]; ok && r.Time.Before(prev) {
				t.Fatalf("round %d: reading %d of %s at %s came after one at %s", round, i, r.Device,
					r.Time.Format("15:04:05.000"), prev.Format("15:04:05.000"))
			}
			last[r.Device] = r.Time
		}
	}
}

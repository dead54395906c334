package mqtt_test

import (
	"context"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

type busMsg struct{ topic, payload string }

func collect(ch chan busMsg) func(string, []byte) {
	return func(topic string, payload []byte) { ch <- busMsg{topic, string(payload)} }
}

func waitMsg(t *testing.T, ch chan busMsg, what string) busMsg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no message: %s", what)
	}
	return busMsg{}
}

// Two caretaker instances on one mosquitto: what one publishes on
// caretaker/events/ the other hears (and so does the publisher itself);
// device traffic does not come through the events subscription.
func TestMQTTGatewayEventsBetweenInstances(t *testing.T) {
	broker := testserver.Mosquitto(t)
	var gws []*mqtt.Gateway
	for _, id := range []string{"caretaker-a", "caretaker-b"} {
		p, _, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{Logger: ingesttest.Logger(t)})
		gw := mqtt.NewGateway(mqtt.Config{Broker: "tcp://" + broker.Addr, ClientID: id, QoS: 1, Logger: ingesttest.Logger(t)}, p)
		ingesttest.RunAsync(t, "MQTTGateway "+id, gw.Run)
		gws = append(gws, gw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	heardA, heardB := make(chan busMsg, 10), make(chan busMsg, 10)
	if err := gws[0].Subscribe(ctx, "caretaker/events/#", collect(heardA)); err != nil {
		t.Fatal(err)
	}
	if err := gws[1].Subscribe(ctx, "caretaker/events/#", collect(heardB)); err != nil {
		t.Fatal(err)
	}
	dev := ingesttest.PahoClient(t, broker.Addr, "gas-b2-07", nil)
	ingesttest.Publish(t, dev, "sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 3}}`)
	if err := gws[1].Publish(ctx, "caretaker/events/alarm.raised", []byte(`{"type":"alarm.raised"}`)); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]chan busMsg{"A": heardA, "B": heardB} {
		if m := waitMsg(t, ch, name); m.topic != "caretaker/events/alarm.raised" || m.payload != `{"type":"alarm.raised"}` {
			t.Fatalf("%s heard %+v", name, m)
		}
	}
}

func TestMQTTGatewaySubscribeBeforeConnectWaits(t *testing.T) {
	p := ingest.NewPipeline(ingest.PipelineConfig{})
	gw := mqtt.NewGateway(mqtt.Config{Broker: "tcp://127.0.0.1:1"}, p)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := gw.Subscribe(ctx, "caretaker/events/#", func(string, []byte) {}); err == nil {
		t.Fatal("Subscribe on a gateway that never connected returned nil")
	}
}

// The embedded broker hands caretaker/events/ messages to an in-process
// subscriber: caretaker's own; no client publishes events, not even an
// admin (its connection is cut).
func TestEmbeddedBrokerEvents(t *testing.T) {
	p, _, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{Logger: ingesttest.Logger(t)})
	b := mqtt.NewBroker(mqtt.BrokerConfig{Listen: "127.0.0.1:0", Users: []mqtt.User{user(t, "other-instance", true)}, Logger: ingesttest.Logger(t)}, p)
	ingesttest.RunAsync(t, "Broker", b.Run)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	heard := make(chan busMsg, 10)
	if err := b.Subscribe(ctx, "caretaker/events/#", collect(heard)); err != nil {
		t.Fatal(err)
	}
	other := ingesttest.PahoClient(t, b.Addr(), "other-instance", func(o *paho.ClientOptions) { as("other-instance")(o); o.SetAutoReconnect(false) })
	other.Publish("caretaker/events/ticket.created", 1, false, `{"from":"other"}`)
	testkit.Eventually(t, 10*time.Second, "the client publishing an event cut off", func() bool { return !other.IsConnectionOpen() })
	if err := b.Publish(ctx, "caretaker/events/alarm.acked", []byte(`{"from":"self"}`)); err != nil {
		t.Fatal(err)
	}
	if m := waitMsg(t, heard, "from itself"); m.payload != `{"from":"self"}` {
		t.Fatalf("heard %+v (the client's event went through)", m)
	}
}

package mqtt_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	paho "github.com/eclipse/paho.mqtt.golang"
)

func TestMQTTGatewayWithMosquitto(t *testing.T) {
	broker := testserver.Mosquitto(t)
	p, sink, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{Logger: ingesttest.Logger(t)})
	gw := startGateway(t, p, mqtt.Config{Broker: "tcp://" + broker.Addr, ClientID: "caretaker-test", QoS: 1}, "gateway")
	if !gw.Connected() {
		t.Fatal("Connected() = false after Ready")
	}

	dev := ingesttest.PahoClient(t, broker.Addr, "gas-b2-07", nil)
	ingesttest.Publish(t, dev, "sites/s1/devices/gas-b2-07/telemetry", `{"ts": 1795395500000, "metrics": {"lel_pct": 35}}`)
	ingesttest.Publish(t, dev, "sites/s1/devices/el-b1-01/event", `{"event": "door_fault", "active": true}`)

	r := sink.Wait(t, 1)[0]
	if r.Device != "gas-b2-07" || r.Kind != devices.KindGas || r.Building != "B2" ||
		r.Values["lel_pct"] != devices.Num(35) || !r.Time.Equal(time.UnixMilli(1795395500000)) {
		t.Errorf("reading = %+v", r)
	}
	if e := sink.WaitEvents(t, 1)[0]; e.Device != "el-b1-01" || e.Name != "door_fault" || !e.Active {
		t.Errorf("event = %+v", e)
	}

	// caretaker's own publications reach other subscribers.
	got := make(chan string, 1)
	other := ingesttest.PahoClient(t, broker.Addr, "other-system", nil)
	ingesttest.Subscribe(t, other, "caretaker/events/#", func(_ paho.Client, m paho.Message) {
		select {
		case got <- m.Topic() + " " + string(m.Payload()):
		default:
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.Publish(ctx, "caretaker/events/alarm.raised", []byte(`{"seq":1}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != `caretaker/events/alarm.raised {"seq":1}` {
			t.Errorf("subscriber got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscriber did not get caretaker's publication")
	}
}

func TestMQTTGatewayResumesSession(t *testing.T) {
	broker := testserver.Mosquitto(t)
	p, sink, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{})
	cfg := mqtt.Config{Broker: "tcp://" + broker.Addr, ClientID: "caretaker-resume", QoS: 1}
	gw := mqtt.NewGateway(cfg, p)
	stop := ingesttest.RunAsync(t, "MQTTGateway", gw.Run)
	ingesttest.WaitClosed(t, gw.Ready(), "gateway")
	stop()

	// Published while caretaker is away: the broker keeps it for the
	// persistent session and delivers it on reconnect.
	dev := ingesttest.PahoClient(t, broker.Addr, "gas-b2-07", nil)
	ingesttest.Publish(t, dev, "sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 12}}`)

	gw2 := mqtt.NewGateway(cfg, p)
	ingesttest.RunAsync(t, "MQTTGateway", gw2.Run)
	if r := sink.Wait(t, 1)[0]; r.Values["lel_pct"] != devices.Num(12) {
		t.Errorf("reading = %+v", r)
	}
}

func TestMQTTGatewayFailsWhenBrokerIsDown(t *testing.T) {
	p := ingest.NewPipeline(ingest.PipelineConfig{})
	addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	gw := mqtt.NewGateway(mqtt.Config{Broker: "tcp://" + addr, ConnectTimeout: 2 * time.Second}, p)
	err := gw.Run(context.Background())
	if err == nil {
		t.Fatal("Run against a closed port returned nil")
	}
	if want := addr; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the broker %s", err, want)
	}
}

func TestEmbeddedBroker(t *testing.T) {
	p, sink, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{Logger: ingesttest.Logger(t)})
	b := mqtt.NewBroker(mqtt.BrokerConfig{Listen: "127.0.0.1:0", Logger: ingesttest.Logger(t),
		Users: []mqtt.User{user(t, "watcher", true), user(t, "el-b1-01", false), user(t, "gas-b2-07", false)}}, p)
	ingesttest.RunAsync(t, "Broker", b.Run)
	ingesttest.WaitClosed(t, b.Ready(), "embedded broker")

	// Another system watching the broker sees device traffic too.
	// Subscribe before any traffic: mochi shares packet ids between the two
	// directions, so a SUBSCRIBE whose id matches a QoS 1 message still in
	// flight to this client is refused (SUBACK 0x80).
	seen := make(chan string, 10)
	events := make(chan string, 1)
	watcher := ingesttest.PahoClient(t, b.Addr(), "watcher", as("watcher"))
	ingesttest.Subscribe(t, watcher, "sites/#", func(_ paho.Client, m paho.Message) {
		seen <- m.Topic() + " " + string(m.Payload())
	})
	ingesttest.Subscribe(t, watcher, "caretaker/events/#", func(_ paho.Client, m paho.Message) {
		events <- string(m.Payload())
	})

	dev := ingesttest.PahoClient(t, b.Addr(), "el-b1-01", func(o *paho.ClientOptions) {
		as("el-b1-01")(o)
		o.SetWill("sites/s1/devices/el-b1-01/status", "offline", 1, false)
	})
	const payload = `{"ts": "2026-11-23T00:59:00Z", "metrics": {"motor_temp_c": 71.5, "running": true}}`
	ingesttest.Publish(t, dev, "sites/s1/devices/el-b1-01/telemetry", payload)

	r := sink.Wait(t, 1)[0]
	if r.Device != "el-b1-01" || r.Kind != devices.KindElevator || r.Site != "s1" || r.Building != "B1" ||
		r.Values["motor_temp_c"] != devices.Num(71.5) || r.Values["running"] != devices.FlagValue(true) {
		t.Errorf("reading = %+v", r)
	}
	select {
	case m := <-seen:
		if m != "sites/s1/devices/el-b1-01/telemetry "+payload {
			t.Errorf("watcher got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watcher did not see the device's message")
	}

	// The device drops off without a clean disconnect: its will goes
	// through the same hook into the pipeline.
	var conn net.Conn
	var connMu sync.Mutex
	dev2 := ingesttest.PahoClient(t, b.Addr(), "gas-b2-07", func(o *paho.ClientOptions) {
		as("gas-b2-07")(o)
		o.SetWill("sites/s1/devices/gas-b2-07/status", "offline", 1, false)
		o.SetAutoReconnect(false)
		o.SetCustomOpenConnectionFn(func(u *url.URL, _ paho.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			connMu.Lock()
			conn = c
			connMu.Unlock()
			return c, err
		})
	})
	ingesttest.Publish(t, dev2, "sites/s1/devices/gas-b2-07/status", "online")
	if st := sink.WaitStatuses(t, 1)[0]; st.Device != "gas-b2-07" || !st.Online {
		t.Errorf("status = %+v", st)
	}
	connMu.Lock()
	conn.Close() // the device loses power: no DISCONNECT packet
	connMu.Unlock()
	if st := sink.WaitStatuses(t, 2)[1]; st.Device != "gas-b2-07" || st.Online {
		t.Errorf("will status = %+v", st)
	}

	// caretaker publishes through the broker itself.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.Publish(ctx, "caretaker/events/ticket.created", []byte(`{"id":"T1"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-events:
		if m != `{"id":"T1"}` {
			t.Errorf("watcher got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watcher did not get caretaker's publication")
	}
	if s := p.Stats(); s.Rejected[ingest.ReasonUnknownTopic] != 0 {
		t.Errorf("caretaker's own topics reached the pipeline: %+v", s)
	}
}

func TestEmbeddedBrokerAuth(t *testing.T) {
	p := ingest.NewPipeline(ingest.PipelineConfig{})
	b := mqtt.NewBroker(mqtt.BrokerConfig{Listen: "127.0.0.1:0", Username: "dev", Password: "s3cret"}, p)
	ingesttest.RunAsync(t, "Broker", b.Run)
	ingesttest.WaitClosed(t, b.Ready(), "embedded broker")

	bad := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + b.Addr()).SetClientID("x").
		SetUsername("dev").SetPassword("wrong").SetConnectTimeout(5 * time.Second))
	if tok := bad.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() == nil {
		bad.Disconnect(0)
		t.Fatal("connected with a wrong password")
	}
	ingesttest.PahoClient(t, b.Addr(), "y", func(o *paho.ClientOptions) { o.SetUsername("dev").SetPassword("s3cret") })
}

// startGateway runs a gateway with cfg (logging to the test) into p until
// the test ends, and waits until it is ready (what names it on a
// timeout).
func startGateway(t *testing.T, p *ingest.Pipeline, cfg mqtt.Config, what string) *mqtt.Gateway {
	t.Helper()
	cfg.Logger = ingesttest.Logger(t)
	gw := mqtt.NewGateway(cfg, p)
	ingesttest.RunAsync(t, "MQTTGateway", gw.Run)
	ingesttest.WaitClosed(t, gw.Ready(), what)
	return gw
}

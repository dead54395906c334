package firmwaresim

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/simonvetter/modbus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// recorder subscribes to every device topic on a real broker.
type recorder struct {
	mu   sync.Mutex
	msgs map[string][]string // topic -> payloads
}

func record(t *testing.T, broker string) *recorder {
	t.Helper()
	r := &recorder{msgs: map[string][]string{}}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID("sim-test-recorder"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("recorder connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe("sites/+/devices/+/+", 1, func(_ mqtt.Client, m mqtt.Message) {
		r.mu.Lock()
		r.msgs[m.Topic()] = append(r.msgs[m.Topic()], string(m.Payload()))
		r.mu.Unlock()
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return r
}

func (r *recorder) count(topic string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs[topic])
}

func (r *recorder) get(topic string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs[topic]...)
}

// TestRunMQTTAndModbus runs a small mixed estate against a real mosquitto:
// MQTT devices come online, publish telemetry and the scenario's event;
// the Modbus meter answers a client.
func TestRunMQTTAndModbus(t *testing.T) {
	broker := testserver.Mosquitto(t)
	rec := record(t, broker.Addr)
	mbAddr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	estate := DemoEstate()
	pm := &estate[4] // pm-b1-01 on Modbus
	pm.Model = devices.BuiltinModelFor(pm.Kind)
	pm.Modbus = &devices.Modbus{Address: "tcp://" + mbAddr, Unit: 7}
	ms := func(n int) devices.Duration { return devices.Duration(time.Duration(n) * time.Millisecond) }
	sc := Scenario{Name: "quick", Steps: []Step{{At: ms(300), Device: "elev-e3", Event: "entrapment", Hold: ms(400)}}}
	sim, err := New(Config{Broker: "tcp://" + broker.Addr, Devices: estate, Scenario: sc, Interval: 100 * time.Millisecond, Seed: 1, QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := sim.ModbusAddrs(); len(got) != 1 || got[0] != mbAddr {
		t.Fatalf("modbus addrs = %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	e3 := Topic(estate[7], "event")
	testkit.Eventually(t, 10*time.Second, "entrapment start and end", func() bool { return rec.count(e3) >= 2 })
	var evs []struct {
		Event  string
		Active bool
	}
	for _, p := range rec.get(e3) {
		var e struct {
			Event  string
			Active bool
		}
		if err := json.Unmarshal([]byte(p), &e); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	if len(evs) != 2 || evs[0].Event != "entrapment" || !evs[0].Active || evs[1].Active {
		t.Fatalf("events = %+v", evs)
	}
	for _, d := range estate {
		if d.Modbus != nil {
			if rec.count(Topic(d, "telemetry")) != 0 {
				t.Errorf("%s is on Modbus but published MQTT telemetry", d.ID)
			}
			continue
		}
		if n := rec.count(Topic(d, "telemetry")); n < 2 {
			t.Errorf("%s: %d telemetry messages", d.ID, n)
		}
		if st := rec.get(Topic(d, "status")); len(st) == 0 || st[0] != "online" {
			t.Errorf("%s: status %v", d.ID, st)
		}
	}

	c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + mbAddr, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 5*time.Second, "modbus gateway", func() bool { return c.Open() == nil })
	defer c.Close()
	_ = c.SetUnitId(7)
	v, err := c.ReadRegister(0, modbus.HOLDING_REGISTER)
	if err != nil {
		t.Fatal(err)
	}
	if volts := float64(v) * 0.1; volts < 214 || volts > 226 {
		t.Errorf("meter reads %g V over Modbus", volts)
	}
}

// TestLoadSharedConnections: 200 devices at 5 msg/s each over 4
// connections, QoS 1, against a real mosquitto. Every message sent is
// acknowledged and arrives; the pacing never sends more than asked.
func TestLoadSharedConnections(t *testing.T) {
	broker := testserver.Mosquitto(t)
	var mu sync.Mutex
	received := 0
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker.Addr).SetClientID("load-counter"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe("sites/+/devices/+/telemetry", 1, func(mqtt.Client, mqtt.Message) {
		mu.Lock()
		received++
		mu.Unlock()
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	res, err := Load(context.Background(), LoadConfig{Broker: "tcp://" + broker.Addr, Devices: 200, Rate: 5,
		Duration: 2 * time.Second, QoS: 1, Connections: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if res.Connections != 4 || res.Target != 1000 {
		t.Errorf("result = %+v", res)
	}
	if res.Sent == 0 || res.Acked != res.Sent || res.Failed != 0 {
		t.Errorf("sent %d, acked %d, failed %d", res.Sent, res.Acked, res.Failed)
	}
	if max := int64(res.Target*res.Elapsed.Seconds()) + 4; res.Sent > max {
		t.Errorf("sent %d in %s, more than the target allows (%d)", res.Sent, res.Elapsed, max)
	}
	testkit.Eventually(t, 10*time.Second, "every message at the subscriber", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return int64(received) >= res.Acked
	})
	if _, err := Load(context.Background(), LoadConfig{Broker: "tcp://x", Devices: 0, Rate: 1, Duration: time.Second}); err == nil {
		t.Error("0 devices accepted")
	}
}

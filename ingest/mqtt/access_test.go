package mqtt_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// user is a credential of the embedded broker whose password is
// "pw-"+name.
func user(t *testing.T, name string, admin bool, devs ...string) mqtt.User {
	t.Helper()
	h, err := mqtt.HashPassword("pw-" + name)
	if err != nil {
		t.Fatal(err)
	}
	return mqtt.User{Username: name, PasswordHash: h, Admin: admin, Devices: devs}
}

// as logs a client in as name (password "pw-"+name).
func as(name string) func(*paho.ClientOptions) {
	return func(o *paho.ClientOptions) { o.SetUsername(name).SetPassword("pw-" + name) }
}

// securedBroker runs the embedded broker with the test's users (devices
// gas-b2-07 and el-b1-01 of site s1 registered) into a recording pipeline.
type securedBroker struct {
	b    *mqtt.Broker
	sink *ingesttest.Recorder
	reg  *prometheus.Registry
}

func startSecured(t *testing.T, cfg mqtt.BrokerConfig) securedBroker {
	t.Helper()
	registry := ingesttest.Registry(t)
	p, sink, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{Registry: registry, Logger: ingesttest.Logger(t)})
	reg := prometheus.NewRegistry()
	cfg.Listen, cfg.Logger, cfg.Registerer, cfg.Devices = "127.0.0.1:0", ingesttest.Logger(t), reg, registry
	b := mqtt.NewBroker(cfg, p)
	ingesttest.RunAsync(t, "Broker", b.Run)
	ingesttest.WaitClosed(t, b.Ready(), "embedded broker")
	return securedBroker{b: b, sink: sink, reg: reg}
}

func (s securedBroker) refused(t *testing.T, reason string) float64 {
	t.Helper()
	return testkit.Gather(t, s.reg).Sum(fmt.Sprintf(`caretaker_mqtt_refused_total{reason=%q}`, reason))
}

// connectErr tries to connect and returns the error (nil: connected, and
// the client is disconnected at the end of the test).
func connectErr(t *testing.T, addr, id string, configure func(*paho.ClientOptions)) error {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetConnectTimeout(5 * time.Second).SetAutoReconnect(false).SetProtocolVersion(4)
	if configure != nil {
		configure(opts)
	}
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("connect %s: no answer", id)
	}
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(100) })
	}
	return tok.Error()
}

// subCode subscribes and returns the SUBACK code (0x80: refused).
func subCode(t *testing.T, c paho.Client, filter string) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return tok.(*paho.SubscribeToken).Result()[filter]
}

// TestEmbeddedBrokerRefusesWithoutCredentials: with users configured and
// no anonymous access, a client without credentials, with an unknown
// username or a wrong password is refused at CONNECT (counted), so it
// cannot publish a gas reading; the device's own credentials let it in.
func TestEmbeddedBrokerRefusesWithoutCredentials(t *testing.T) {
	s := startSecured(t, mqtt.BrokerConfig{Users: []mqtt.User{user(t, "gas-b2-07", false)}})
	for _, c := range []struct {
		name      string
		configure func(*paho.ClientOptions)
	}{
		{"anonymous", nil},
		{"unknown user", func(o *paho.ClientOptions) { o.SetUsername("intruder").SetPassword("x") }},
		{"wrong password", func(o *paho.ClientOptions) { o.SetUsername("gas-b2-07").SetPassword("pw-wrong") }},
	} {
		if err := connectErr(t, s.b.Addr(), "attacker", c.configure); err == nil {
			t.Fatalf("%s: connected", c.name)
		}
	}
	if n := s.refused(t, mqtt.RefusedCredentials); n != 3 {
		t.Errorf("refused{credentials} = %v, want 3", n)
	}
	dev := ingesttest.PahoClient(t, s.b.Addr(), "gas-b2-07", as("gas-b2-07"))
	ingesttest.Publish(t, dev, "sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 2}}`)
	if r := s.sink.Wait(t, 1)[0]; r.Device != "gas-b2-07" {
		t.Fatalf("reading %+v", r)
	}
	// After a good login (remembered, so a reconnect is not hashed again)
	// a wrong password is still refused, and the right one still taken.
	if err := connectErr(t, s.b.Addr(), "gas-b2-07", func(o *paho.ClientOptions) { o.SetUsername("gas-b2-07").SetPassword("pw-wrong") }); err == nil {
		t.Fatal("a wrong password taken after a good login")
	}
	if err := connectErr(t, s.b.Addr(), "gas-b2-07", as("gas-b2-07")); err != nil {
		t.Fatalf("the device reconnecting: %v", err)
	}
}

// TestEmbeddedBrokerDeviceTopics: a device publishes only on its own
// topics under its own site; publishing for another device (or on
// caretaker/events/) cuts its connection and nothing reaches the pipeline;
// it subscribes only to its own command topic: #, $SYS/#,
// caretaker/events/# and another device's command topic get SUBACK 0x80.
// An admin subscribes to all of them but publishes no events either.
func TestEmbeddedBrokerDeviceTopics(t *testing.T) {
	s := startSecured(t, mqtt.BrokerConfig{Users: []mqtt.User{
		user(t, "gas-b2-07", false), user(t, "gw-b1", false, "el-b1-01"), user(t, "ops", true),
	}})
	for _, topic := range []string{
		"sites/s1/devices/el-b1-01/telemetry",  // another device
		"sites/s2/devices/gas-b2-07/telemetry", // its own id under another site
		"caretaker/events/alarm.raised",
		"sites/s1/devices/gas-b2-07/cmd",
	} {
		dev := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + s.b.Addr()).SetClientID("gas-b2-07").
			SetUsername("gas-b2-07").SetPassword("pw-gas-b2-07").SetAutoReconnect(false))
		if tok := dev.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		tok := dev.Publish(topic, 1, false, `{"metrics": {"lel_pct": 80, "motor_temp_c": 200}}`)
		testkit.Eventually(t, 10*time.Second, "the connection cut after publishing on "+topic, func() bool { return !dev.IsConnectionOpen() })
		if tok.WaitTimeout(time.Second) && tok.Error() == nil {
			t.Errorf("publish on %s acknowledged", topic)
		}
		dev.Disconnect(0)
	}
	if n := s.refused(t, mqtt.RefusedPublish); n != 4 {
		t.Errorf("refused{publish} = %v, want 4", n)
	}
	// The gateway speaks for its device; the pipeline saw only that.
	gw := ingesttest.PahoClient(t, s.b.Addr(), "gw-b1", as("gw-b1"))
	ingesttest.Publish(t, gw, "sites/s1/devices/el-b1-01/telemetry", `{"metrics": {"motor_temp_c": 40}}`)
	if got := s.sink.Wait(t, 1); len(got) != 1 || got[0].Device != "el-b1-01" {
		t.Fatalf("readings %+v: the refused publications reached the pipeline", got)
	}

	dev := ingesttest.PahoClient(t, s.b.Addr(), "gas-b2-07", as("gas-b2-07"))
	for _, f := range []string{"#", "$SYS/#", "caretaker/events/#", "sites/+/devices/+/telemetry", "sites/s1/devices/el-b1-01/cmd", "sites/s1/devices/gas-b2-07/#"} {
		if code := subCode(t, dev, f); code != 0x80 {
			t.Errorf("device subscribing to %s: SUBACK %#x, want 0x80", f, code)
		}
	}
	if code := subCode(t, dev, "sites/s1/devices/gas-b2-07/cmd"); code > 2 {
		t.Errorf("device subscribing to its command topic: SUBACK %#x", code)
	}
	admin := ingesttest.PahoClient(t, s.b.Addr(), "ops-console", func(o *paho.ClientOptions) { as("ops")(o); o.SetAutoReconnect(false) })
	for _, f := range []string{"#", "$SYS/#", "caretaker/events/#"} {
		if code := subCode(t, admin, f); code > 2 {
			t.Errorf("admin subscribing to %s: SUBACK %#x", f, code)
		}
	}
	tok := admin.Publish("caretaker/events/alarm.raised", 1, false, `{}`)
	testkit.Eventually(t, 10*time.Second, "the admin's connection cut after publishing an event", func() bool { return !admin.IsConnectionOpen() })
	if tok.WaitTimeout(time.Second) && tok.Error() == nil {
		t.Error("admin's event publication acknowledged")
	}
}

// TestEmbeddedBrokerClientIDTakeover: another user connecting with a
// device's client id is refused and the device stays connected; the
// device itself reconnecting takes its id back (a half-open connection).
// An anonymous client (demo) takes over nobody's id either.
func TestEmbeddedBrokerClientIDTakeover(t *testing.T) {
	s := startSecured(t, mqtt.BrokerConfig{Anonymous: true, Users: []mqtt.User{user(t, "gas-b2-07", false), user(t, "el-b1-01", false)}})
	dev := ingesttest.PahoClient(t, s.b.Addr(), "gas-b2-07", func(o *paho.ClientOptions) {
		as("gas-b2-07")(o)
		o.SetAutoReconnect(false)
	})
	if err := connectErr(t, s.b.Addr(), "gas-b2-07", as("el-b1-01")); err == nil {
		t.Fatal("another user took the device's client id")
	}
	if err := connectErr(t, s.b.Addr(), "gas-b2-07", nil); err == nil {
		t.Fatal("an anonymous client took the device's client id")
	}
	if n := s.refused(t, mqtt.RefusedClientID); n != 2 {
		t.Errorf("refused{client_id} = %v, want 2", n)
	}
	ingesttest.Publish(t, dev, "sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 1}}`)
	if !dev.IsConnectionOpen() {
		t.Fatal("the device was kicked off")
	}
	if err := connectErr(t, s.b.Addr(), "gas-b2-07", as("gas-b2-07")); err != nil {
		t.Fatalf("the device could not take its own id back: %v", err)
	}
	testkit.Eventually(t, 10*time.Second, "the old connection of the device replaced", func() bool { return !dev.IsConnectionOpen() })
}

// TestEmbeddedBrokerWills: a will must be the device's own status topic
// (a will marking a leak probe offline is refused at CONNECT); a retained
// will is bounded like any retained message.
func TestEmbeddedBrokerWills(t *testing.T) {
	s := startSecured(t, mqtt.BrokerConfig{MaxRetainedBytes: 16, Users: []mqtt.User{user(t, "gas-b2-07", false)}})
	for _, c := range []struct {
		topic, payload string
		retain         bool
	}{
		{"sites/s1/devices/el-b1-01/status", "offline", false},
		{"sites/s1/devices/gas-b2-07/telemetry", `{"metrics":{"lel_pct":80}}`, false},
		{"caretaker/events/alarm.raised", "{}", false},
		{"sites/s1/devices/gas-b2-07/status", strings.Repeat("x", 17), true},
	} {
		err := connectErr(t, s.b.Addr(), "gas-b2-07", func(o *paho.ClientOptions) {
			as("gas-b2-07")(o)
			o.SetWill(c.topic, c.payload, 1, c.retain)
		})
		if err == nil {
			t.Errorf("will on %s (retain %v, %d bytes) accepted", c.topic, c.retain, len(c.payload))
		}
	}
	if n := s.refused(t, mqtt.RefusedWill); n != 4 {
		t.Errorf("refused{will} = %v, want 4", n)
	}
	if err := connectErr(t, s.b.Addr(), "gas-b2-07", func(o *paho.ClientOptions) {
		as("gas-b2-07")(o)
		o.SetWill("sites/s1/devices/gas-b2-07/status", "offline", 1, true)
	}); err != nil {
		t.Fatalf("the device's own will refused: %v", err)
	}
}

// TestEmbeddedBrokerBoundsRetainedAndPacketSize: a retained payload over
// max_retained_bytes and a new retained message past max_retained are
// refused (the client disconnected), a packet over max_packet_size cuts
// the connection before it is read: a 50 MB retained message leaves the
// heap as it was.
func TestEmbeddedBrokerBoundsRetainedAndPacketSize(t *testing.T) {
	s := startSecured(t, mqtt.BrokerConfig{MaxRetained: 2, MaxRetainedBytes: 64, MaxPacketSize: 4096,
		Users: []mqtt.User{user(t, "gas-b2-07", false)}})
	pub := func(topic string, payload []byte) (acked, open bool) {
		t.Helper()
		c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + s.b.Addr()).SetClientID("gas-b2-07").
			SetUsername("gas-b2-07").SetPassword("pw-gas-b2-07").SetAutoReconnect(false).SetWriteTimeout(30 * time.Second))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		defer c.Disconnect(0)
		tok := c.Publish(topic, 1, true, payload)
		ok := tok.WaitTimeout(30*time.Second) && tok.Error() == nil
		if ok {
			return true, c.IsConnectionOpen()
		}
		testkit.Eventually(t, 30*time.Second, "the connection cut", func() bool { return !c.IsConnectionOpen() })
		return false, false
	}
	if acked, _ := pub("sites/s1/devices/gas-b2-07/status", []byte("online")); !acked {
		t.Fatal("a small retained status refused")
	}
	if acked, _ := pub("sites/s1/devices/gas-b2-07/event", bytes.Repeat([]byte("x"), 65)); acked {
		t.Error("a retained payload over max_retained_bytes accepted")
	}
	if acked, _ := pub("sites/s1/devices/gas-b2-07/telemetry", []byte(`{"metrics":{"lel_pct":1}}`)); !acked {
		t.Fatal("the second retained message refused")
	}
	if acked, _ := pub("sites/s1/devices/gas-b2-07/event", []byte(`{"event":"x","active":true}`)); acked {
		t.Error("a third retained message past max_retained accepted")
	}
	if acked, _ := pub("sites/s1/devices/gas-b2-07/status", []byte("offline")); !acked {
		t.Error("replacing a retained message refused at the cap")
	}
	if n := s.refused(t, mqtt.RefusedRetained); n != 2 {
		t.Errorf("refused{retained} = %v, want 2", n)
	}

	before := heapInUse()
	if err := streamPublish(s.b.Addr(), "gas-b2-07", "pw-gas-b2-07", "sites/s1/devices/gas-b2-07/status", 50<<20); err == nil {
		t.Fatal("a 50 MB retained message written to the end: the broker read it")
	}
	testkit.Eventually(t, 10*time.Second, "the 50 MB packet counted", func() bool { return s.refused(t, mqtt.RefusedPacketTooLarge) == 1 })
	// The test sent it from a 64 KiB buffer: what the heap holds more is
	// the broker's.
	if grown := heapInUse() - before; grown > 10<<20 {
		t.Errorf("heap grew by %d MB after a refused 50 MB packet", grown>>20)
	}
}

// streamPublish logs in over a raw MQTT 3.1.1 connection and writes one
// retained QoS 0 PUBLISH of size payload bytes, from a small buffer; it
// returns the first write error (nil: the broker took all of it).
func streamPublish(addr, user, password, topic string, size int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	str := func(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }
	var body []byte
	body = append(body, str("MQTT")...)
	body = append(body, 4, 0xC2, 0, 30) // level 4; username, password, clean session; keepalive 30 s
	body = append(body, str("big-"+user)...)
	body = append(body, str(user)...)
	body = append(body, str(password)...)
	if _, err := c.Write(append(append([]byte{0x10}, remaining(len(body))...), body...)); err != nil {
		return err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(c, ack); err != nil || ack[3] != 0 {
		return fmt.Errorf("connack %v: %v", ack, err)
	}
	t := str(topic)
	if _, err := c.Write(append(append([]byte{0x31}, remaining(len(t)+size)...), t...)); err != nil {
		return err
	}
	chunk := make([]byte, 64<<10)
	for sent := 0; sent < size; sent += len(chunk) {
		if _, err := c.Write(chunk); err != nil {
			return err
		}
	}
	// All written: a broker that read it answers a ping.
	if _, err := c.Write([]byte{0xC0, 0}); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadFull(c, make([]byte, 2))
	return err
}

// remaining is MQTT's variable-length encoding of n.
func remaining(n int) []byte {
	var out []byte
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			return out
		}
	}
}

// heapInUse is the heap in use once the garbage is collected.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// doorsUsers is the mqtt.users list of the tests: gas-b2-07 and
// leak-b1-01 are devices, ops an admin; each one's password is
// "pw-"+name.
func doorsUsers(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, u := range []struct {
		name  string
		admin bool
	}{{"gas-b2-07", false}, {"leak-b1-01", false}, {"ops", true}} {
		h, err := mqtt.HashPassword("pw-" + u.name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "    - {username: %s, password_hash: %q, admin: %v}\n", u.name, h, u.admin)
	}
	return b.String()
}

// mqttClient connects to addr as user (password "pw-"+user; "" for none)
// with client id id; configure may add options. It returns the client
// and the connection error.
func mqttClient(t *testing.T, addr, id, user string, configure func(*paho.ClientOptions)) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetAutoReconnect(false).
		SetProtocolVersion(4).SetConnectTimeout(5 * time.Second).SetWriteTimeout(30 * time.Second)
	if user != "" {
		o.SetUsername(user).SetPassword("pw-" + user)
	}
	if configure != nil {
		configure(o)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("connect %s: no answer", id)
	}
	if tok.Error() == nil {
		t.Cleanup(func() { c.Disconnect(100) })
	}
	return c, tok.Error()
}

// TestEmbeddedBrokerDoorsOnServe tries the attacks of an open embedded
// broker against the caretaker binary: an anonymous client, a device
// publishing another device's L1 gas reading, a will marking another
// device offline, a device's client id taken by another user, a device
// reading caretaker/events/# (residents' names and phones), and a 50 MB
// retained message. Each is refused and counted; the process's memory
// stays where it was; the devices' own traffic still raises the alarm
// and an admin still reads the events.
func TestEmbeddedBrokerDoorsOnServe(t *testing.T) {
	bin := testkit.CaretakerBinary(t)
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	users := doorsUsers(t)
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt:
  embedded: true
  embedded_listen: "%s"
  users:
%s
store: {path: "%[4]s/caretaker.db", readings_path: "%[4]s/readings.db", photos_dir: "%[4]s/photos"}
auth: {tokens: [{name: ops1, role: operator, token: %[5]s}]}
devices:
  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room"}
  - {id: leak-b1-01, kind: water_leak, site: s1, building: B1, location: "B1 pump room"}
`, httpAddr, mqttAddr, users, dir, operatorToken)
	})
	ct.startProcess(t, bin)
	base := ct.Base
	refused := func(reason string) float64 {
		return drillScrape(t, base, fmt.Sprintf(`caretaker_mqtt_refused_total{reason=%q}`, reason))
	}
	const l1 = `{"metrics": {"lel_pct": 80}}`

	// An anonymous client is not let in.
	if _, err := mqttClient(t, mqttAddr, "anon", "", nil); err == nil {
		t.Fatal("an anonymous client connected")
	}
	// The leak probe cannot speak for the gas detector.
	leak, err := mqttClient(t, mqttAddr, "leak-b1-01", "leak-b1-01", nil)
	if err != nil {
		t.Fatal(err)
	}
	leak.Publish("sites/s1/devices/gas-b2-07/telemetry", 1, false, l1)
	waitFor(t, 10*time.Second, "the forging probe cut off", func() bool { return !leak.IsConnectionOpen() })
	// Nor set a will that marks the detector offline.
	if _, err := mqttClient(t, mqttAddr, "leak-b1-01", "leak-b1-01", func(o *paho.ClientOptions) {
		o.SetWill("sites/s1/devices/gas-b2-07/status", "offline", 1, false)
	}); err == nil {
		t.Fatal("a will on another device's status topic accepted")
	}

	// The detector connects; nobody else takes its client id.
	gas, err := mqttClient(t, mqttAddr, "gas-b2-07", "gas-b2-07", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mqttClient(t, mqttAddr, "gas-b2-07", "leak-b1-01", nil); err == nil {
		t.Fatal("another user took the detector's client id")
	}
	if !gas.IsConnectionOpen() {
		t.Fatal("the detector was kicked off")
	}

	// A device cannot read the events; an admin can.
	tok := gas.Subscribe("caretaker/events/#", 1, func(paho.Client, paho.Message) { t.Error("the device got an event") })
	if !tok.WaitTimeout(5*time.Second) || tok.(*paho.SubscribeToken).Result()["caretaker/events/#"] != 0x80 {
		t.Fatalf("device subscribing to caretaker/events/#: %v %v", tok.Error(), tok.(*paho.SubscribeToken).Result())
	}
	events := make(chan string, 10)
	admin, err := mqttClient(t, mqttAddr, "ops-console", "ops", nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok := admin.Subscribe("caretaker/events/#", 1, func(_ paho.Client, m paho.Message) { events <- m.Topic() }); !tok.WaitTimeout(5*time.Second) || tok.(*paho.SubscribeToken).Result()["caretaker/events/#"] > 2 {
		t.Fatalf("admin subscribing to caretaker/events/#: %v", tok.(*paho.SubscribeToken).Result())
	}

	// Nothing the refused clients sent reached the rules: the alarms are
	// the detector's own reading (35.5 %LEL, not the forged 80).
	if tok := gas.Publish("sites/s1/devices/gas-b2-07/telemetry", 1, false, `{"metrics": {"lel_pct": 35.5}}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("the detector's own reading: %v", tok.Error())
	}
	tk := waitOneTicket(t, base, "the detector's own L1 ticket")
	if tk.Level != 1 {
		t.Fatalf("ticket %+v", tk)
	}
	var alarms struct {
		Alarms []struct {
			Device string  `json:"device_id"`
			Peak   float64 `json:"peak"`
		} `json:"alarms"`
	}
	getJSON(t, base+"/api/alarms?state=active", operatorToken, &alarms)
	for _, a := range alarms.Alarms {
		if a.Device != "gas-b2-07" || a.Peak != 35.5 {
			t.Fatalf("alarm %+v: the forged reading reached the rules", a)
		}
	}
	select {
	case topic := <-events:
		if !strings.HasPrefix(topic, "caretaker/events/") {
			t.Fatalf("admin got %s", topic)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the admin got no event")
	}

	// A 50 MB retained message cuts the connection at its fixed header.
	before := drillScrape(t, base, "process_resident_memory_bytes")
	big, err := mqttClient(t, mqttAddr, "gas-b2-07", "gas-b2-07", nil)
	if err != nil {
		t.Fatal(err)
	}
	big.Publish("sites/s1/devices/gas-b2-07/status", 1, true, bytes.Repeat([]byte("x"), 50<<20))
	waitFor(t, 30*time.Second, "the 50 MB message refused", func() bool { return refused(mqtt.RefusedPacketTooLarge) == 1 })
	if after := drillScrape(t, base, "process_resident_memory_bytes"); after-before > 20<<20 {
		t.Errorf("resident memory grew from %.0f MB to %.0f MB on a refused 50 MB message", before/(1<<20), after/(1<<20))
	}

	for reason, want := range map[string]float64{
		mqtt.RefusedCredentials: 1, mqtt.RefusedPublish: 1, mqtt.RefusedWill: 1, mqtt.RefusedClientID: 1, mqtt.RefusedSubscribe: 1,
	} {
		if got := refused(reason); got != want {
			t.Errorf("caretaker_mqtt_refused_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
}

// TestNoMQTTSecretInLogs: at debug level, devices logging in to the
// embedded broker with their password and with a wrong one, a client
// refused, and events signed with the cluster key leave none of the
// passwords, their hashes or the key in the log.
func TestNoMQTTSecretInLogs(t *testing.T) {
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	const (
		password = "mq-SECRET-dev-3f5a7c9e"
		wrong    = "mq-SECRET-dev-3f5a7c9X"
		key      = "ck-SECRET-cluster-0b2d4f6a8c"
	)
	hash, err := mqtt.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {embedded: true, embedded_listen: "%s", cluster_key: %s, users: [{username: gas-b2-07, password_hash: %q}]}
store: {path: "%[5]s/caretaker.db", readings_path: "%[5]s/readings.db", photos_dir: "%[5]s/photos"}
log: {level: debug}
auth: {tokens: [{name: ops1, role: operator, token: %[6]s}]}
devices:
  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room"}
`, httpAddr, mqttAddr, key, hash, dir, operatorToken)
	})
	logs, stop := runCaretaker(t, ct.Config)
	waitReady(t, ct.Base)
	login := func(pw string) func(*paho.ClientOptions) {
		return func(o *paho.ClientOptions) { o.SetUsername("gas-b2-07").SetPassword(pw) }
	}
	if _, err := mqttClient(t, mqttAddr, "gas-b2-07", "", login(wrong)); err == nil {
		t.Fatal("a wrong password taken")
	}
	gas, err := mqttClient(t, mqttAddr, "gas-b2-07", "", login(password))
	if err != nil {
		t.Fatal(err)
	}
	if tok := gas.Publish("sites/s1/devices/gas-b2-07/telemetry", 1, false, `{"metrics": {"lel_pct": 35.5}}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	waitOneTicket(t, ct.Base, "the gas ticket")
	gas.Disconnect(100)
	stop()
	out := logs.String()
	for name, s := range map[string]string{"password": password, "wrong password": wrong, "cluster key": key, "password hash": hash} {
		if strings.Contains(out, s) {
			t.Errorf("the %s is in the log", name)
		}
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// externalUsers are the users of the shipped ACL and dynamic-security
// examples the tests log in as (password "pw-"+name).
var externalUsers = []string{"caretaker-1", "caretaker-2", "ops", "gas-b2-07", "leak-b1-01"}

// hashLine is `caretaker hash-password --user name` for "pw-"+name: the
// hashes caretaker makes serve mosquitto too.
func hashLine(t *testing.T, name string) string {
	t.Helper()
	var out, errb strings.Builder
	if err := hashPasswordCmd([]string{"--user", name}, strings.NewReader("pw-"+name+"\n"), &out, &errb); err != nil {
		t.Fatalf("hash-password: %v %s", err, errb.String())
	}
	return out.String()
}

// shippedConf is deploy/mosquitto/mosquitto.conf without what a test
// broker sets itself (listener, files, persistence, TLS).
func shippedConf(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../deploy/mosquitto/mosquitto.conf")
	if err != nil {
		t.Fatal(err)
	}
	var keep strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		key, _, _ := strings.Cut(line, " ")
		switch key {
		case "", "#", "listener", "password_file", "acl_file", "certfile", "keyfile", "tls_version",
			"persistence", "persistence_location", "allow_anonymous", "per_listener_settings":
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		keep.WriteString(line + "\n")
	}
	return keep.String()
}

// TestMosquittoShippedACL runs real mosquitto with the shipped
// configuration and ACL file (deploy/mosquitto) and a password file of
// caretaker-made hashes, and caretaker against it.
func TestMosquittoShippedACL(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "caretaker.passwd")
	var lines strings.Builder
	for _, u := range externalUsers {
		lines.WriteString(hashLine(t, u))
	}
	writeFile(t, pw, lines.String())
	broker := testserver.MosquittoWith(t, testserver.MosquittoOptions{
		PasswordFile: pw, ACLFile: mustAbs(t, "../../deploy/mosquitto/caretaker.acl"), Extra: shippedConf(t)})
	externalBrokerDoors(t, strings.TrimPrefix(broker.URL, "tcp://"))
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// externalBrokerDoors is what an external broker configured from the
// shipped examples must do with caretaker as caretaker-1: caretaker gets
// the devices' readings and publishes its events (an admin reads them); a
// device reads no events, publishes neither for another device nor an
// event, and sets no will on another device's status.
func externalBrokerDoors(t *testing.T, addr string) {
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-1, username: caretaker-1, password: pw-caretaker-1}
store: {path: "%[3]s/caretaker.db", readings_path: "%[3]s/readings.db", photos_dir: "%[3]s/photos"}
auth: {tokens: [{name: ops1, role: operator, token: %[4]s}]}
devices:
  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room"}
  - {id: leak-b1-01, kind: water_leak, site: s1, building: B1, location: "B1 pump room"}
`, httpAddr, addr, dir, operatorToken)
	})
	startCaretaker(t, ct.Config)
	waitReady(t, ct.Base)

	// The admin watches everything, in the order the broker hands it on.
	var mu sync.Mutex
	var seen []string
	saw := func(pred func(string) bool) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range seen {
			if pred(s) {
				return true
			}
		}
		return false
	}
	admin, err := mqttClient(t, addr, "ops", "ops", nil)
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	if tok := admin.Subscribe("#", 1, func(_ paho.Client, m paho.Message) {
		mu.Lock()
		seen = append(seen, m.Topic()+" "+string(m.Payload()))
		mu.Unlock()
	}); !tok.WaitTimeout(5*time.Second) || tok.(*paho.SubscribeToken).Result()["#"] > 2 {
		t.Fatalf("admin subscribing to #: %v", tok.(*paho.SubscribeToken).Result())
	}

	// A device subscribes to the events (mosquitto grants it and checks
	// every delivery) and to its command topic; its handler sees them in
	// the order the broker sent them.
	var devMu sync.Mutex
	var devGot []string
	leak, err := mqttClient(t, addr, "leak-b1-01", "leak-b1-01", nil)
	if err != nil {
		t.Fatalf("device: %v", err)
	}
	for _, f := range []string{"caretaker/events/#", "sites/s1/devices/leak-b1-01/cmd"} {
		if tok := leak.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			devMu.Lock()
			devGot = append(devGot, m.Topic())
			devMu.Unlock()
		}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("device subscribing to %s: %v", f, tok.Error())
		}
	}
	// It publishes an L1 reading for the gas detector and a forged
	// event, then its own status: the broker hands on only the status.
	for _, m := range [][2]string{
		{"sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 80}}`},
		{"caretaker/events/alarm.raised", `{"type":"alarm.raised","data":{"message":"FORGED"}}`},
		{"sites/s1/devices/leak-b1-01/status", "online"},
	} {
		leak.Publish(m[0], 1, false, m[1]).WaitTimeout(5 * time.Second)
	}
	waitFor(t, 10*time.Second, "the device's own status through the broker", func() bool {
		return saw(func(s string) bool { return s == "sites/s1/devices/leak-b1-01/status online" })
	})
	if saw(func(s string) bool { return strings.Contains(s, `"lel_pct": 80`) || strings.Contains(s, "FORGED") }) {
		t.Fatalf("the broker handed on what the device may not publish: %q", seen)
	}
	// Nor may a device leave a will on another's status: the detector
	// connects with one on the probe's; its next connection takes the
	// session over, which sends the will (if the broker took it).
	_, _ = mqttClient(t, addr, "gas-will", "gas-b2-07", func(o *paho.ClientOptions) {
		o.SetWill("sites/s1/devices/leak-b1-01/status", "offline", 1, false)
	})

	// The detector's own reading raises the alarm; caretaker publishes
	// the event and the admin reads it.
	gas, err := mqttClient(t, addr, "gas-b2-07", "gas-b2-07", nil)
	if err != nil {
		t.Fatalf("detector: %v", err)
	}
	if tok := gas.Publish("sites/s1/devices/gas-b2-07/telemetry", 1, false, `{"metrics": {"lel_pct": 35.5}}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("the detector's reading: %v", tok.Error())
	}
	waitOneTicket(t, ct.Base, "the detector's L1 ticket")
	waitFor(t, 10*time.Second, "caretaker's alarm.raised read by the admin", func() bool {
		return saw(func(s string) bool {
			return strings.HasPrefix(s, "caretaker/events/alarm.raised ") && strings.Contains(s, `"peak":35.5`)
		})
	})
	if saw(func(s string) bool { return strings.HasPrefix(s, "sites/s1/devices/leak-b1-01/status offline") }) {
		t.Fatalf("the device's will on the detector's status was handed on: %q", seen)
	}
	// A command to the device after the events: once the device has it,
	// it would have had the events before; it has none.
	sender, err := mqttClient(t, addr, "caretaker-2", "caretaker-2", nil)
	if err != nil {
		t.Fatalf("command sender: %v", err)
	}
	if tok := sender.Publish("sites/s1/devices/leak-b1-01/cmd", 1, false, "ping"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("command: %v", tok.Error())
	}
	waitFor(t, 10*time.Second, "the command at the device", func() bool {
		devMu.Lock()
		defer devMu.Unlock()
		return len(devGot) > 0
	})
	devMu.Lock()
	if devGot[0] != "sites/s1/devices/leak-b1-01/cmd" {
		t.Fatalf("the device read %q", devGot)
	}
	devMu.Unlock()

	// Another user connecting with the detector's client id does not
	// kick it off: its next message still goes through.
	_, _ = mqttClient(t, addr, "gas-b2-07", "leak-b1-01", nil)
	if tok := gas.Publish("sites/s1/devices/gas-b2-07/status", 1, false, "online"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil || !gas.IsConnectionOpen() {
		t.Fatalf("the detector was kicked off by another user taking its client id: %v", tok.Error())
	}
}

// TestMosquittoDynamicSecurity runs real mosquitto with the dynamic
// security plugin on the shipped example (deploy/mosquitto), each
// client's password set to a caretaker-made hash, and caretaker against it.
func TestMosquittoDynamicSecurity(t *testing.T) {
	plugin := "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
	if _, err := os.Stat(plugin); err != nil {
		t.Fatalf("the dynamic security plugin of mosquitto is not installed: %v", err)
	}
	b, err := os.ReadFile("../../deploy/mosquitto/dynamic-security.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range doc["clients"].([]any) {
		c := c.(map[string]any)
		h, err := mqtt.HashPassword("pw-" + c["username"].(string))
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(strings.TrimPrefix(h, "$7$"), "$") // iterations, salt, hash
		it, _ := strconv.Atoi(parts[0])
		c["iterations"], c["salt"], c["password"] = it, parts[1], parts[2]
	}
	out, _ := json.Marshal(doc)
	cf := filepath.Join(t.TempDir(), "dynamic-security.json")
	writeFile(t, cf, string(out))
	broker := testserver.MosquittoWith(t, testserver.MosquittoOptions{
		Extra: fmt.Sprintf("allow_anonymous false\nplugin %s\nplugin_opt_config_file %s\nmax_packet_size 65536\n", plugin, cf)})
	externalBrokerDoors(t, strings.TrimPrefix(broker.URL, "tcp://"))
}

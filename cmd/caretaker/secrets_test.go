package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestNoSecretInLogs runs a whole `caretaker serve` at debug level with
// every kind of secret configured (API tokens, the embedded broker's
// password, the InfluxDB token and a password in the InfluxDB URL), uses
// them all the ways they are used (tokens in headers and in ?token= on
// /ws, devices logging in to the broker) and misuses them (wrong tokens,
// wrong passwords, a token in the query of an API call), then reads the
// whole log: no configured secret, and none of the near misses, may be in
// it.
func TestNoSecretInLogs(t *testing.T) {
	influx := testserver.InfluxDB(t, "caretaker")
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	secrets := map[string]string{
		"operator token":  "op-SECRET-7f3a9c1e5b",
		"patrol token":    "pa-SECRET-2d8e4b6a0c",
		"engineer token":  "en-SECRET-9b1c3e5f7a",
		"admin token":     "ad-SECRET-4c6e8a0b2d",
		"mqtt password":   "mq-SECRET-pw-5e7a9c1b",
		"influx token":    "ix-SECRET-tk-8a0c2e4b",
		"influx url pass": "iu-SECRET-pw-1b3d5f7a",
		// Near misses a user typed: as secret as the real ones.
		"wrong token":         "op-SECRET-7f3a9c1e5X",
		"wrong mqtt password": "mq-SECRET-pw-5e7a9c1X",
	}
	influxURL := strings.Replace(influx.URL, "://", "://caretaker:"+secrets["influx url pass"]+"@", 1)
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {embedded: true, embedded_listen: "%s", username: sensors, password: %s}
influx: {url: "%s", token: %s, bucket: caretaker, flush_interval: 100ms, spool_dir: "%[6]s/spool"}
store: {path: "%[6]s/caretaker.db", photos_dir: "%[6]s/photos"}
log: {level: debug}
auth:
  tokens:
    - {name: ops1, role: operator, token: %s}
    - {name: pat1, role: patrol, token: %s}
    - {name: eng1, role: engineer, token: %s}
    - {name: root, role: admin, token: %s}
devices:
  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room"}
`, httpAddr, mqttAddr, secrets["mqtt password"], influxURL, secrets["influx token"], dir,
			secrets["operator token"], secrets["patrol token"], secrets["engineer token"], secrets["admin token"])
	})
	httpAddr := ct.Addr

	logs, stop := runCaretaker(t, ct.Config)
	base := ct.Base
	waitReady(t, base)

	// The API, as every role, with the token in the header.
	for _, who := range []string{"operator token", "patrol token", "engineer token", "admin token"} {
		for _, path := range []string{"/api/me", "/api/tickets", "/api/devices/gas-b2-07", "/api/alarms", "/api/rules", "/api/stats", "/api/nothing"} {
			call(t, "GET", base+path, "Bearer "+secrets[who], "")
		}
	}
	if s := call(t, "POST", base+"/api/tickets", "Bearer "+secrets["patrol token"],
		`{"source":"patrol","category":"civil","site":"s1","building":"B3","location":"gate","description":"crack"}`); s != http.StatusCreated {
		t.Fatalf("report: %d", s)
	}
	// Misuse: wrong tokens, other schemes, a token in an API query.
	for _, auth := range []string{"Bearer " + secrets["wrong token"], "Basic " + secrets["operator token"], secrets["admin token"], "Bearer"} {
		if s := call(t, "GET", base+"/api/tickets", auth, ""); s != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: %d, want 401", auth, s)
		}
	}
	if s := call(t, "GET", base+"/api/tickets?token="+secrets["admin token"], "", ""); s != http.StatusUnauthorized {
		t.Fatalf("token in API query: %d", s)
	}
	call(t, "PUT", base+"/api/rules/gas-lel-critical", "Bearer "+secrets["engineer token"], `{"token":"`+secrets["admin token"]+`"}`)

	// The WebSocket with ?token=, good and bad.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws?token="+secrets["operator token"], nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	defer ws.Close()
	events := readEvents(t, ws)
	next(t, events, 5*time.Second)
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws?token="+secrets["wrong token"], nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("websocket with a wrong token: %v", err)
	}

	// Devices: one logs in with the wrong password (refused), one with the
	// right one and raises a gas alarm that becomes a ticket and goes to
	// InfluxDB with the token.
	bad := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID("intruder").
		SetUsername("sensors").SetPassword(secrets["wrong mqtt password"]).SetConnectRetry(false))
	if tok := bad.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		bad.Disconnect(0)
		t.Fatal("the broker took a wrong password")
	}
	dev := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID("gas-b2-07").
		SetUsername("sensors").SetPassword(secrets["mqtt password"]))
	if tok := dev.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("device connect: %v", tok.Error())
	}
	ts := time.Now().Add(-time.Second).UnixMilli()
	if tok := dev.Publish("sites/s1/devices/gas-b2-07/telemetry", 1, false,
		fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 35.5}}`, ts)); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	dev.Disconnect(100)
	waitEvent(t, events, "ticket.created", 10*time.Second)
	waitFor(t, 10*time.Second, "reading in InfluxDB", func() bool {
		got, _ := influx.Query(`SELECT "lel_pct" FROM "gas" WHERE "device" = 'gas-b2-07'`)
		return strings.Contains(got, "35.5")
	})
	ws.Close()
	stop()

	log := logs.String()
	if len(log) < 500 || !strings.Contains(log, "level=DEBUG") {
		t.Fatalf("the log is too thin to prove anything (%d bytes):\n%s", len(log), log)
	}
	for what, s := range secrets {
		if i := strings.Index(log, s); i >= 0 {
			from, to := max(0, i-200), min(len(log), i+len(s)+100)
			t.Errorf("the %s is in the log: ...%s...", what, log[from:to])
		}
	}
}

// call sends one request with the given Authorization header (none if
// empty) and returns the status.
func call(t *testing.T, method, url, auth, body string) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

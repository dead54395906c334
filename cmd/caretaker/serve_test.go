package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

const (
	operatorToken = "op-0123456789abcdef"
	patrolToken   = "pa-0123456789abcdef"
)

// wsEvent is a WebSocket message as the contract defines it.
type wsEvent struct {
	Seq   uint64          `json:"seq"`
	Epoch string          `json:"epoch"`
	Type  string          `json:"type"`
	Data  json.RawMessage `json:"data"`
}

// TestGasAlarmFromSensorToScreen is the walking skeleton's timeline, on
// real parts: at +0 a gas detector publishes 35% LEL over a real mosquitto;
// within seconds the point is in a real InfluxDB, an L1 sensor ticket is in
// SQLite and on GET /api/tickets, and a WebSocket client has seen
// alarm.raised and ticket.created. A patrol report then shows up the same way.
func TestGasAlarmFromSensorToScreen(t *testing.T) {
	broker := testserver.Mosquitto(t)
	influx := testserver.InfluxDB(t, "caretaker")
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-e2e}
influx: {url: "%s", bucket: caretaker, flush_interval: 100ms, spool_dir: "%[4]s/spool"}
store: {path: "%[4]s/caretaker.db", photos_dir: "%[4]s/photos"}
auth:
  tokens:
    - {name: ops1, role: operator, token: %s}
    - {name: pat1, role: patrol, token: %s}
devices:
  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room"}
`, httpAddr, broker.Addr, influx.URL, dir, operatorToken, patrolToken)
	})
	httpAddr := ct.Addr

	startCaretaker(t, ct.Config)
	base := ct.Base
	waitReady(t, base)

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws?token="+operatorToken, nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	defer ws.Close()
	events := readEvents(t, ws)
	if first := next(t, events, 5*time.Second); first.Type != "snapshot" {
		t.Fatalf("first message %q, want snapshot", first.Type)
	}

	// +0: the detector reports 35% LEL.
	ts := time.Now().Truncate(time.Millisecond).Add(-time.Second)
	publish(t, broker.Addr, "sites/s1/devices/gas-b2-07/telemetry",
		fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 35.5, "co_ppm": 3, "fault": false}}`, ts.UnixMilli()))

	// Within seconds: alarm.raised, then ticket.created, on the socket.
	raised := waitEvent(t, events, "alarm.raised", 10*time.Second)
	var alarm struct {
		ID     string `json:"id"`
		RuleID string `json:"rule_id"`
		Device string `json:"device_id"`
		Level  int    `json:"level"`
	}
	mustJSON(t, raised.Data, &alarm)
	if alarm.RuleID != "gas-lel-critical" || alarm.Device != "gas-b2-07" || alarm.Level != 1 {
		t.Fatalf("alarm = %+v", alarm)
	}
	created := waitEvent(t, events, "ticket.created", 10*time.Second)
	if created.Seq <= raised.Seq {
		t.Fatalf("ticket.created seq %d not after alarm.raised seq %d", created.Seq, raised.Seq)
	}

	// The ticket is stored and listed.
	var list struct {
		Tickets []struct {
			ID       int64
			Number   string
			Source   string
			Level    int
			Status   string
			AlarmID  string `json:"alarm_id"`
			DeviceID string `json:"device_id"`
		}
	}
	getJSON(t, base+"/api/tickets", operatorToken, &list)
	if len(list.Tickets) != 1 {
		t.Fatalf("tickets = %+v", list.Tickets)
	}
	tk := list.Tickets[0]
	if tk.Source != "sensor" || tk.Level != 1 || tk.AlarmID != alarm.ID || tk.DeviceID != "gas-b2-07" || tk.Status != "new" {
		t.Fatalf("ticket = %+v (alarm %s)", tk, alarm.ID)
	}

	// The reading is in InfluxDB with the contract's schema and its own time.
	var got string
	waitFor(t, 10*time.Second, "point in InfluxDB", func() bool {
		got, _ = influx.Query(`SELECT "lel_pct", "fault" FROM "gas" WHERE "device" = 'gas-b2-07' AND "site" = 's1' AND "building" = 'B2'`)
		return strings.Contains(got, "35.5")
	})
	if want := fmt.Sprintf("[%d,35.5,false]", ts.UnixMilli()); !strings.Contains(got, want) {
		t.Fatalf("influx answer %s lacks %s", got, want)
	}

	// A patrol report shows up the same way, beside the sensor ticket.
	body := `{"source":"patrol","category":"civil","site":"s1","building":"B3","location":"B3 stairwell 2F",
		"description":"<script>alert(1)</script> cracked step","reporter":{"name":"Li","phone":"138"}}`
	resp := postJSON(t, base+"/api/tickets", patrolToken, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/tickets: %s", resp.Status)
	}
	manual := waitEvent(t, events, "ticket.created", 10*time.Second)
	if !strings.Contains(string(manual.Data), `"source":"patrol"`) {
		t.Fatalf("manual ticket event = %s", manual.Data)
	}
	getJSON(t, base+"/api/tickets", operatorToken, &list)
	if len(list.Tickets) != 2 {
		t.Fatalf("after the report, tickets = %+v", list.Tickets)
	}

	// Without a token nothing is served.
	if resp := postJSON(t, base+"/api/tickets", "", body); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %s", resp.Status)
	}
}

// When the broker goes away every MQTT device goes quiet at once: one
// alarm for ingest is raised (not one per device), and cleared when the
// broker is back.
func TestBrokerLossRaisesOneIngestAlarm(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct := newCaretakerDir(t, operatorConfig(broker.Addr, "caretaker-loss", `  - {id: gas-1, kind: gas, site: s1, building: B2}
  - {id: gas-2, kind: gas, site: s1, building: B2}
`))
	httpAddr := ct.Addr
	startCaretaker(t, ct.Config)
	waitReady(t, ct.Base)
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws?token="+operatorToken, nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	defer ws.Close()
	events := readEvents(t, ws)
	waitEvent(t, events, "snapshot", 5*time.Second)

	broker.Stop()
	raised := waitEvent(t, events, "alarm.raised", 15*time.Second)
	var a struct {
		Device string `json:"device_id"`
		Level  int    `json:"level"`
		Msg    string `json:"message"`
	}
	mustJSON(t, raised.Data, &a)
	if a.Device != "ingest" || a.Level != 2 || !strings.Contains(a.Msg, "2 devices") {
		t.Fatalf("alarm = %+v", a)
	}
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	cleared := waitEvent(t, events, "alarm.cleared", 30*time.Second)
	mustJSON(t, cleared.Data, &a)
	if a.Device != "ingest" {
		t.Fatalf("cleared = %+v", a)
	}
}

func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "influx:\n  urll: http://x\n")
	tests := []struct {
		args   []string
		code   int
		stderr string
		stdout string
	}{
		{[]string{"version"}, 0, "", "caretaker "},
		{[]string{"help"}, 0, "", "caretaker serve --config"},
		{nil, 2, "Usage", ""},
		{[]string{"fly"}, 2, `unknown command "fly"`, ""},
		{[]string{"serve"}, 2, "serve needs --config", ""},
		{[]string{"serve", "--config", bad}, 2, "influx.urll: unknown key", ""},
		{[]string{"serve", "--config", filepath.Join(dir, "missing.yaml")}, 2, "no such file", ""},
		{[]string{"serve", "--bogus"}, 2, "flag provided but not defined", ""},
		{[]string{"demo", "extra"}, 2, `demo takes no arguments, got "extra"`, ""},
		{[]string{"backtest", "--help"}, 0, "Usage: caretaker backtest", ""},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errb, nil)
			if code != tc.code || !strings.Contains(errb.String(), tc.stderr) || !strings.Contains(out.String(), tc.stdout) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
			}
		})
	}
}

// --- helpers -------------------------------------------------------------

// startCaretaker runs `caretaker serve --config path` in-process until the
// test ends, checks that it then stops cleanly, and hands back its log
// (printed when the test failed).
func startCaretaker(t *testing.T, cfgPath string) *logBuffer {
	logs, _ := runCaretaker(t, cfgPath)
	return logs
}

// runCaretaker is startCaretaker with a stop function, for tests that
// restart caretaker: stop ends it and checks that it stopped cleanly (the
// test's end does the same if stop was not called).
func runCaretaker(t *testing.T, cfgPath string) (logs *logBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &logBuffer{}
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, []string{"serve", "--config", cfgPath}, io.Discard, logs, nil) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-exit:
				if code != 0 {
					t.Errorf("serve exited %d", code)
				}
			case <-time.After(30 * time.Second):
				// Where it hangs is the whole diagnosis: keep every stack.
				buf := make([]byte, 1<<20)
				t.Errorf("serve did not stop within 30s of cancel; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
			}
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("caretaker log:\n%s", logs.String())
		}
	})
	t.Cleanup(stop) // runs before the log is printed
	return logs, stop
}

// logBuffer collects the service's log while it runs in another goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readEvents(t *testing.T, ws *websocket.Conn) <-chan wsEvent {
	ch := make(chan wsEvent, 100)
	go func() {
		defer close(ch)
		for {
			var ev wsEvent
			if err := ws.ReadJSON(&ev); err != nil {
				return
			}
			ch <- ev
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan wsEvent, d time.Duration) wsEvent {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("websocket closed")
		}
		return ev
	case <-time.After(d):
		t.Fatalf("no websocket message within %s", d)
	}
	return wsEvent{}
}

func waitEvent(t *testing.T, ch <-chan wsEvent, typ string, d time.Duration) wsEvent {
	t.Helper()
	deadline := time.After(d)
	var seen []string
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("websocket closed before %s (saw %v)", typ, seen)
			}
			if ev.Type == typ {
				return ev
			}
			seen = append(seen, ev.Type)
		case <-deadline:
			t.Fatalf("no %s within %s (saw %v)", typ, d, seen)
		}
	}
}

func publish(t *testing.T, addr, topic, payload string) {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("e2e-sensor").
		SetUsername(testMQTTUser).SetPassword(testMQTTPassword))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt publish: %v", tok.Error())
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	mustJSON(t, b, v)
}

func postJSON(t *testing.T, url, token, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestReservedDeviceNameHoldsNothingBack: with auto_register on, a client
// publishing "offline" on sites/s1/devices/ingest/status neither registers
// a device "ingest" nor makes the engine take it for the MQTT connection
// going down: the gas detector that then falls silent gets its own offline
// alarm (not held back behind an "ingest" source alarm), and the message
// is counted as rejected (reserved_id).
func TestReservedDeviceNameHoldsNothingBack(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-reserved, auto_register: true}
store: {path: "%[3]s/caretaker.db", readings_path: "%[3]s/readings.db", photos_dir: "%[3]s/photos"}
auth: {tokens: [{name: ops1, role: operator, token: %[4]s}]}
rules:
  defaults: false
  define:
    - {id: gas-quiet, name: Gas detector quiet, kind: gas, condition: {op: stale, after: 2s}, severity: major}
devices:
  - {id: gas-1, kind: gas, site: s1, building: B2}
`, httpAddr, broker.Addr, dir, operatorToken)
	})
	startCaretaker(t, ct.Config)
	waitReady(t, ct.Base)
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+operatorToken, nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	defer ws.Close()
	events := readEvents(t, ws)
	waitEvent(t, events, "snapshot", 5*time.Second)

	publish(t, broker.Addr, "sites/s1/devices/gas-1/telemetry", `{"metrics": {"lel_pct": 1}}`)
	publish(t, broker.Addr, "sites/s1/devices/ingest/status", "offline")
	waitFor(t, 10*time.Second, "the reserved name's message counted as rejected", func() bool {
		return drillScrape(t, ct.Base, `caretaker_ingest_rejected_total{reason="reserved_id"}`) >= 1
	})

	raised := waitEvent(t, events, "alarm.raised", 20*time.Second)
	var a struct {
		Device string `json:"device_id"`
		Rule   string `json:"rule_id"`
	}
	mustJSON(t, raised.Data, &a)
	if a.Device != "gas-1" || a.Rule != "gas-quiet" {
		t.Fatalf("first alarm %s, want gas-1's own offline alarm (not held back by a source alarm)", raised.Data)
	}
	var list []struct {
		ID string `json:"id"`
	}
	var raw json.RawMessage
	getJSON(t, ct.Base+"/api/devices", operatorToken, &raw)
	if err := json.Unmarshal(raw, &list); err != nil {
		var wrapped struct {
			Devices []struct {
				ID string `json:"id"`
			} `json:"devices"`
		}
		mustJSON(t, raw, &wrapped)
		list = wrapped.Devices
	}
	for _, d := range list {
		if d.ID == "ingest" {
			t.Fatalf("a device named ingest was registered: %s", raw)
		}
	}
	if !strings.Contains(string(raw), "gas-1") {
		t.Fatalf("device list %s lacks gas-1", raw)
	}
}

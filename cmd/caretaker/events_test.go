package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

const testClusterKey = "cluster-key-0123456789abcdef"

// TestForgedRelayedEventDropped: a client on the broker publishes an
// alarm.raised on caretaker/events/ as if from another instance (as the
// JSON of the real ones, unsigned or signed under another key); caretaker
// with a shared_group drops it, counts it in
// caretaker_events_relay_rejected_total, and its screens never show it.
func TestForgedRelayedEventDropped(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-a, shared_group: caretakers, cluster_key: `+testClusterKey+`}
store: {path: "%[3]s/caretaker.db", readings_path: "%[3]s/readings.db"}
auth: {tokens: [{name: ops1, role: operator, token: %[4]s}]}
devices:
  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room"}
`, httpAddr, broker.Addr, dir, operatorToken)
	})
	startCaretaker(t, ct.Config)
	waitReady(t, ct.Base)
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+operatorToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	events := readEvents(t, ws)
	waitEvent(t, events, "snapshot", 5*time.Second)

	forged := `{"type":"alarm.raised","ts":"%s","data":{"id":"gas-lel-critical:gas-b2-07:1","rule_id":"gas-lel-critical","device_id":"gas-b2-07","site":"s1","level":1,"message":"FORGED"},"instance":"caretaker-b-1234","sent":%d,"nonce":"00112233445566778899aabbccddeeff"%s}`
	now := time.Now()
	publish(t, broker.Addr, "caretaker/events/alarm.raised", fmt.Sprintf(forged, now.UTC().Format(time.RFC3339), now.UnixMilli(), ""))
	publish(t, broker.Addr, "caretaker/events/alarm.raised", fmt.Sprintf(forged, now.UTC().Format(time.RFC3339), now.UnixMilli(), `,"sig":"`+strings.Repeat("ab", 32)+`"`))
	waitFor(t, 15*time.Second, "both forged events dropped and counted", func() bool {
		return drillScrape(t, ct.Base, `caretaker_events_relay_rejected_total{reason="signature"}`) == 2
	})
	// A sentinel the instance shows itself: nothing forged came before it.
	publish(t, broker.Addr, "sites/s1/devices/gas-b2-07/status", "online")
	for {
		ev := next(t, events, 10*time.Second)
		if strings.Contains(string(ev.Data), "FORGED") {
			t.Fatalf("the forged event is on the screen: %s", ev.Data)
		}
		if ev.Type == "device.status" {
			break
		}
	}
}

// TestInstancesShowTheSameEvents: two caretakers behind a load balancer
// share one mosquitto with a shared subscription, so each device message
// reaches only one of them. A gas alarm published once shows as
// alarm.raised and ticket.created on the WebSockets of both, through
// caretaker/events/.
func TestInstancesShowTheSameEvents(t *testing.T) {
	broker := testserver.Mosquitto(t)
	var sockets []<-chan wsEvent
	for _, name := range []string{"a", "b"} {
		ct := newCaretakerDir(t, func(httpAddr, dir string) string {
			return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-%s, shared_group: caretakers, cluster_key: `+testClusterKey+`}
store: {path: "%s/caretaker.db", readings_path: "%[4]s/readings.db"}
auth: {tokens: [{name: ops1, role: operator, token: %s}]}
devices:
  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room"}
`, httpAddr, broker.Addr, name, dir, operatorToken)
		})
		httpAddr := ct.Addr
		startCaretaker(t, ct.Config)
		waitReady(t, ct.Base)
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws?token="+operatorToken, nil)
		if err != nil {
			t.Fatalf("websocket %s: %v", name, err)
		}
		t.Cleanup(func() { ws.Close() })
		events := readEvents(t, ws)
		if first := next(t, events, 5*time.Second); first.Type != "snapshot" {
			t.Fatalf("%s: first message %q", name, first.Type)
		}
		sockets = append(sockets, events)
	}
	// The relays subscribe once their gateway is connected. Poll until
	// both screens hear a device coming and going (one instance gets each
	// status message; the other hears it through the relay).
	seen := make([]bool, len(sockets))
	deadline := time.Now().Add(10 * time.Second)
	for online := true; !(seen[0] && seen[1]); online = !online {
		if time.Now().After(deadline) {
			t.Fatalf("device.status not on both screens within 10s (seen %v)", seen)
		}
		publish(t, broker.Addr, "sites/s1/devices/gas-b2-07/status", map[bool]string{true: "online", false: "offline"}[online])
		wait := time.After(300 * time.Millisecond)
	drain:
		for {
			select {
			case ev := <-sockets[0]:
				seen[0] = seen[0] || ev.Type == "device.status"
			case ev := <-sockets[1]:
				seen[1] = seen[1] || ev.Type == "device.status"
			case <-wait:
				break drain
			}
		}
	}

	publish(t, broker.Addr, "sites/s1/devices/gas-b2-07/telemetry",
		fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 35.5}}`, time.Now().UnixMilli()))
	for i, events := range sockets {
		raised := waitEventWith(t, events, "alarm.raised", `"rule_id":"gas-lel-critical"`, 10*time.Second)
		created := waitEventWith(t, events, "ticket.created", `"alarm_id":"gas-lel-critical:gas-b2-07:`, 10*time.Second)
		if created.Seq <= raised.Seq {
			t.Fatalf("instance %d: ticket.created seq %d not after alarm.raised %d", i, created.Seq, raised.Seq)
		}
	}
}

// waitEventWith waits for an event of type typ whose data holds want.
func waitEventWith(t *testing.T, ch <-chan wsEvent, typ, want string, d time.Duration) wsEvent {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("no %s with %s within %s", typ, want, d)
		}
		ev := waitEvent(t, ch, typ, left)
		if strings.Contains(string(ev.Data), want) {
			return ev
		}
	}
}

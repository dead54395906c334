package dashboard

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// subscribeReadings subscribes conn to the readings of devs and waits
// until the hub has it.
func subscribeReadings(t *testing.T, e *estate, conn *websocket.Conn, devs ...string) {
	t.Helper()
	if err := conn.WriteJSON(map[string]any{"type": "subscribe", "readings": devs}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "subscription applied", func() bool { return e.hub.WantsReadings(devs[len(devs)-1]) })
}

// TestWSSlowClientGetsLatestReadings: a screen that stops reading while
// 3 devices send 3 000 readings of 8 kB (far more than its socket holds)
// and 30 alarms come between them is not cut off; once it reads again it
// gets every alarm, in order, and for each device the latest reading.
func TestWSSlowClientGetsLatestReadings(t *testing.T) {
	e := newEstate(t, HubConfig{SendQueue: 64, StallTimeout: time.Hour})
	conn := e.mustDial(t, "")
	snap := next(t, conn)
	devs := []string{"gas-1", "gas-2", "gas-3"}
	subscribeReadings(t, e, conn, devs...)
	const n = 3000
	flood(e, devs, n)
	if e.hub.Clients() != 1 {
		t.Fatalf("the slow client was cut off")
	}
	last := map[string]int{}
	alarms := 0
	seq := snap.Seq
	for {
		m := next(t, conn)
		if m.Type == EventReading {
			var d struct {
				Device  string         `json:"device_id"`
				Metrics map[string]int `json:"metrics"`
			}
			if err := json.Unmarshal(m.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.Metrics["n"] < last[d.Device] {
				t.Fatalf("reading %d of %s after %d", d.Metrics["n"], d.Device, last[d.Device])
			}
			last[d.Device] = d.Metrics["n"]
			continue
		}
		if m.Seq != seq+1 {
			t.Fatalf("%s seq %d after seq %d: an event was lost", m.Type, m.Seq, seq)
		}
		seq = m.Seq
		if m.Type == "alarm.raised" {
			alarms++
		}
		if m.Type == "ticket.created" {
			break
		}
	}
	if alarms != n/100 {
		t.Errorf("%d alarms, want %d", alarms, n/100)
	}
	// The newest readings may still come after the ticket (they took the
	// place of older ones queued before it).
	want := map[string]int{"gas-1": n - 3, "gas-2": n - 2, "gas-3": n - 1}
	for last["gas-1"] != want["gas-1"] || last["gas-2"] != want["gas-2"] || last["gas-3"] != want["gas-3"] {
		m := next(t, conn)
		var d struct {
			Device  string         `json:"device_id"`
			Metrics map[string]int `json:"metrics"`
		}
		if m.Type != EventReading || json.Unmarshal(m.Data, &d) != nil {
			t.Fatalf("got %s, want the latest readings %v (have %v)", m.Type, want, last)
		}
		last[d.Device] = d.Metrics["n"]
	}
}

// TestWSStalledClientIsDropped: a screen that never reads again is cut
// off once it has taken nothing for the stall timeout, while one that
// reads keeps getting everything.
func TestWSStalledClientIsDropped(t *testing.T) {
	e := newEstate(t, HubConfig{StallTimeout: 300 * time.Millisecond})
	good := e.mustDial(t, "")
	stalled := e.mustDial(t, "")
	next(t, good)
	next(t, stalled)
	subscribeReadings(t, e, stalled, "gas-1")
	pad := strings.Repeat("x", 64<<10)
	var seq uint64
	deadline := time.Now().Add(60 * time.Second)
	for e.hub.Clients() == 2 {
		if time.Now().After(deadline) {
			t.Fatalf("stalled client not dropped after %d events", seq)
		}
		notify(e.hub, EventReading, map[string]any{"device_id": "gas-1", "pad": pad})
		notify(e.hub, "ticket.updated", map[string]any{"n": seq})
		seq++
		if m := next(t, good); m.Seq != seq {
			t.Fatalf("good client got seq %d, want %d", m.Seq, seq)
		}
	}
	notify(e.hub, "alarm.raised", map[string]any{"id": "after-drop"})
	if m := next(t, good); m.Type != "alarm.raised" || m.Seq != seq+1 {
		t.Fatalf("good client after the drop got %+v", m)
	}
}

// flood sends n readings of 8 kB, in turn from each of devs (far more
// than a socket holds), an alarm before every 100th, then a ticket
// "last": what a screen that stopped reading meanwhile must get.
func flood(e *estate, devs []string, n int) {
	pad := strings.Repeat("x", 8<<10)
	for i := 0; i < n; i++ {
		notify(e.hub, EventReading, map[string]any{"device_id": devs[i%len(devs)], "metrics": map[string]any{"n": i}, "pad": pad})
		if i%100 == 0 {
			notify(e.hub, "alarm.raised", map[string]any{"id": fmt.Sprint(i)})
		}
	}
	notify(e.hub, "ticket.created", map[string]any{"id": "last"})
}

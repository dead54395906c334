package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// readFrame reads one WebSocket message as it came.
func readFrame(t *testing.T, conn *websocket.Conn) []byte {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

// nextBatch reads one frame of a client that asked for batches: a JSON
// array of one event or more, each as an unbatched client gets it.
func nextBatch(t *testing.T, conn *websocket.Conn) ([]Message, []byte) {
	t.Helper()
	b := readFrame(t, conn)
	if !bytes.HasPrefix(b, []byte("[")) {
		t.Fatalf("frame %.80s... is not a JSON array", b)
	}
	var ms []Message
	if err := json.Unmarshal(b, &ms); err != nil {
		t.Fatalf("frame %.80s...: %v", b, err)
	}
	if len(ms) == 0 {
		t.Fatalf("empty frame")
	}
	return ms, b
}

// TestWSBatchedFrames: a screen that asks for batches (?batch=true) and
// falls behind while 3 devices send 3 000 readings of 8 kB, with 30 alarms
// between them, gets frames that are JSON arrays of several events, none
// larger than the cap unless one event alone is; across the frames every
// alarm and ticket comes in order, seq up by one each, and the readings
// are conflated to the latest of each device. A screen beside it that did
// not ask still gets one JSON object per message.
func TestWSBatchedFrames(t *testing.T) {
	e := newEstate(t, HubConfig{SendQueue: 64, StallTimeout: time.Hour})
	batched := e.mustDial(t, "batch=true")
	plain := e.mustDial(t, "")
	snaps, _ := nextBatch(t, batched)
	if len(snaps) != 1 || snaps[0].Type != EventSnapshot || snaps[0].Epoch != e.hub.Epoch() {
		t.Fatalf("first frame %+v, want an array of the snapshot", snaps)
	}
	plainSnap := next(t, plain)
	devs := []string{"gas-1", "gas-2", "gas-3"}
	subscribeReadings(t, e, batched, devs...)
	subscribeReadings(t, e, plain, devs...)
	const n = 3000
	flood(e, devs, n)
	if e.hub.Clients() != 2 {
		t.Fatalf("a slow client was cut off")
	}

	want := map[string]int{"gas-1": n - 3, "gas-2": n - 2, "gas-3": n - 1}
	last := map[string]int{}
	seq, alarms, readings, frames, several := snaps[0].Seq, 0, 0, 0, 0
	ticket := false
	for !ticket || last["gas-1"] != want["gas-1"] || last["gas-2"] != want["gas-2"] || last["gas-3"] != want["gas-3"] {
		ms, raw := nextBatch(t, batched)
		frames++
		if len(ms) > 1 {
			several++
			if len(raw) > maxFrameBytes {
				t.Fatalf("a frame of %d events takes %d bytes, more than the cap %d", len(ms), len(raw), maxFrameBytes)
			}
		}
		for _, m := range ms {
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
				readings++
				continue
			}
			if ticket {
				t.Fatalf("%s after the last ticket", m.Type)
			}
			if m.Seq != seq+1 {
				t.Fatalf("%s seq %d after seq %d: an event was lost", m.Type, m.Seq, seq)
			}
			seq = m.Seq
			switch m.Type {
			case "alarm.raised":
				alarms++
			case "ticket.created":
				ticket = true
			}
		}
	}
	if alarms != n/100 {
		t.Errorf("%d alarms, want %d", alarms, n/100)
	}
	if readings >= n {
		t.Errorf("%d readings of %d: none conflated", readings, n)
	}
	if several == 0 {
		t.Errorf("%d frames, each of one event: nothing batched", frames)
	}
	t.Logf("%d readings and %d alarms in %d frames (%d of several events)", readings, alarms, frames, several)

	// The unbatched screen: one object per message, same events.
	seq = plainSnap.Seq
	for {
		b := readFrame(t, plain)
		if !bytes.HasPrefix(b, []byte("{")) {
			t.Fatalf("unbatched message %.80s... is not one JSON object", b)
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("message %.80s...: %v", b, err)
		}
		if m.Type == EventReading {
			continue
		}
		if m.Seq != seq+1 {
			t.Fatalf("unbatched: %s seq %d after seq %d", m.Type, m.Seq, seq)
		}
		seq = m.Seq
		if m.Type == "ticket.created" {
			break
		}
	}
}

// TestWSBatchedReplayAndLive: a batched client that resumes with
// ?since=&epoch= gets what it missed in arrays, then the live events in
// arrays; a lone event is an array of one. A bad batch value is refused.
func TestWSBatchedReplayAndLive(t *testing.T) {
	e := newEstate(t, HubConfig{Replay: 8, Epoch: "life-1"})
	for i := 0; i < 5; i++ {
		notify(e.hub, "ticket.updated", map[string]any{"n": i})
	}
	conn := e.mustDial(t, "since=1&epoch=life-1&batch=true")
	var got []uint64
	for len(got) < 4 {
		ms, _ := nextBatch(t, conn)
		for _, m := range ms {
			got = append(got, m.Seq)
		}
	}
	if fmt.Sprint(got) != "[2 3 4 5]" {
		t.Fatalf("replayed seqs %v, want [2 3 4 5]", got)
	}
	notify(e.hub, "alarm.raised", map[string]any{"id": "a"})
	ms, raw := nextBatch(t, conn)
	if len(ms) != 1 || ms[0].Seq != 6 || ms[0].Type != "alarm.raised" || ms[0].Epoch != "life-1" {
		t.Fatalf("live frame %s, want [alarm.raised seq 6]", raw)
	}

	// Evicted from the ring: a fresh snapshot, in an array.
	for i := 0; i < 10; i++ {
		notify(e.hub, "ticket.updated", nil)
	}
	conn = e.mustDial(t, "since=1&epoch=life-1&batch=1")
	if ms, raw := nextBatch(t, conn); len(ms) != 1 || ms[0].Type != EventSnapshot || ms[0].Seq != 16 {
		t.Fatalf("first frame %s, want [snapshot seq 16]", raw)
	}

	_, resp, err := e.dial(t, tokOperator, false, "batch=maybe", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("batch=maybe: err %v, response %v; want 400", err, resp)
	}
}

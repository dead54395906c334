package main

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestWSResumeAcrossRestart: the event numbers start again at 0 when
// caretaker restarts, so a client that comes back with ?since= from the
// first life must get a fresh snapshot of the second, not the second
// life's events that happen to carry higher numbers. Within one life a
// resume still replays what was missed.
func TestWSResumeAcrossRestart(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-resume}
store: {path: "%s/caretaker.db", readings_path: "%[3]s/readings.db", photos_dir: "%[3]s/photos"}
auth:
  tokens:
    - {name: ops1, role: operator, token: %s}
    - {name: pat1, role: patrol, token: %s}
devices:
  - {id: gas-1, kind: gas, site: s1, building: B2}
`, httpAddr, broker.Addr, dir, operatorToken, patrolToken)
	})
	httpAddr := ct.Addr
	base := ct.Base
	ready := func() {
		waitReady(t, base)
	}
	dial := func(query string) <-chan wsEvent {
		t.Helper()
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws?token="+operatorToken+query, nil)
		if err != nil {
			t.Fatalf("websocket %s: %v", query, err)
		}
		t.Cleanup(func() { ws.Close() })
		return readEvents(t, ws)
	}
	reports := 0
	// report files a patrol report (each at its own place, so none merges)
	// and returns its ticket.created event as ch sees it.
	report := func(ch <-chan wsEvent) wsEvent {
		t.Helper()
		reports++
		body := fmt.Sprintf(`{"source":"patrol","category":"civil","site":"s1","building":"B3","location":"stairwell %d","description":"cracked step %d","reporter":{"name":"Li","phone":"138"}}`, reports, reports)
		resp := postJSON(t, base+"/api/tickets", patrolToken, body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /api/tickets: %s", resp.Status)
		}
		return waitEvent(t, ch, "ticket.created", 10*time.Second)
	}

	// First life: a client follows three reports.
	_, stop := runCaretaker(t, ct.Config)
	ready()
	ch := dial("")
	snap1 := waitEvent(t, ch, "snapshot", 5*time.Second)
	var last1 wsEvent
	for i := 0; i < 3; i++ {
		last1 = report(ch)
	}
	if last1.Epoch != snap1.Epoch {
		t.Fatalf("epoch changed within one life: %q then %q", snap1.Epoch, last1.Epoch)
	}
	stop()

	// Second life: more events than the first had, so that the first
	// life's last number lies within the second's.
	_, _ = runCaretaker(t, ct.Config)
	ready()
	ch = dial("")
	snap2 := waitEvent(t, ch, "snapshot", 5*time.Second)
	var mid, last2 wsEvent
	for last2.Seq <= last1.Seq+1 {
		last2 = report(ch)
		if mid.Seq == 0 {
			mid = last2
		}
	}

	resumes := []struct{ name, query string }{
		{"since and epoch of the first life", fmt.Sprintf("&since=%d&epoch=%s", last1.Seq, url.QueryEscape(last1.Epoch))},
		{"since without an epoch", fmt.Sprintf("&since=%d", last1.Seq)},
		{"since with a made-up epoch", fmt.Sprintf("&since=%d&epoch=nope", last1.Seq)},
	}
	for _, tc := range resumes {
		t.Run(tc.name, func(t *testing.T) {
			got := next(t, dial(tc.query), 5*time.Second)
			if got.Type != "snapshot" {
				t.Fatalf("first message %s seq %d (epoch %q), want a snapshot: events of another life were replayed", got.Type, got.Seq, got.Epoch)
			}
			if got.Epoch != snap2.Epoch || got.Seq < last2.Seq {
				t.Fatalf("snapshot at seq %d of epoch %q, want seq %d or later of %q", got.Seq, got.Epoch, last2.Seq, snap2.Epoch)
			}
			var data struct {
				Tickets []struct{ Location string } `json:"tickets"`
			}
			mustJSON(t, got.Data, &data)
			if len(data.Tickets) != reports {
				t.Fatalf("snapshot holds %d open tickets, want the %d of both lives", len(data.Tickets), reports)
			}
		})
	}
	if snap1.Epoch == "" || snap2.Epoch == "" || snap1.Epoch == snap2.Epoch {
		t.Fatalf("epochs %q and %q: want two, and different", snap1.Epoch, snap2.Epoch)
	}

	t.Run("same life: the missed events are replayed", func(t *testing.T) {
		ch := dial(fmt.Sprintf("&since=%d&epoch=%s", mid.Seq, url.QueryEscape(snap2.Epoch)))
		for seq := mid.Seq + 1; seq <= last2.Seq; seq++ {
			got := next(t, ch, 5*time.Second)
			if got.Type == "snapshot" || got.Seq != seq || got.Epoch != snap2.Epoch {
				t.Fatalf("got %s seq %d of %q, want the replay of seq %d of %q", got.Type, got.Seq, got.Epoch, seq, snap2.Epoch)
			}
		}
	})
}

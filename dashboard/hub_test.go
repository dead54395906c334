package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// dial opens /ws with the token in the header (or in the query when
// inQuery) and extra query and headers.
func (e *estate) dial(t *testing.T, token string, inQuery bool, query string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/ws"
	q := []string{}
	if query != "" {
		q = append(q, query)
	}
	if hdr == nil {
		hdr = http.Header{}
	}
	if inQuery {
		q = append(q, "token="+token)
	} else if token != "" {
		hdr.Set("Authorization", "Bearer "+token)
	}
	if len(q) > 0 {
		u += "?" + strings.Join(q, "&")
	}
	conn, resp, err := websocket.DefaultDialer.Dial(u, hdr)
	if err == nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, resp, err
}

func (e *estate) mustDial(t *testing.T, query string) *websocket.Conn {
	t.Helper()
	conn, _, err := e.dial(t, tokOperator, false, query, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return conn
}

// next reads one message, failing the test after a generous deadline.
func next(t *testing.T, conn *websocket.Conn) Message {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("message %s: %v", b, err)
	}
	return m
}

func TestWSSnapshotThenEvents(t *testing.T) {
	fixed := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	e := newEstate(t, HubConfig{Now: func() time.Time { return fixed }})
	e.alarms.active = []rules.Alarm{{ID: "gas-lel-critical:gas-b2-07:1", Device: "gas-b2-07", Site: "s1", Level: 1, State: rules.Raised}}
	e.tickets.open = []ticketing.Ticket{{ID: 1, Number: "BX1", Level: 1, Source: ticketing.SourceSensor, Site: "s1"}}
	notify(e.hub, "ticket.created", map[string]any{"id": 1, "site": "s1"})
	notify(e.hub, "alarm.raised", map[string]any{"id": "a", "site": "s1"})

	conn := e.mustDial(t, "")
	snap := next(t, conn)
	if snap.Type != EventSnapshot || snap.Seq != 2 || snap.Epoch != e.hub.Epoch() || snap.Epoch == "" || !snap.Time.Equal(fixed) {
		t.Fatalf("first message %+v, want a snapshot at seq 2 of epoch %q", snap, e.hub.Epoch())
	}
	var data struct {
		Alarms  []rules.Alarm      `json:"alarms"`
		Tickets []ticketing.Ticket `json:"tickets"`
		Devices []DeviceStatus     `json:"devices"`
	}
	if err := json.Unmarshal(snap.Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Alarms) != 1 || len(data.Tickets) != 1 || len(data.Devices) != 2 || data.Devices[0].Device != "gas-b2-07" {
		t.Fatalf("snapshot data %s", snap.Data)
	}

	notify(e.hub, "alarm.acked", map[string]any{"id": "a", "site": "s1"})
	if m := next(t, conn); m.Type != "alarm.acked" || m.Seq != snap.Seq+1 || m.Epoch != snap.Epoch || !strings.Contains(string(m.Data), `"id":"a"`) {
		t.Fatalf("event %+v, want alarm.acked at seq %d", m, snap.Seq+1)
	}
}

func TestWSReplaySince(t *testing.T) {
	e := newEstate(t, HubConfig{Replay: 4, Epoch: "life-1"})
	for i := 0; i < 3; i++ {
		notify(e.hub, "ticket.updated", map[string]any{"n": i})
	}
	conn := e.mustDial(t, "since=1&epoch=life-1")
	for _, want := range []uint64{2, 3} {
		if m := next(t, conn); m.Type != "ticket.updated" || m.Seq != want {
			t.Fatalf("replayed %+v, want ticket.updated seq %d", m, want)
		}
	}
	notify(e.hub, "ticket.updated", nil)
	if m := next(t, conn); m.Seq != 4 {
		t.Fatalf("live event after replay: seq %d, want 4", m.Seq)
	}

	tests := []struct{ name, since string }{
		{"evicted from the ring", "since=0&epoch=life-1"},
		{"beyond the last event", "since=99&epoch=life-1"},
		{"from another life", "since=7&epoch=life-0"},
		{"no epoch named", "since=7"},
	}
	for i := 0; i < 4; i++ { // seq 5..8: the ring holds 5..8, event 1 is gone
		notify(e.hub, "ticket.updated", nil)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := next(t, e.mustDial(t, tc.since))
			if m.Type != EventSnapshot || m.Seq != 8 {
				t.Fatalf("got %+v, want a fresh snapshot at seq 8", m)
			}
		})
	}
	t.Run("nothing missed", func(t *testing.T) {
		c := e.mustDial(t, "since=8&epoch=life-1")
		notify(e.hub, "ticket.updated", nil)
		if m := next(t, c); m.Type != "ticket.updated" || m.Seq != 9 {
			t.Fatalf("got %+v, want seq 9", m)
		}
	})
}

// TestWSResumeFromAnotherLife: two lives of the hub (a restart) number
// their events from 1 each. A client that saw events 1..3 of the first
// life and comes back with since=3 must get the second life's snapshot,
// not its events 4 and 5 as if they followed the first life's 3.
func TestWSResumeFromAnotherLife(t *testing.T) {
	first := newEstate(t, HubConfig{})
	c := first.mustDial(t, "")
	snap := next(t, c)
	for i := 0; i < 3; i++ {
		notify(first.hub, "ticket.updated", map[string]any{"life": 1, "n": i})
	}
	var last Message
	for i := 0; i < 3; i++ {
		last = next(t, c)
	}
	if last.Seq != 3 || last.Epoch != snap.Epoch || last.Epoch == "" {
		t.Fatalf("first life's last event %+v, want seq 3 of epoch %q", last, snap.Epoch)
	}

	second := newEstate(t, HubConfig{})
	for i := 0; i < 5; i++ {
		notify(second.hub, "ticket.updated", map[string]any{"life": 2, "n": i})
	}
	if second.hub.Epoch() == first.hub.Epoch() {
		t.Fatalf("both lives have epoch %q", first.hub.Epoch())
	}
	tests := []struct{ name, query string }{
		{"since with the first life's epoch", "since=3&epoch=" + last.Epoch},
		{"since without an epoch", "since=3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := next(t, second.mustDial(t, tc.query))
			if m.Type != EventSnapshot || m.Seq != 5 || m.Epoch != second.hub.Epoch() {
				t.Fatalf("got %s seq %d of epoch %q, want the second life's snapshot at seq 5 of %q", m.Type, m.Seq, m.Epoch, second.hub.Epoch())
			}
		})
	}
	t.Run("same life", func(t *testing.T) {
		conn := second.mustDial(t, "since=3&epoch="+second.hub.Epoch())
		for _, want := range []uint64{4, 5} {
			if m := next(t, conn); m.Type != "ticket.updated" || m.Seq != want || m.Epoch != second.hub.Epoch() {
				t.Fatalf("got %s seq %d of %q, want the replay of seq %d", m.Type, m.Seq, m.Epoch, want)
			}
		}
	})
}

func TestWSSlowClientIsDropped(t *testing.T) {
	e := newEstate(t, HubConfig{SendQueue: 4, Replay: 8})
	good := e.mustDial(t, "")
	slow := e.mustDial(t, "")
	next(t, good)
	next(t, slow) // the slow client reads its snapshot, then never again
	testkit.Eventually(t, 10*time.Second, "both clients attached", func() bool { return e.hub.Clients() == 2 })

	// Send big events in lock step with the good client until the slow
	// one's socket buffers and queue are full and the hub drops it.
	big := strings.Repeat("x", 64<<10)
	var seq uint64
	deadline := time.Now().Add(30 * time.Second)
	for e.hub.Clients() == 2 {
		if time.Now().After(deadline) || seq > 20000 {
			t.Fatalf("slow client not dropped after %d events", seq)
		}
		notify(e.hub, "ticket.updated", map[string]string{"pad": big})
		seq++
		if m := next(t, good); m.Seq != seq {
			t.Fatalf("good client got seq %d, want %d", m.Seq, seq)
		}
	}
	t.Logf("slow client dropped after %d events", seq)
	notify(e.hub, "alarm.raised", map[string]string{"id": "after-drop"})
	if m := next(t, good); m.Type != "alarm.raised" || m.Seq != seq+1 {
		t.Fatalf("good client after the drop got %+v", m)
	}
	if e.hub.Clients() != 1 {
		t.Fatalf("%d clients, want the good one only", e.hub.Clients())
	}
}

func TestWSOriginAndToken(t *testing.T) {
	e := newEstate(t, HubConfig{}, func(c *Config) { c.AllowedOrigins = []string{"https://ops.example.com"} })
	sameHost := "http://" + strings.TrimPrefix(e.http.URL, "http://")
	tests := []struct {
		name    string
		token   string
		inQuery bool
		origin  string
		want    int // 0: connected
	}{
		{"no origin: not a browser", tokPatrol, false, "", 0},
		{"same host", tokPatrol, false, sameHost, 0},
		{"allowed extra origin", tokPatrol, false, "https://ops.example.com", 0},
		{"foreign origin", tokPatrol, false, "https://evil.example", http.StatusForbidden},
		{"token in query", tokTech, true, "", 0},
		{"wrong token in query", "nope-nope-nope", true, "", http.StatusUnauthorized},
		{"no token", "", false, "", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			conn, resp, err := e.dial(t, tc.token, tc.inQuery, "", hdr)
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				if m := next(t, conn); m.Type != EventSnapshot {
					t.Fatalf("first message %s", m.Type)
				}
				return
			}
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != tc.want {
				t.Fatalf("err %v resp %v, want a refused handshake with %d", err, resp, tc.want)
			}
		})
	}
}

func TestWSSubscribeFilters(t *testing.T) {
	e := newEstate(t, HubConfig{})
	conn := e.mustDial(t, "")
	snap := next(t, conn)
	if err := conn.WriteJSON(map[string]any{"type": "subscribe", "sites": []string{"s1"}, "readings": []string{"gas-b2-07"}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "subscription applied", func() bool {
		e.hub.mu.Lock()
		defer e.hub.mu.Unlock()
		for c := range e.hub.clients {
			return c.readings["gas-b2-07"]
		}
		return false
	})
	notify(e.hub, EventReading, map[string]any{"device_id": "leak-b1-01", "site": "s2"}) // not subscribed
	notify(e.hub, "ticket.created", map[string]any{"id": 9, "site": "s2"})               // other site
	notify(e.hub, "ticket.created", map[string]any{"id": 10})                            // no site: passes
	notify(e.hub, EventReading, map[string]any{"device_id": "gas-b2-07", "site": "s1", "metrics": map[string]float64{"lel_pct": 35}})
	notify(e.hub, "alarm.raised", map[string]any{"id": "a", "site": "s1"})

	m := next(t, conn)
	if m.Type != "ticket.created" || !strings.Contains(string(m.Data), `"id":10`) || m.Seq != snap.Seq+2 {
		t.Fatalf("got %+v, want the site-less ticket event at seq %d", m, snap.Seq+2)
	}
	m = next(t, conn)
	if m.Type != EventReading || !strings.Contains(string(m.Data), "gas-b2-07") || m.Seq != snap.Seq+2 {
		t.Fatalf("got %+v, want the subscribed reading carrying the last seq", m)
	}
	if m = next(t, conn); m.Type != "alarm.raised" || m.Seq != snap.Seq+3 {
		t.Fatalf("got %+v, want alarm.raised at seq %d (readings take no number)", m, snap.Seq+3)
	}
}

func TestWSClosedOnShutdown(t *testing.T) {
	e := newEstate(t, HubConfig{})
	conn := e.mustDial(t, "")
	next(t, conn)
	e.hub.closeAll()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("read after shutdown: %v, want a going-away close", err)
	}
	if _, resp, err := e.dial(t, tokPatrol, false, "", nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("new connection after shutdown: err %v, want a 503", err)
	}
}

func TestWSSnapshotFailureClosesConnection(t *testing.T) {
	e := newEstate(t, HubConfig{})
	e.tickets.openErr = errors.New("database is locked")
	conn := e.mustDial(t, "")
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := conn.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseInternalServerErr) {
		t.Fatalf("read: %v, want an internal-error close", err)
	}
	testkit.Eventually(t, 10*time.Second, "client detached", func() bool { return e.hub.Clients() == 0 })
}

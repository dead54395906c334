package dashboard

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/rules"
)

const (
	tokPM    = "pm-s1-0123456789abcdef"
	tokEngS1 = "eng-s1-0123456789abcdef"
)

// scopedEstate is the estate with a project manager's operator token and
// an engineer's token, both limited to site s1.
func scopedEstate(t *testing.T) *estate {
	return newEstate(t, HubConfig{}, func(c *Config) {
		c.Tokens = append(append([]Token{}, c.Tokens...),
			Token{Name: "pm1", Role: RoleOperator, Token: tokPM, Sites: []string{"s1"}},
			Token{Name: "eng-s1", Role: RoleEngineer, Token: tokEngS1, Sites: []string{"s1"}})
	})
}

// TestSiteScopeAlarmsAndRules: a token limited to s1 lists and
// acknowledges s1's alarms only (403 for s2's, which stays unacked), and
// may not change the rules, which apply to every site; /api/me says so.
func TestSiteScopeAlarmsAndRules(t *testing.T) {
	e := scopedEstate(t)
	e.alarms.active = []rules.Alarm{
		{ID: "a-s1", Device: "gas-b2-07", Site: "s1"},
		{ID: "a-s2", Device: "leak-b1-01", Site: "s2"},
		{ID: "a-sys", Device: "ingest"},
	}
	status, body := e.do(t, "GET", "/api/alarms", tokPM, "")
	if status != 200 || !strings.Contains(body, "a-s1") || strings.Contains(body, "a-s2") || strings.Contains(body, "a-sys") {
		t.Fatalf("pm's alarms: %d %s, want a-s1 only", status, body)
	}
	if status, body := e.do(t, "GET", "/api/alarms", tokOperator, ""); status != 200 || !strings.Contains(body, "a-s2") {
		t.Fatalf("operator's alarms: %d %s", status, body)
	}
	if status, body := e.do(t, "POST", "/api/alarms/a-s2/ack", tokPM, ""); status != http.StatusForbidden {
		t.Fatalf("pm acks s2's alarm: %d %s, want 403", status, body)
	}
	if status, body := e.do(t, "POST", "/api/alarms/a-s1/ack", tokPM, ""); status != 200 {
		t.Fatalf("pm acks s1's alarm: %d %s", status, body)
	}
	if got := strings.Join(e.alarms.acks, ","); got != "pm1:a-s1" {
		t.Fatalf("acks %s, want pm1:a-s1 only", got)
	}
	if status, body := e.do(t, "PUT", "/api/rules/gas-lel-critical", tokEngS1, `{}`); status != http.StatusForbidden || !strings.Contains(body, "limited to sites") {
		t.Fatalf("site-limited engineer changes a rule: %d %s, want 403", status, body)
	}
	if status, body := e.do(t, "GET", "/api/me", tokEngS1, ""); status != 200 || !strings.Contains(body, `"rules":false`) || !strings.Contains(body, `"sites":["s1"]`) {
		t.Fatalf("/api/me of the site-limited engineer: %s", body)
	}
}

// TestSiteScopeOnTheSocket: whatever a site-limited client subscribes
// to, it gets its sites' events only: not another site's, not those of
// no site, not another site's device readings.
func TestSiteScopeOnTheSocket(t *testing.T) {
	e := scopedEstate(t)
	conn, _, err := e.dial(t, tokPM, true, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := next(t, conn)
	if snap.Type != EventSnapshot || strings.Contains(string(snap.Data), "leak-b1-01") {
		t.Fatalf("snapshot %s shows s2's device", snap.Data)
	}
	if err := conn.WriteJSON(map[string]any{"type": "subscribe", "sites": []string{"s1", "s2"}, "readings": []string{"gas-b2-07", "leak-b1-01"}}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "subscription applied", func() bool {
		e.hub.mu.Lock()
		defer e.hub.mu.Unlock()
		for c := range e.hub.clients {
			return c.readings["leak-b1-01"]
		}
		return false
	})
	notify(e.hub, EventReading, map[string]any{"device_id": "leak-b1-01", "site": "s2"})
	notify(e.hub, "ticket.created", map[string]any{"id": 9, "site": "s2"})
	notify(e.hub, "alarm.raised", map[string]any{"id": "sys"}) // no site
	notify(e.hub, "ticket.paged", map[string]any{"ticket_id": 9, "site": "s2"})
	notify(e.hub, "ticket.created", map[string]any{"id": 10, "site": "s1"})
	if m := next(t, conn); m.Type != "ticket.created" || !strings.Contains(string(m.Data), `"id":10`) {
		t.Fatalf("first event after the snapshot %s %s, want s1's ticket 10", m.Type, m.Data)
	}
}

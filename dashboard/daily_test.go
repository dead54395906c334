package dashboard

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// TestUnfinishedWork: the morning list holds the open tickets carried
// over or opened before today began in the site's zone (Asia/Shanghai:
// 00:30 there is 16:30 UTC the day before), most urgent first, then
// oldest; a token limited to s1 sees s1's.
func TestUnfinishedWork(t *testing.T) {
	now := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC) // 09:00 in Shanghai
	sites, err := devices.NewSites("Asia/Shanghai", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEstate(t, HubConfig{}, func(c *Config) {
		c.Now = func() time.Time { return now }
		c.Sites = sites
		c.Tokens = append(append([]Token{}, c.Tokens...), Token{Name: "pm1", Role: RoleOperator, Token: tokPM, Sites: []string{"s1"}})
	})
	carried := now.Add(-time.Hour)
	e.tickets.open = []ticketing.Ticket{
		{ID: 1, Number: "today", Site: "s1", Level: 2, CreatedAt: time.Date(2026, 11, 30, 16, 30, 0, 0, time.UTC)},        // 00:30 today there
		{ID: 2, Number: "yesterday-l3", Site: "s1", Level: 3, CreatedAt: time.Date(2026, 11, 30, 15, 30, 0, 0, time.UTC)}, // 23:30 yesterday
		{ID: 3, Number: "carried", Site: "s1", Level: 2, CreatedAt: now.Add(-2 * time.Hour), CarriedAt: &carried, CarryReason: "parts"},
		{ID: 4, Number: "yesterday-l2", Site: "s1", Level: 2, CreatedAt: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)},
		{ID: 5, Number: "other-site", Site: "s2", Level: 1, CreatedAt: time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)},
	}
	numbers := func(token, q string) string {
		status, body := e.do(t, "GET", "/api/daily"+q, token, "")
		if status != 200 {
			t.Fatalf("GET /api/daily%s: %d %s", q, status, body)
		}
		var got struct{ Tickets []ticketing.Ticket }
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tk := range got.Tickets {
			out = append(out, tk.Number)
		}
		return strings.Join(out, ",")
	}
	if got := numbers(tokOperator, ""); got != "other-site,yesterday-l2,carried,yesterday-l3" {
		t.Fatalf("operator's list %s", got)
	}
	if got := numbers(tokPM, ""); got != "yesterday-l2,carried,yesterday-l3" {
		t.Fatalf("s1's list %s", got)
	}
	if got := numbers(tokOperator, "?site=s2"); got != "other-site" {
		t.Fatalf("s2's list %s", got)
	}
	if status, _ := e.do(t, "GET", "/api/daily?site=s2", tokPM, ""); status != 403 {
		t.Fatalf("s1's token asks for s2: %d", status)
	}
}

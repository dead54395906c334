package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// A ticket opened at 01:30 on 1 December in Shanghai (17:30 UTC on 30
// November) belongs to December in the site's KPIs, and its history
// notes read in Shanghai time.
func TestSiteTimeZones(t *testing.T) {
	sites, err := devices.NewSites("Asia/Shanghai", []devices.Site{
		{ID: "s1", Name: "北区", NameEn: "North estate"},
		{ID: "s9", Name: "柏林", TimeZone: "Europe/Berlin"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 30, 17, 30, 0, 0, time.UTC)
	clock := testkit.NewFakeClock(t0)
	svc, err := ticketing.Open(context.Background(), ticketing.Config{Path: filepath.Join(t.TempDir(), "caretaker.db"),
		Notifier: &heard{}, Now: clock.Now, Location: sites.Default(), SiteLocation: sites.Location})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	reg, _ := devices.NewRegistry(devices.Catalog{})
	srv, err := NewServer(Config{Tokens: testTokens, Registry: reg, Tickets: svc, Alarms: svc, Sites: sites,
		Hub: NewHub(HubConfig{}), NotFound: ticketing.ErrNotFound, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	get := func(path string, out any) int {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tokOperator)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}

	raise := gasRaise(t0)
	if err := svc.HandleAlarm(context.Background(), raise); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	cleared := raise
	cleared.State, cleared.Value = rules.Cleared, 3
	at := clock.Now()
	cleared.ClearedAt = &at
	if err := svc.HandleAlarm(context.Background(), cleared); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		query string
		want  int
	}{
		{"from=2026-11-01&to=2026-12-01&site=s1", 0},             // November, Shanghai
		{"from=2026-12-01&to=2027-01-01&site=s1", 1},             // December, Shanghai
		{"from=2026-12-01T01:00&to=2026-12-01T02:00&site=s1", 1}, // local hours
		{"from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&site=s1", 1},
		{"from=2026-11-01&to=2026-12-01&site=s9", 0}, // Berlin: 18:30 on 30 Nov, but the ticket is of s1
	} {
		var st ticketing.Stats
		if status := get("/api/stats?"+c.query, &st); status != 200 || st.Overall.Tickets != c.want {
			t.Errorf("stats %s: %d, %d tickets, want %d", c.query, status, st.Overall.Tickets, c.want)
		}
	}

	var tk ticketing.Ticket
	if status := get("/api/tickets/1", &tk); status != 200 {
		t.Fatalf("ticket: %d", status)
	}
	var note string
	for _, h := range tk.History {
		if h.Action == "alarm_cleared" {
			note = h.Note
		}
	}
	if !strings.Contains(note, "2026-12-01T01:32:00+08:00") {
		t.Errorf("cleared note %q: want the time in Shanghai", note)
	}

	var sv sitesView
	if status := get("/api/sites", &sv); status != 200 || sv.TimeZone != "Asia/Shanghai" || len(sv.Sites) != 2 ||
		sv.Sites[0].TimeZone != "Asia/Shanghai" || sv.Sites[1].TimeZone != "Europe/Berlin" || sv.Sites[0].NameEn != "North estate" {
		t.Errorf("sites: %d %+v", status, sv)
	}
}

package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

const tokS2Manager = "manager-s2-token-0001"

// searchEstate is the API over a real ticket store with two sites in
// Shanghai, and a manager limited to s2.
func searchEstate(t *testing.T) (*ticketing.Service, *testkit.FakeClock, func(token, path string, out any) (int, apiError)) {
	t.Helper()
	sites, err := devices.NewSites("Asia/Shanghai", []devices.Site{{ID: "s1", Name: "北区"},
		{ID: "s2", Name: "南区", Buildings: []devices.Building{{ID: "3号楼", Units: []string{"1", "2"}, Floors: 18, Rooms: []string{"01", "02"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	clock := testkit.NewFakeClock(time.Date(2026, 11, 30, 17, 30, 0, 0, time.UTC)) // 1 December 01:30 in Shanghai
	svc, err := ticketing.Open(context.Background(), ticketing.Config{Path: filepath.Join(t.TempDir(), "caretaker.db"),
		Notifier: &heard{}, Now: clock.Now, Location: sites.Default(), SiteLocation: sites.Location})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	reg, _ := devices.NewRegistry(devices.Catalog{})
	tokens := append(slices.Clone(testTokens), Token{Name: "pm-s2", Role: RoleManager, Token: tokS2Manager, Sites: []string{"s2"}})
	srv, err := NewServer(Config{Tokens: tokens, Registry: reg, Tickets: svc, Alarms: svc, Sites: sites,
		Hub: NewHub(HubConfig{}), NotFound: ticketing.ErrNotFound, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return svc, clock, func(token, path string, out any) (int, apiError) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e apiError
		if resp.StatusCode != http.StatusOK {
			_ = json.NewDecoder(resp.Body).Decode(&e)
		} else if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode, e
	}
}

func TestSearchAPIBadInput(t *testing.T) {
	_, _, get := searchEstate(t)
	long := strings.Repeat("x", 201)
	for _, c := range []struct{ path, field string }{
		{"/api/tickets?q=" + long, "q"},
		{"/api/tickets?q=" + url.QueryEscape("leak\x00"), "q"},
		{"/api/tickets?category=plumbing", "category"},
		{"/api/tickets?building=" + long, "building"},
		{"/api/tickets?unit=" + url.QueryEscape("1\n2"), "unit"},
		{"/api/tickets?room=" + long, "room"},
		{"/api/tickets?from=yesterday", "from"},
		{"/api/tickets?to=2026-13-01", "to"},
		{"/api/tickets?from=2026-12-02&to=2026-12-01", "from"},
		{"/api/alarms?q=" + long, "q"},
		{"/api/alarms?level=4", "level"},
		{"/api/alarms?from=last+week", "from"},
		{"/api/alarms?to=2026-12-01T25:00", "to"},
		{"/api/alarms?from=2026-12-02&to=2026-12-01", "from"},
		{"/api/alarms?state=open", "state"},
	} {
		code, e := get(tokOperator, c.path, nil)
		if code != http.StatusBadRequest || e.Field != c.field || !strings.HasPrefix(e.Error, c.field+":") {
			t.Errorf("GET %.60s: %d %+v, want 400 naming %s", c.path, code, e, c.field)
		}
	}
}

// TestSearchAPI: the ticket and alarm lists searched by text, fault type,
// house and local dates; a token limited to s2 finds only s2's.
func TestSearchAPI(t *testing.T) {
	svc, clock, get := searchEstate(t)
	ctx := context.Background()
	for _, r := range []ticketing.Report{
		{Site: "s1", Building: "3号楼", Unit: "2", Room: "1201", Location: "卫生间", Category: "water_electric", Description: "Basin LEAK", Scope: ticketing.ScopeInHome},
		{Site: "s2", Building: "3号楼", Unit: "2", Room: "1201", Location: "厨房", Category: "water_electric", Description: "sink leak", Scope: ticketing.ScopeInHome},
		{Site: "s2", Building: "5号楼", Location: "大堂", Category: "civil", Description: "cracked tile"},
	} {
		r.Source, r.Reporter = ticketing.SourcePhone, ticketing.Reporter{Name: "Wu", Phone: "13700000000"}
		if _, _, err := svc.Report(ctx, ticketing.Actor{Name: "ops1", Role: RoleOperator}, r); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
	}
	raise := gasRaise(clock.Now())
	if err := svc.HandleAlarm(ctx, raise); err != nil {
		t.Fatal(err)
	}
	leak := rules.Alarm{ID: rules.AlarmID("leak-wet", "probe-s2-1", clock.Now()), RuleID: "leak-wet", RuleName: "Water on the floor",
		Device: "probe-s2-1", Kind: devices.KindWaterLeak, Site: "s2", Building: "5号楼", Location: "pump room", Event: "wet",
		Severity: rules.Major, Level: 2, State: rules.Raised, Message: "wet", RaisedAt: clock.Now()}
	if err := svc.HandleAlarm(ctx, leak); err != nil {
		t.Fatal(err)
	}

	places := func(token, path string) []string {
		t.Helper()
		var out struct{ Tickets []ticketing.Ticket }
		if code, e := get(token, path, &out); code != http.StatusOK {
			t.Fatalf("GET %s: %d %+v", path, code, e)
		}
		got := []string{}
		for _, tk := range out.Tickets {
			got = append(got, tk.Site+" "+tk.Location)
		}
		return got
	}
	q := url.QueryEscape
	for _, c := range []struct {
		token, path string
		want        []string
	}{
		{tokOperator, "/api/tickets?q=leak", []string{"s2 厨房", "s1 卫生间"}},
		{tokOperator, "/api/tickets?q=" + q("basin  leak"), []string{"s1 卫生间"}},
		{tokOperator, "/api/tickets?category=civil", []string{"s2 大堂"}},
		{tokOperator, "/api/tickets?building=" + q("3号楼") + "&unit=2&room=1201", []string{"s2 厨房", "s1 卫生间"}},
		{tokOperator, "/api/tickets?building=" + q("3号楼") + "&unit=2&room=1201&site=s1", []string{"s1 卫生间"}},
		// 1 December is the site's day: from its midnight (16:00 UTC the day before).
		{tokOperator, "/api/tickets?source=phone&from=2026-12-01&to=2026-12-02", []string{"s2 大堂", "s2 厨房", "s1 卫生间"}},
		{tokOperator, "/api/tickets?from=2026-11-30&to=2026-12-01", []string{}},
		{tokOperator, "/api/tickets?from=2026-12-01T01:31&to=2026-12-01T01:32", []string{"s2 厨房"}},
		{tokS2Manager, "/api/tickets?q=leak", []string{"s2 厨房"}},
		{tokS2Manager, "/api/tickets?building=" + q("3号楼"), []string{"s2 厨房"}},
	} {
		if got := places(c.token, c.path); !slices.Equal(got, c.want) {
			t.Errorf("GET %s as %s: %v, want %v", c.path, c.token, got, c.want)
		}
	}
	if code, e := get(tokS2Manager, "/api/tickets?q=leak&site=s1", nil); code != http.StatusForbidden || e.Field != "site" {
		t.Errorf("s2 manager asking for s1: %d %+v, want 403", code, e)
	}

	alarms := func(token, path string) []string {
		t.Helper()
		var out struct{ Alarms []ticketing.StoredAlarm }
		if code, e := get(token, path, &out); code != http.StatusOK {
			t.Fatalf("GET %s: %d %+v", path, code, e)
		}
		got := []string{}
		for _, a := range out.Alarms {
			got = append(got, a.Device)
		}
		return got
	}
	for _, c := range []struct {
		token, path string
		want        []string
	}{
		{tokOperator, "/api/alarms", []string{"probe-s2-1", "gas-b2-07"}},
		{tokOperator, "/api/alarms?q=BOILER", []string{"gas-b2-07"}},
		{tokOperator, "/api/alarms?level=2", []string{"probe-s2-1"}},
		{tokOperator, "/api/alarms?state=active&from=2026-12-01&to=2026-12-02", []string{"probe-s2-1", "gas-b2-07"}},
		{tokOperator, "/api/alarms?to=2026-12-01", []string{}},
		{tokS2Manager, "/api/alarms", []string{"probe-s2-1"}},
		{tokS2Manager, "/api/alarms?q=gas", []string{}},
	} {
		if got := alarms(c.token, c.path); !slices.Equal(got, c.want) {
			t.Errorf("GET %s as %s: %v, want %v", c.path, c.token, got, c.want)
		}
	}
}

// A site-limited token's alarm list is chosen by the store, so the cap
// of the list counts that token's sites only.
func TestAlarmListScopedInStore(t *testing.T) {
	e := newEstate(t, HubConfig{}, func(c *Config) {
		c.Tokens = append(slices.Clone(testTokens), Token{Name: "pm-s2", Role: RoleManager, Token: tokS2Manager, Sites: []string{"s2"}})
	})
	code, _ := e.do(t, "GET", "/api/alarms?q=gas&level=1&from=2026-12-01", tokS2Manager, "")
	if code != http.StatusOK {
		t.Fatalf("GET /api/alarms: %d", code)
	}
	e.alarms.mu.Lock()
	defer e.alarms.mu.Unlock()
	if n := len(e.alarms.filters); n != 1 || !slices.Equal(e.alarms.filters[0].Sites, []string{"s2"}) || e.alarms.filters[0].Text != "gas" || e.alarms.filters[0].Level != 1 {
		t.Errorf("store asked %+v, want sites [s2], text gas, level 1", e.alarms.filters)
	}
}

// GET /api/sites gives the report form the buildings, units, floors and
// rooms; a token limited to sites gets theirs only.
func TestSitesBuildings(t *testing.T) {
	_, _, get := searchEstate(t)
	var all, mine sitesView
	if code, e := get(tokOperator, "/api/sites", &all); code != http.StatusOK || len(all.Sites) != 2 {
		t.Fatalf("operator: %d %+v %+v", code, e, all)
	}
	if b := all.Sites[1].Buildings; len(b) != 1 || b[0].ID != "3号楼" || !slices.Equal(b[0].Units, []string{"1", "2"}) || b[0].Floors != 18 || !slices.Equal(b[0].Rooms, []string{"01", "02"}) {
		t.Errorf("s2 buildings: %+v", b)
	}
	if code, e := get(tokS2Manager, "/api/sites", &mine); code != http.StatusOK || len(mine.Sites) != 1 || mine.Sites[0].ID != "s2" {
		t.Errorf("s2 manager: %d %+v %+v, want s2 only", code, e, mine)
	}
}

// A report's house is one of its site's when the site lists them: a
// building, unit, floor or room of no list is a 400 naming the field; a
// site that lists none takes any.
func TestReportHouseFromTheLists(t *testing.T) {
	e := newEstate(t, HubConfig{}, func(c *Config) {
		c.Sites, _ = devices.NewSites("Asia/Shanghai", []devices.Site{{ID: "s1"},
			{ID: "s2", Buildings: []devices.Building{{ID: "3号楼", Units: []string{"1", "2"}, Floors: 18, Rooms: []string{"01", "02"}}, {ID: "会所"}}}})
	})
	report := func(site, building, unit, floor, room string) string {
		b, _ := json.Marshal(map[string]any{"source": "phone", "category": "civil", "site": site, "building": building, "unit": unit,
			"floor": floor, "room": room, "location": "kitchen", "scope": "in_home", "description": "crack"})
		return string(b)
	}
	for _, c := range []struct {
		body  string
		field string // "": accepted
	}{
		{report("s2", "3号楼", "2", "12", "1202"), ""},
		{report("s2", " 3号楼 ", "", "", ""), ""},
		{report("s2", "会所", "east wing", "", "B1"), ""},
		{report("s1", "Block Z", "9", "99", "9901"), ""},
		{report("s2", "9号楼", "", "", ""), "building"},
		{report("s2", "3号楼", "3", "", ""), "unit"},
		{report("s2", "3号楼", "1", "19", ""), "floor"},
		{report("s2", "3号楼", "1", "ground", ""), "floor"},
		{report("s2", "3号楼", "1", "12", "1203"), "room"},
		{report("s2", "3号楼", "1", "", "1901"), "room"},
	} {
		code, body := e.do(t, "POST", "/api/tickets", tokOperator, c.body)
		var got apiError
		_ = json.Unmarshal([]byte(body), &got)
		switch {
		case c.field == "" && code != http.StatusCreated && code != http.StatusOK:
			t.Errorf("%s: %d %s, want it accepted", c.body, code, body)
		case c.field != "" && (code != http.StatusBadRequest || got.Field != c.field):
			t.Errorf("%s: %d %s, want 400 naming %s", c.body, code, body, c.field)
		}
	}
}

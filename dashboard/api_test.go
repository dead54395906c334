package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/caretaker-iot/caretaker/ticketing"
)

func decodeError(t *testing.T, body string) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	return e
}

func TestAuth(t *testing.T) {
	e := newEstate(t, HubConfig{})
	tests := []struct {
		name, method, path, token string
		want                      int
		wantErr                   string
	}{
		{"no token", "GET", "/api/devices", "", 401, "missing or invalid token"},
		{"wrong token", "GET", "/api/devices", "not-a-token-at-all", 401, "missing or invalid token"},
		{"prefix of a real token", "GET", "/api/devices", tokOperator[:10], 401, "missing or invalid token"},
		{"patrol may read", "GET", "/api/devices", tokPatrol, 200, ""},
		{"engineer may read", "GET", "/api/tickets", tokEngineer, 200, ""},
		{"patrol may not ack", "POST", "/api/alarms/x/ack", tokPatrol, 403, "role patrol may not acknowledge alarms"},
		{"technician may not ack", "POST", "/api/alarms/x/ack", tokTech, 403, "role technician may not acknowledge alarms"},
		{"operator acks", "POST", "/api/alarms/x/ack", tokOperator, 200, ""},
		{"admin acks", "POST", "/api/alarms/x/ack", tokAdmin, 200, ""},
		{"ack of unknown alarm", "POST", "/api/alarms/missing/ack", tokOperator, 404, "not found"},
		{"engineer may not report", "POST", "/api/tickets", tokEngineer, 403, "role engineer may not file reports"},
		{"unknown api path needs a token", "GET", "/api/nothing", "", 401, "missing or invalid token"},
		{"unknown api path", "GET", "/api/nothing", tokPatrol, 404, "no such endpoint: GET /api/nothing"},
		{"healthz is open", "GET", "/healthz", "", 200, ""},
		{"readyz is open", "GET", "/readyz", "", 200, ""},
		{"metrics are open", "GET", "/metrics", "", 200, ""},
		{"ui is open", "GET", "/", "", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(t, tc.method, tc.path, tc.token, "")
			if status != tc.want {
				t.Fatalf("status %d, want %d (body %s)", status, tc.want, body)
			}
			if tc.wantErr != "" {
				if got := decodeError(t, body).Error; got != tc.wantErr {
					t.Fatalf("error %q, want %q", got, tc.wantErr)
				}
			}
		})
	}
	if got := e.alarms.acks; len(got) != 2 || got[0] != "ops1:x" || got[1] != "root:x" {
		t.Fatalf("acks recorded %v, want the operator's and the admin's", got)
	}
}

func TestTokenOnlyInHeaderForAPI(t *testing.T) {
	e := newEstate(t, HubConfig{})
	status, _ := e.do(t, "GET", "/api/devices?token="+tokAdmin, "", "")
	if status != http.StatusUnauthorized {
		t.Fatalf("token in the query of an API call: status %d, want 401", status)
	}
}

func TestReportTicket(t *testing.T) {
	const good = `{"source":"patrol","category":"water_electric","site":"s1","building":"B2","location":"stairwell 3","scope":"public","description":"light out","reporter":{"name":"Li","phone":"123"}}`
	tests := []struct {
		name      string
		body      string
		token     string
		serviceEr error
		merge     bool
		want      int
		wantField string
		wantInErr string
	}{
		{name: "created", body: good, token: tokPatrol, want: 201},
		{name: "merged", body: good, token: tokOperator, merge: true, want: 200},
		{name: "unknown field", body: `{"category":"x","colour":"red"}`, token: tokPatrol, want: 400, wantField: "colour"},
		{name: "wrong type", body: `{"category":"x","level":"high"}`, token: tokPatrol, want: 400, wantField: "level"},
		{name: "wrong nested type", body: `{"reporter":{"name":7}}`, token: tokPatrol, want: 400, wantField: "reporter.name"},
		{name: "not JSON", body: `{"category":`, token: tokPatrol, want: 400, wantInErr: "cut short"},
		{name: "garbage", body: `category=x`, token: tokPatrol, want: 400, wantInErr: "not valid JSON"},
		{name: "not an object", body: `[1,2]`, token: tokPatrol, want: 400, wantInErr: "JSON object"},
		{name: "two objects", body: good + good, token: tokPatrol, want: 400, wantInErr: "single JSON object"},
		{name: "too large", body: `{"description":"` + strings.Repeat("x", maxBody) + `"}`, token: tokPatrol, want: 413},
		{name: "sensor source refused", body: `{"source":"sensor","category":"gas"}`, token: tokOperator, want: 400, wantField: "source"},
		{name: "service validation", body: good, token: tokPatrol, serviceEr: &fieldError{"category", "missing"}, want: 400, wantField: "category", wantInErr: "category: missing"},
		{name: "wrapped service validation", body: good, token: tokPatrol, serviceEr: errorf("report: %w", &fieldError{"scope", "bad"}), want: 400, wantField: "scope"},
		{name: "service failure hides detail", body: good, token: tokPatrol, serviceEr: errors.New("disk on fire"), want: 500, wantInErr: "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEstate(t, HubConfig{})
			e.tickets.err, e.tickets.merge = tc.serviceEr, tc.merge
			status, body := e.do(t, "POST", "/api/tickets", tc.token, tc.body)
			if status != tc.want {
				t.Fatalf("status %d, want %d (body %s)", status, tc.want, body)
			}
			if tc.want >= 400 {
				ae := decodeError(t, body)
				if ae.Field != tc.wantField {
					t.Errorf("field %q, want %q (error %q)", ae.Field, tc.wantField, ae.Error)
				}
				if !strings.Contains(ae.Error, tc.wantInErr) {
					t.Errorf("error %q does not say %q", ae.Error, tc.wantInErr)
				}
				if strings.Contains(body, "disk on fire") {
					t.Errorf("internal detail leaked: %s", body)
				}
				return
			}
			var got struct {
				ticketing.Ticket
				Merged *bool `json:"merged"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.Number == "" || got.Location != "stairwell 3" {
				t.Errorf("answer %s is not the ticket", body)
			}
			if tc.merge != (got.Merged != nil && *got.Merged) {
				t.Errorf("merged = %v in %s, want %v", got.Merged, body, tc.merge)
			}
			if len(e.tickets.actors) != 1 || e.tickets.actors[0].Role == "" || e.tickets.reports[0].Reporter.Name != "Li" {
				t.Errorf("service got actors %v reports %+v", e.tickets.actors, e.tickets.reports)
			}
		})
	}
}

func TestPatrolReportDefaultsSource(t *testing.T) {
	e := newEstate(t, HubConfig{})
	status, body := e.do(t, "POST", "/api/tickets", tokPatrol, `{"category":"civil","site":"s1","building":"B1","location":"gate","description":"crack"}`)
	if status != 201 {
		t.Fatalf("status %d: %s", status, body)
	}
	if got := e.tickets.reports[0].Source; got != ticketing.SourcePatrol {
		t.Fatalf("source %q, want patrol", got)
	}
	if got := e.tickets.actors[0]; got != (ticketing.Actor{Name: "pat1", Role: RolePatrol}) {
		t.Fatalf("actor %+v", got)
	}
}

func TestListTicketsFilter(t *testing.T) {
	tests := []struct {
		query     string
		want      int
		wantField string
	}{
		{"", 200, ""},
		{"?status=new&level=1&source=sensor&site=s1&from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z&limit=10&offset=20", 200, ""},
		{"?status=open", 400, "status"},
		{"?level=4", 400, "level"},
		{"?level=one", 400, "level"},
		{"?source=fax", 400, "source"},
		{"?site=a/b", 400, "site"},
		{"?from=yesterday", 400, "from"},
		{"?to=2026-13-01T00:00:00Z", 400, "to"},
		{"?from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z", 400, "from"},
		{"?limit=0", 400, "limit"},
		{"?limit=5000", 400, "limit"},
		{"?offset=-1", 400, "offset"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			e := newEstate(t, HubConfig{})
			status, body := e.do(t, "GET", "/api/tickets"+tc.query, tokEngineer, "")
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
			if tc.want != 200 {
				if f := decodeError(t, body).Field; f != tc.wantField {
					t.Fatalf("field %q, want %q", f, tc.wantField)
				}
				return
			}
			if !strings.Contains(body, `"tickets":[]`) {
				t.Errorf("empty list encoded as %s", body)
			}
		})
	}
	e := newEstate(t, HubConfig{})
	e.do(t, "GET", "/api/tickets"+tests[1].query, tokPatrol, "")
	f := e.tickets.filters[0]
	if f.Status != "new" || f.Level != 1 || f.Source != "sensor" || f.Site != "s1" || f.Limit != 10 || f.Offset != 20 ||
		f.From.Day() != 23 || f.To.Day() != 24 {
		t.Fatalf("filter passed on as %+v", f)
	}
}

func TestGetTicket(t *testing.T) {
	e := newEstate(t, HubConfig{})
	if status, body := e.do(t, "GET", "/api/tickets/7", tokPatrol, ""); status != 404 {
		t.Fatalf("unknown ticket: %d %s", status, body)
	}
	if status, body := e.do(t, "GET", "/api/tickets/seven", tokPatrol, ""); status != 400 || decodeError(t, body).Field != "id" {
		t.Fatalf("bad id: %d %s", status, body)
	}
	e.do(t, "POST", "/api/tickets", tokPatrol, `{"category":"civil"}`)
	if status, body := e.do(t, "GET", "/api/tickets/42", tokPatrol, ""); status != 200 || !strings.Contains(body, `"id":42`) {
		t.Fatalf("existing ticket: %d %s", status, body)
	}
}

func TestAlarmsAndDevices(t *testing.T) {
	e := newEstate(t, HubConfig{})
	if status, body := e.do(t, "GET", "/api/alarms?state=burning", tokPatrol, ""); status != 400 || decodeError(t, body).Field != "state" {
		t.Fatalf("bad state: %d %s", status, body)
	}
	if status, body := e.do(t, "GET", "/api/alarms?state=active", tokPatrol, ""); status != 200 || !strings.Contains(body, `"alarms":[]`) {
		t.Fatalf("alarms: %d %s", status, body)
	}
	if status, body := e.do(t, "GET", "/api/devices/nope", tokPatrol, ""); status != 404 {
		t.Fatalf("unknown device: %d %s", status, body)
	}
	e.live.Reading(context.Background(), gasReading(35))
	status, body := e.do(t, "GET", "/api/devices/gas-b2-07", tokPatrol, "")
	if status != 200 || !strings.Contains(body, `"online":true`) || !strings.Contains(body, `"lel_pct":{"value":35`) {
		t.Fatalf("device: %d %s", status, body)
	}
	if status, body := e.do(t, "GET", "/api/devices/gas-b2-07/readings", tokPatrol, ""); status != 503 {
		t.Fatalf("readings without a store: %d %s", status, body)
	}
}

func TestReadyz(t *testing.T) {
	e := newEstate(t, HubConfig{}, func(c *Config) {
		c.Ready = func(context.Context) error { return errors.New("influx: connection refused") }
	})
	status, body := e.do(t, "GET", "/readyz", "", "")
	if status != 503 || !strings.Contains(body, "influx: connection refused") {
		t.Fatalf("readyz: %d %s", status, body)
	}

	// Alarm changes waiting for the ticket store are counted, ready or not.
	pending := 3
	e = newEstate(t, HubConfig{}, func(c *Config) { c.PendingAlarms = func() int { return pending } })
	status, body = e.do(t, "GET", "/readyz", "", "")
	if status != 200 || !strings.Contains(body, `"pending_alarm_handoffs":3`) {
		t.Fatalf("readyz with pending alarms: %d %s", status, body)
	}
}

func TestConfigValidate(t *testing.T) {
	base := func() Config {
		return Config{Registry: newEstate(t, HubConfig{}).reg, Tickets: newFakeTickets(), Alarms: &fakeAlarms{}, Hub: NewHub(HubConfig{})}
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"fine", func(*Config) {}, ""},
		{"bad role", func(c *Config) { c.Tokens = []Token{{Name: "x", Role: "boss", Token: "0123456789"}} }, "tokens[0].role"},
		{"short token", func(c *Config) { c.Tokens = []Token{{Name: "x", Role: "admin", Token: "123"}} }, "tokens[0].token"},
		{"duplicate token", func(c *Config) {
			c.Tokens = []Token{{Name: "x", Role: "admin", Token: "0123456789"}, {Name: "y", Role: "patrol", Token: "0123456789"}}
		}, "tokens[1].token"},
		{"bad origin", func(c *Config) { c.AllowedOrigins = []string{"ops.example.com"} }, "allowed_origins[0]"},
		{"no tickets", func(c *Config) { c.Tickets = nil }, "tickets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.mutate(&c)
			_, err := NewServer(c)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "0123456789") {
				t.Fatalf("error prints the token: %v", err)
			}
		})
	}
}

func TestRunServesOnAFreePort(t *testing.T) {
	e := newEstate(t, HubConfig{}, func(c *Config) { c.Listen = "127.0.0.1:0" })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.srv.Run(ctx) }()
	select {
	case <-e.srv.Ready():
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	}
	resp, err := http.Get("http://" + e.srv.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

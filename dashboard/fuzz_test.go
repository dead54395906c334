package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

// Fuzzing every API request body through the real handlers, the real
// ticketing service on a SQLite file and the real rule book: whatever the
// body, the answer is a JSON 2xx or a JSON 4xx naming what is wrong, never
// a 5xx or a panic. Run longer by hand (docs/testing.md):
//
//	go test -run '^$' -fuzz '^FuzzAPIBodies$' -fuzztime 5m ./dashboard

// bodyRoute is one route that takes a JSON body.
type bodyRoute struct {
	method, path string
	seeds        []string
}

// bodyRoutes are the routes that read a body; ticket 1 is an in-home
// report, ticket 2 a sensor ticket of the gas alarm.
var bodyRoutes = []bodyRoute{
	{"POST", "/api/tickets", []string{
		`{"source":"patrol","category":"civil","site":"s1","building":"B1","location":"gate","description":"crack","reporter":{"name":"Li","phone":"138"}}`,
		`{"source":"phone","category":"water_electric","site":"s1","building":"B3","scope":"in_home","unit":"2","floor":"12","room":"1201","location":"kitchen","description":"tap drips","reporter":{"name":"Wang","phone":"139"}}`,
		`{"source":"resident","category":"gas","level":1,"site":"s1","building":"B2","device_id":"gas-b2-07","location":"B2 boiler room","description":"smell of gas"}`,
	}},
	{"POST", "/api/tickets/1/actions", []string{
		`{"action":"claim"}`, `{"action":"arrive","code":"123456"}`, `{"action":"resolve","note":"washer","parts":[{"name":"washer","qty":2}],"paid":true,"fee_cents":500}`,
		`{"action":"callback","score":2,"note":"still drips"}`, `{"action":"level","level":1,"reason":"worse"}`, `{"action":"new_code","reason":"locked out"}`,
	}},
	{"POST", "/api/tickets/2/actions", []string{
		`{"action":"assign","technician":"tech1"}`, `{"action":"cancel","reason":"false alarm"}`, `{"action":"comment","note":"on my way"}`,
		`{"action":"dispute","reason":"not fixed"}`, `{"action":"reopen","reason":"again"}`, `{"action":"confirm"}`,
	}},
	{"PUT", "/api/rules/gas-lel-critical", []string{
		`{"id":"gas-lel-critical","name":"Gas","kind":"gas","metric":"lel_pct","condition":{"op":">=","value":25},"clear":{"op":"<","value":15},"clear_for":"10s","severity":"critical","level":1,"reason":"tuning"}`,
		`{"id":"gas-lel-critical","kind":"gas","metric":"lel_pct","condition":{"op":"outside","low":1,"high":30,"nominal":20},"severity":"major","mode":"shadow"}`,
		`{"id":"gas-lel-critical","kind":"gas","metric":"lel_pct","condition":{"op":"trend_crosses","value":20,"window":"5m","horizon":"10m"},"severity":"critical","flap_count":3,"flap_window":"10m"}`,
	}},
	{"POST", "/api/rules/gas-lel-critical/rollback", []string{`{"version":1,"reason":"back"}`, `{"version":2}`}},
	{"POST", "/api/rules/gas-lel-critical/promote", []string{`{"reason":"trial went well"}`, `{}`}},
	{"POST", "/api/rules/gas-lel-critical/backtest", []string{
		`{"from":"2026-11-23T00:00:00Z","to":"2026-11-24T00:00:00Z","set":{"condition.value":25}}`,
		`{"from":"2026-11-23T00:00:00Z","set":{"for":"30s","clear.value":10}}`,
	}},
	{"POST", "/api/rules/elevator-door-service/service", []string{`{"device_id":"lift-b1-01","reason":"serviced"}`}},
}

var fuzzTokens = []string{tokPatrol, tokTech, tokOperator, tokEngineer, tokAdmin}

// fuzzEstate is the whole API on real services, built once per fuzz
// worker.
func newFuzzEstate(f *testing.F) http.Handler {
	ctx := context.Background()
	dir := f.TempDir()
	clock := testkit.NewFakeClock(flowT0)
	svc, err := ticketing.Open(ctx, ticketing.Config{Path: filepath.Join(dir, "caretaker.db"), Now: clock.Now,
		Technicians: []ticketing.Technician{{Name: "tech1", Skills: []string{"plumbing"}, OnDuty: true}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { svc.Close() })
	reg, err := devices.NewRegistry(devices.Catalog{Devices: []devices.Device{
		{ID: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Location: "B2 boiler room"},
		{ID: "lift-b1-01", Kind: devices.KindElevator, Site: "s1", Building: "B1", Location: "B1 lift 1"},
	}})
	if err != nil {
		f.Fatal(err)
	}
	st, err := rules.OpenStore(ctx, rules.StoreConfig{Path: filepath.Join(dir, "rules.db")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	pack, err := rules.DefaultPack()
	if err != nil {
		f.Fatal(err)
	}
	rs, err := rules.LoadRules(ctx, st, pack)
	if err != nil {
		f.Fatal(err)
	}
	eng, err := rules.NewEngine(rules.Config{Rules: rs, Sink: svc, Devices: reg})
	if err != nil {
		f.Fatal(err)
	}
	hist := fakeHistory{{Time: flowT0, Metric: "lel_pct", Value: 5}, {Time: flowT0.Add(10 * time.Second), Metric: "lel_pct", Value: 22},
		{Time: flowT0.Add(20 * time.Second), Metric: "lel_pct", Value: 26}, {Time: flowT0.Add(30 * time.Second), Metric: "lel_pct", Value: 3}}
	book, err := rules.NewBook(rules.BookConfig{Store: st, Engine: eng, Backtest: &rules.Backtester{History: hist, Devices: reg}})
	if err != nil {
		f.Fatal(err)
	}
	hub := NewHub(HubConfig{})
	srv, err := NewServer(Config{Tokens: testTokens, Hosts: []string{"example.com"}, AuthFailBurst: 1 << 30, Registry: reg, Tickets: svc, Alarms: &fakeAlarms{},
		Hub: hub, NotFound: ticketing.ErrNotFound, Now: clock.Now, Rules: book})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	// Ticket 1: an in-home report; ticket 2: the sensor ticket of a gas alarm.
	if status, body := fuzzDo(h, "POST", bodyRoutes[0].path, tokOperator, []byte(bodyRoutes[0].seeds[1])); status != 201 {
		f.Fatalf("seed report: %d %s", status, body)
	}
	if err := svc.HandleAlarm(ctx, gasRaise(flowT0)); err != nil {
		f.Fatal(err)
	}
	return h
}

func fuzzDo(h http.Handler, method, path, token string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

func FuzzAPIBodies(f *testing.F) {
	for i, r := range bodyRoutes {
		for j, s := range r.seeds {
			f.Add(uint8(i), uint8(j), []byte(s))
		}
	}
	f.Add(uint8(0), uint8(0), []byte(`{"source":"patrol","category":"civil","site":"../../etc","building":"B1","location":"\u0000","description":"`+strings.Repeat("é", 300)+`"}`))
	f.Add(uint8(1), uint8(4), []byte(`{"action":"level","level":-9223372036854775808}`))
	f.Add(uint8(3), uint8(3), []byte(`{"condition":{"op":">=","value":1e308},"for":"-1s"}`))
	f.Add(uint8(6), uint8(3), []byte(`{"from":"0001-01-01T00:00:00Z","to":"9999-12-31T23:59:59Z","set":{"condition.value":"x"}}`))
	f.Add(uint8(2), uint8(1), []byte(`null`))

	h := newFuzzEstate(f)
	f.Fuzz(func(t *testing.T, route, role uint8, body []byte) {
		r := bodyRoutes[int(route)%len(bodyRoutes)]
		tok := fuzzTokens[int(role)%len(fuzzTokens)]
		status, answer := fuzzDo(h, r.method, r.path, tok, body)
		if status >= 500 {
			t.Fatalf("%s %s with %q: status %d: %s", r.method, r.path, body, status, answer)
		}
		if !json.Valid(answer) {
			t.Fatalf("%s %s with %q: answer is not JSON: %q", r.method, r.path, body, answer)
		}
		if status >= 400 {
			var ae apiError
			if err := json.Unmarshal(answer, &ae); err != nil || ae.Error == "" {
				t.Fatalf("%s %s with %q: %d without an error message: %s", r.method, r.path, body, status, answer)
			}
			return
		}
		// A created ticket can be read back.
		if r.path == "/api/tickets" && status == http.StatusCreated {
			var tk ticketing.Ticket
			if err := json.Unmarshal(answer, &tk); err != nil || tk.ID <= 0 {
				t.Fatalf("created ticket %s: %v", answer, err)
			}
			if st, got := fuzzDo(h, "GET", fmt.Sprintf("/api/tickets/%d", tk.ID), tokAdmin, nil); st != http.StatusOK {
				t.Fatalf("created ticket %d cannot be read: %d %s", tk.ID, st, got)
			}
		}
		// A rule the API took is listed and encodes (no NaN or Inf).
		if strings.HasPrefix(r.path, "/api/rules/") && r.method == "PUT" {
			if st, got := fuzzDo(h, "GET", "/api/rules/gas-lel-critical", tokAdmin, nil); st != http.StatusOK {
				t.Fatalf("after PUT %s the rule cannot be read: %d %s", body, st, got)
			}
		}
	})
}

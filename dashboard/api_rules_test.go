package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/rules"
)

// fakeHistory serves stored lel_pct values for the backtest endpoint.
type fakeHistory []devices.Point

func (f fakeHistory) Readings(_ context.Context, q devices.Query) ([]devices.Point, error) {
	if q.Device != "gas-b2-07" {
		return nil, nil
	}
	return f, nil
}

// newRuleEstate is a test server with a real rule book on a temp SQLite file.
func newRuleEstate(t *testing.T) (*estate, *rules.Engine) {
	t.Helper()
	ctx := context.Background()
	st, err := rules.OpenStore(ctx, rules.StoreConfig{Path: filepath.Join(t.TempDir(), "rules.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pack, err := rules.DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	rs, err := rules.LoadRules(ctx, st, pack)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := rules.NewEngine(rules.Config{Rules: rs})
	if err != nil {
		t.Fatal(err)
	}
	var book *rules.Book
	e := newEstate(t, HubConfig{}, func(c *Config) {
		t0 := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
		hist := fakeHistory{{Time: t0, Metric: "lel_pct", Value: 5}, {Time: t0.Add(10 * time.Second), Metric: "lel_pct", Value: 22},
			{Time: t0.Add(20 * time.Second), Metric: "lel_pct", Value: 26}, {Time: t0.Add(30 * time.Second), Metric: "lel_pct", Value: 3}}
		book, err = rules.NewBook(rules.BookConfig{Store: st, Engine: eng,
			Backtest: &rules.Backtester{History: hist, Devices: c.Registry}})
		if err != nil {
			t.Fatal(err)
		}
		c.Rules = book
	})
	return e, eng
}

func TestRulesAPI(t *testing.T) {
	e, eng := newRuleEstate(t)

	code, body := e.do(t, "GET", "/api/rules", tokPatrol, "")
	if code != 200 || !strings.Contains(body, `"id":"gas-lel-critical"`) {
		t.Fatalf("list: %d %s", code, body)
	}
	code, body = e.do(t, "GET", "/api/rules/gas-lel-critical", tokOperator, "")
	var got rules.View
	if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got.Version != 1 || got.Condition.Value != 20.0 {
		t.Fatalf("get: %d %s", code, body)
	}
	if code, _ := e.do(t, "GET", "/api/rules/nope", tokOperator, ""); code != 404 {
		t.Fatalf("unknown rule: %d", code)
	}

	// Only engineers change rules; bad values name the field.
	put := `{"name":"Gas above alarm level","kind":"gas","metric":"lel_pct","condition":{"op":">=","value":25},
		"clear":{"op":"<","value":15},"clear_for":"10s","severity":"critical","reason":"boiler room runs high","confirm":true}`
	if code, _ := e.do(t, "PUT", "/api/rules/gas-lel-critical", tokOperator, put); code != http.StatusForbidden {
		t.Fatalf("operator put: %d", code)
	}
	badClear := strings.Replace(put, `"value":15`, `"value":30`, 1)
	code, body = e.do(t, "PUT", "/api/rules/gas-lel-critical", tokEngineer, badClear)
	if code != 400 || decodeError(t, body).Field != "clear.value" {
		t.Fatalf("overlapping clear: %d %s", code, body)
	}
	badRange := strings.Replace(put, `"value":25`, `"value":150`, 1)
	code, body = e.do(t, "PUT", "/api/rules/gas-lel-critical", tokEngineer, badRange)
	if code != 400 || decodeError(t, body).Field != "condition.value" {
		t.Fatalf("150 %%LEL: %d %s", code, body)
	}
	code, body = e.do(t, "PUT", "/api/rules/gas-lel-critical", tokEngineer, put)
	if code != 200 || !strings.Contains(body, `"version":2`) || !strings.Contains(body, `"by":"eng1"`) ||
		!strings.Contains(body, `"old":{`) {
		t.Fatalf("put: %d %s", code, body)
	}
	applied := false
	for _, r := range eng.Rules() {
		if r.ID == "gas-lel-critical" && r.Condition.Value == 25.0 {
			applied = true
		}
	}
	if !applied {
		t.Fatal("the new threshold is not in force in the engine")
	}

	// Shadow trial, promote, history, rollback.
	shadow := strings.Replace(put, `"severity"`, `"mode":"shadow","severity"`, 1)
	shadow = strings.Replace(shadow, `"value":25`, `"value":22`, 1)
	if code, body := e.do(t, "PUT", "/api/rules/gas-lel-critical", tokEngineer, shadow); code != 200 {
		t.Fatalf("shadow put: %d %s", code, body)
	}
	code, body = e.do(t, "GET", "/api/rules/gas-lel-critical", tokPatrol, "")
	if code != 200 || !strings.Contains(body, `"shadow":{`) {
		t.Fatalf("get with shadow: %d %s", code, body)
	}
	if code, body := e.do(t, "POST", "/api/rules/gas-lel-critical/promote", tokEngineer, `{"reason":"the trial held","confirm":true}`); code != 200 || !strings.Contains(body, `"action":"promote"`) {
		t.Fatalf("promote: %d %s", code, body)
	}
	code, body = e.do(t, "GET", "/api/rules/gas-lel-critical/history", tokTech, "")
	var hist struct{ Versions []rules.Version }
	if code != 200 || json.Unmarshal([]byte(body), &hist) != nil || len(hist.Versions) != 4 {
		t.Fatalf("history: %d %s", code, body)
	}
	code, body = e.do(t, "POST", "/api/rules/gas-lel-critical/rollback", tokEngineer, `{"version":1,"reason":"back to the pack","confirm":true}`)
	if code != 200 || !strings.Contains(body, `"version":5`) || !strings.Contains(body, `"value":20`) {
		t.Fatalf("rollback: %d %s", code, body)
	}
	if code, body := e.do(t, "POST", "/api/rules/gas-lel-critical/rollback", tokEngineer, `{"version":42,"reason":"x","confirm":true}`); code != 400 || decodeError(t, body).Field != "version" {
		t.Fatalf("rollback to a missing version: %d %s", code, body)
	}

	// Backtest: current >= 20 catches +10..+40 s; 25 only +20..+40 s (clear_for 10 s).
	code, body = e.do(t, "POST", "/api/rules/gas-lel-critical/backtest", tokEngineer,
		`{"from":"2026-11-23T01:00:00Z","to":"2026-11-23T02:00:00Z","set":{"condition.value":25}}`)
	if code != 200 || !strings.Contains(body, `"count":1`) || !strings.Contains(body, `"current_count":1`) ||
		!strings.Contains(body, `"episodes":[{"device":"gas-b2-07","start":"2026-11-23T01:00:20Z","end":"2026-11-23T01:00:40Z","peak":26}]`) {
		t.Fatalf("backtest: %d %s", code, body)
	}
	code, body = e.do(t, "POST", "/api/rules/gas-lel-critical/backtest", tokEngineer, `{"from":"2026-11-23T01:00:00Z","to":"2026-11-23T02:00:00Z","set":{"condition.bogus":1}}`)
	if code != 400 || decodeError(t, body).Field != "set" {
		t.Fatalf("backtest with an unknown key: %d %s", code, body)
	}
	if code, _ := e.do(t, "POST", "/api/rules/gas-lel-critical/backtest", tokPatrol, `{}`); code != 403 {
		t.Fatalf("patrol backtest: %d", code)
	}

	// Service records re-arm counter rules; a technician may record one.
	if code, body := e.do(t, "POST", "/api/rules/elevator-door-service/service", tokTech, `{"device_id":"el-1","reason":"rollers"}`); code != 200 {
		t.Fatalf("service: %d %s", code, body)
	}
	if code, body := e.do(t, "POST", "/api/rules/gas-lel-critical/service", tokTech, `{"device_id":"gas-b2-07"}`); code != 400 {
		t.Fatalf("service on a threshold rule: %d %s", code, body)
	}
}

func TestRulesAPIWithoutBook(t *testing.T) {
	e := newEstate(t, HubConfig{})
	if code, _ := e.do(t, "GET", "/api/rules", tokPatrol, ""); code != http.StatusServiceUnavailable {
		t.Fatalf("no book: %d", code)
	}
}

// TestRulesAPIParallelPuts: engineers saving the same rule at once leave
// the engine running the latest stored version.
func TestRulesAPIParallelPuts(t *testing.T) {
	e, eng := newRuleEstate(t)
	for round := 0; round < 10; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := fmt.Sprintf(`{"name":"Gas above alarm level","kind":"gas","metric":"lel_pct",
					"condition":{"op":">=","value":%g},"clear":{"op":"<","value":15},"severity":"critical","reason":"parallel","confirm":true}`,
					20+float64(round*16+i)/10)
				req, err := http.NewRequest("PUT", e.http.URL+"/api/rules/gas-lel-critical", strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				req.Header.Set("Authorization", "Bearer "+tokEngineer)
				resp, err := e.http.Client().Do(req)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("PUT: %d %s", resp.StatusCode, b)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		code, body := e.do(t, "GET", "/api/rules/gas-lel-critical", tokOperator, "")
		var stored rules.View
		if code != 200 || json.Unmarshal([]byte(body), &stored) != nil {
			t.Fatalf("get: %d %s", code, body)
		}
		for _, r := range eng.Rules() {
			if r.ID == "gas-lel-critical" && r.Mode == rules.ModeLive &&
				(r.Version != stored.Version || r.Condition.Value != stored.Condition.Value) {
				t.Fatalf("round %d: engine runs version %d (value %v), the store's current is version %d (value %v)",
					round, r.Version, r.Condition.Value, stored.Version, stored.Condition.Value)
			}
		}
	}
}

// TestRulesAPIL1NeedsReasonAndConfirm: a change to a rule that opens L1
// tickets (the gas alarm) is refused without a reason (400, field reason)
// and without "confirm": true (409, field confirm), for a put, a promote
// and a rollback alike; nothing is stored by a refused change. A rule of
// another level needs neither.
func TestRulesAPIL1NeedsReasonAndConfirm(t *testing.T) {
	e, _ := newRuleEstate(t)
	put := `{"name":"Gas above alarm level","kind":"gas","metric":"lel_pct","condition":{"op":">=","value":25},
		"clear":{"op":"<","value":15},"clear_for":"10s","severity":"critical"%s}`
	tests := []struct {
		name, method, path, body string
		code                     int
		field                    string
	}{
		{"put without a reason", "PUT", "/api/rules/gas-lel-critical", fmt.Sprintf(put, `,"confirm":true`), 400, "reason"},
		{"put without confirm", "PUT", "/api/rules/gas-lel-critical", fmt.Sprintf(put, `,"reason":"runs high"`), 409, "confirm"},
		{"rollback without a reason", "POST", "/api/rules/gas-lel-critical/rollback", `{"version":1,"confirm":true}`, 400, "reason"},
		{"rollback without confirm", "POST", "/api/rules/gas-lel-critical/rollback", `{"version":1,"reason":"back"}`, 409, "confirm"},
		{"promote without confirm", "POST", "/api/rules/gas-lel-critical/promote", `{"reason":"trial held"}`, 409, "confirm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.do(t, tc.method, tc.path, tokEngineer, tc.body)
			if code != tc.code || decodeError(t, body).Field != tc.field || !strings.Contains(body, "L1") {
				t.Fatalf("%s %s: %d %s, want %d naming %s and L1", tc.method, tc.path, code, body, tc.code, tc.field)
			}
		})
	}
	code, body := e.do(t, "GET", "/api/rules/gas-lel-critical/history", tokEngineer, "")
	var hist struct{ Versions []rules.Version }
	if code != 200 || json.Unmarshal([]byte(body), &hist) != nil || len(hist.Versions) != 1 {
		t.Fatalf("refused changes stored: %d %s", code, body)
	}
	if code, body := e.do(t, "PUT", "/api/rules/gas-lel-critical", tokEngineer, fmt.Sprintf(put, `,"reason":"runs high","confirm":true`)); code != 200 {
		t.Fatalf("put with reason and confirm: %d %s", code, body)
	}
}

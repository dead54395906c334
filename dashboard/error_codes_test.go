package dashboard

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// Every refusal a page shows comes with a stable code and its
// parameters, so the page says it in its user's language.
func TestAPIErrorCodes(t *testing.T) {
	e := newFlowEstate(t, func(c *ticketing.Config) {
		c.Technicians = []ticketing.Technician{{Name: "tech1", Skills: []string{"plumbing"}, Zones: []string{"z1"}, OnDuty: true}}
	})
	var created ticketing.Ticket
	status, raw := e.do("POST", "/api/tickets", tokOperator, map[string]any{"source": "phone", "category": "water_electric",
		"site": "s1", "building": "B3", "scope": "in_home", "unit": "2", "floor": "12", "room": "1201", "location": "kitchen",
		"description": "tap drips", "reporter": map[string]string{"name": "Wang", "phone": "139"}}, &created)
	if status != 201 {
		t.Fatalf("report: %d %s", status, raw)
	}
	id := created.ID
	wrong := "000000"
	if created.VerificationCode == wrong {
		wrong = "111111"
	}
	type answer struct {
		Error  string         `json:"error"`
		Code   string         `json:"code"`
		Params map[string]any `json:"params"`
	}
	check := func(what string, status int, raw string, wantStatus int, wantCode string, wantParams map[string]any) {
		t.Helper()
		var a answer
		if err := json.Unmarshal([]byte(raw), &a); err != nil || status != wantStatus || a.Code != wantCode || a.Error == "" {
			t.Fatalf("%s: %d %s, want %d with code %s", what, status, raw, wantStatus, wantCode)
		}
		for k, v := range wantParams {
			if !reflect.DeepEqual(fmt.Sprint(a.Params[k]), fmt.Sprint(v)) {
				t.Errorf("%s: params[%s] = %v, want %v (%s)", what, k, a.Params[k], v, raw)
			}
		}
	}
	do := func(token string, body map[string]any) (int, string) {
		return e.do("POST", fmt.Sprintf("/api/tickets/%d/actions", id), token, body, nil)
	}
	st, raw := do(tokOperator, map[string]any{"action": "assign", "technician": "Wang Gong"})
	check("unknown technician", st, raw, 400, "unknown_technician", map[string]any{"name": "Wang Gong", "field": "technician"})
	st, raw = do(tokOperator, map[string]any{"action": "confirm"})
	check("confirm too early", st, raw, 409, "wrong_status", map[string]any{"action": "confirm", "status": "dispatched"}) // auto-dispatched to tech1
	st, raw = do(tokEngineer, map[string]any{"action": "comment", "note": "x"})
	check("engineer comments", st, raw, 403, "role_forbidden", map[string]any{"role": "engineer"})
	st, raw = do(tokPatrol, map[string]any{"action": "claim"})
	check("patrol claims", st, raw, 403, "role_may_not", map[string]any{"action": "claim", "role": "patrol"})
	if st, raw := do(tokTech, map[string]any{"action": "accept"}); st != 200 {
		t.Fatalf("accept: %d %s", st, raw)
	}
	st, raw = do(tokTech, map[string]any{"action": "arrive"})
	check("no code", st, raw, 400, "required", map[string]any{"field": "code"})
	st, raw = do(tokTech, map[string]any{"action": "arrive", "code": wrong})
	check("wrong code", st, raw, 409, "wrong_code", map[string]any{"action": "arrive", "n": 1, "max": 5})
	for i := 2; i <= 5; i++ {
		st, raw = do(tokTech, map[string]any{"action": "arrive", "code": wrong})
	}
	check("locked", st, raw, 429, "code_locked", map[string]any{"n": 5})
	st, raw = e.do("GET", "/api/tickets/999", tokOperator, nil, nil)
	check("unknown ticket", st, raw, 404, "not_found", nil)
	st, raw = e.do("GET", "/api/nothing", tokOperator, nil, nil)
	check("unknown endpoint", st, raw, 404, "no_endpoint", nil)
	st, raw = e.do("GET", "/api/tickets", "not-a-token-at-all", nil, nil)
	check("bad token", st, raw, 401, "bad_token", nil)
}

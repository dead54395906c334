package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// The checklist of an elevator entrapment through the real API and the
// real ticket service: resolve is refused naming the items until they are
// checked; the assigned technician, an operator and an admin may check,
// the other roles are refused; bad items, values, parts and fees are 400s
// naming the field; the parts and fee the owner confirms are on the ticket.
func TestAPIChecklistAndAcceptance(t *testing.T) {
	e := newFlowEstate(t, func(c *ticketing.Config) { c.Checklists = ticketing.DefaultChecklists() })
	at := e.clock.Now()
	if err := e.svc.HandleAlarm(context.Background(), rules.Alarm{ID: rules.AlarmID("elevator-entrapment", "el-e3", at),
		RuleID: "elevator-entrapment", Device: "el-e3", Kind: devices.KindElevator, Site: "s1", Building: "B1", Location: "Lift E3",
		Event: "entrapment", Severity: rules.Critical, Level: 1, State: rules.Raised, Value: 1, Peak: 1, RaisedAt: at}); err != nil {
		t.Fatal(err)
	}
	var list struct{ Tickets []ticketing.Ticket }
	if status, raw := e.do("GET", "/api/tickets?source=sensor", tokOperator, nil, &list); status != 200 || len(list.Tickets) != 1 {
		t.Fatalf("sensor tickets: %d %s", status, raw)
	}
	id := list.Tickets[0].ID
	e.act(id, tokTech, map[string]any{"action": "claim"}, 200)
	e.act(id, tokTech, map[string]any{"action": "arrive"}, 200)

	tk := e.get(id, tokOperator) // the control room sees the list
	if tk.Checklist == nil || tk.Checklist.Name != "elevator_entrapment" || len(tk.Checklist.Missing) != 4 {
		t.Fatalf("checklist on the ticket: %+v", tk.Checklist)
	}
	resolve := map[string]any{"action": "resolve", "note": "passengers out", "override": true, "reason": "controller latched",
		"parts": []map[string]any{{"name": "door contact", "qty": 1}}, "paid": true, "fee_cents": 12050}
	_, raw := e.act(id, tokTech, resolve, 409)
	var refusal struct {
		Error, Field, Code string
		Params             map[string]any
	}
	if err := json.Unmarshal([]byte(raw), &refusal); err != nil || refusal.Field != "checklist" || refusal.Code != "checklist_incomplete" ||
		fmt.Sprint(refusal.Params["items"]) != "[power_isolated car_levelled passengers_out freed_at]" ||
		!strings.Contains(refusal.Error, "car_levelled (Car moved to a landing and levelled)") {
		t.Fatalf("refusal: %s", raw)
	}

	for _, c := range []struct {
		token string
		body  map[string]any
		want  int
		field string
	}{
		{tokPatrol, map[string]any{"action": "check", "item": "power_isolated"}, 403, ""},
		{tokEngineer, map[string]any{"action": "check", "item": "power_isolated"}, 403, ""},
		{tokManager, map[string]any{"action": "check", "item": "power_isolated"}, 403, ""},
		{tokTech, map[string]any{"action": "check", "item": "power-isolated!"}, 400, "item"},
		{tokTech, map[string]any{"action": "check", "item": "power_off"}, 400, "item"},
		{tokTech, map[string]any{"action": "check", "item": "freed_at"}, 400, "value"},
		{tokTech, map[string]any{"action": "check", "item": "freed_at", "value": "25:99"}, 400, "value"},
		{tokTech, map[string]any{"action": "check", "item": "power_isolated"}, 200, ""},
		{tokOperator, map[string]any{"action": "check", "item": "car_levelled", "note": "rescuer on the phone"}, 200, ""},
		{tokAdmin, map[string]any{"action": "check", "item": "passengers_out"}, 200, ""},
		{tokTech, map[string]any{"action": "check", "item": "freed_at", "value": "08:55"}, 200, ""}, // the server's time, within the last day
	} {
		status, raw := e.do("POST", fmt.Sprintf("/api/tickets/%d/actions", id), c.token, c.body, nil)
		if status != c.want || (c.field != "" && !strings.Contains(raw, `"field":"`+c.field+`"`)) {
			t.Errorf("%v with %s: %d %s, want %d on %q", c.body, c.token, status, raw, c.want, c.field)
		}
	}
	// Bad parts and fees: 400 naming the field.
	for field, body := range map[string]map[string]any{
		"parts[0].qty": {"parts": []map[string]any{{"name": "seal", "qty": 0}}},
		"parts.qty":    {"parts": []map[string]any{{"name": "seal", "qty": 1.5}}},
		"fee_cents":    {"paid": true, "fee_cents": ticketing.MaxFeeCents + 1},
	} {
		body["action"], body["note"] = "resolve", "x"
		status, raw := e.do("POST", fmt.Sprintf("/api/tickets/%d/actions", id), tokTech, body, nil)
		if status != 400 || !strings.Contains(raw, `"field":"`+field+`"`) {
			t.Errorf("%v: %d %s, want 400 on %s", body, status, raw, field)
		}
	}
	res, _ := e.act(id, tokTech, resolve, 200)
	if res.Status != ticketing.StatusResolved || res.FeeCents != 12050 || len(res.Parts) != 1 {
		t.Fatalf("resolved: %+v", res.Ticket)
	}
	var who []string
	for _, it := range e.get(id, tokOperator).Checklist.Items {
		if it.Checked {
			who = append(who, it.ID+" "+it.By)
		}
	}
	if want := []string{"power_isolated tech1", "car_levelled ops1", "passengers_out root", "freed_at tech1"}; !slices.Equal(who, want) {
		t.Errorf("checks %v, want %v", who, want)
	}
	// The operator confirms on the owner's behalf after a call.
	res, _ = e.act(id, tokOperator, map[string]any{"action": "confirm"}, 200)
	if a := res.Acceptance; a == nil || a.By != "ops1" || a.Role != ticketing.RoleOperator || a.FeeCents != 12050 || len(a.Parts) != 1 {
		t.Fatalf("acceptance: %+v", a)
	}
	if n := res.History[len(res.History)-1].Note; n != "owner confirmed the work by phone; parts: door contact x1; paid service, fee ¥120.50" {
		t.Errorf("history: %q", n)
	}
}

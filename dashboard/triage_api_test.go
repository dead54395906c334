package dashboard

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/rules"
)

// warnRaise is an L2 alarm (gas over its pre-alarm level) on device at
// site.
func warnRaise(at time.Time, device, site string) rules.Alarm {
	a := gasRaise(at)
	a.RuleID, a.RuleName, a.Severity, a.Level, a.Value, a.Peak = "gas-lel-warning", "Gas above pre-alarm level", rules.Major, 2, 12, 12
	a.Device, a.Site, a.ID, a.Message = device, site, rules.AlarmID("gas-lel-warning", device, at), "lel_pct 12.0 >= 10"
	return a
}

// TestAPITriage, on the real ticket store: the queue lists L2 alarms
// (a site-limited operator sees only its site's), the three actions take
// the operator's (and admin's) word, refuse other roles and other sites,
// name the field of bad input and refuse a decided alarm; the engineer
// reads the false-alarm rates (dismissed / raised over 30 days).
func TestAPITriage(t *testing.T) {
	e := newFlowEstate(t)
	ctx := context.Background()
	now := e.clock.Now()
	a, b, c, d := warnRaise(now, "gas-b2-07", "s1"), warnRaise(now, "gas-b3-01", "s1"), warnRaise(now, "gas-b4-01", "s1"), warnRaise(now, "gas-c1-01", "s2")
	for _, al := range []rules.Alarm{a, b, c, d} {
		if err := e.svc.HandleAlarm(ctx, al); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(token string) []string {
		t.Helper()
		var out []string
		for _, it := range e.getMap("/api/triage", token)["alarms"].([]any) {
			out = append(out, it.(jsonMap)["alarm"].(jsonMap)["id"].(string))
		}
		return out
	}
	if got := ids(tokOperator); len(got) != 4 {
		t.Fatalf("operator's queue %v, want the 4 alarms", got)
	}
	if got := ids(tokOperatorS2); len(got) != 1 || got[0] != d.ID {
		t.Fatalf("s2 operator's queue %v, want only %s", got, d.ID)
	}
	item := e.getMap("/api/triage", tokOperator)["alarms"].([]any)[0].(jsonMap)
	if item["state"] != "queued" || item["due_at"] == nil || item["alarm"].(jsonMap)["rule_name"] == nil {
		t.Errorf("queue item %v", item)
	}

	soon := e.clock.Now().Add(2 * time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		name, path, token string
		body              any
		status            int
		field             string
	}{
		{"technician", "/api/triage/" + a.ID + "/ticket", tokTech, nil, 403, ""},
		{"engineer", "/api/triage/" + a.ID + "/dismiss", tokEngineer, map[string]any{"reason": "x"}, 403, ""},
		{"patrol", "/api/triage/" + a.ID + "/snooze", tokPatrol, map[string]any{"until": soon, "reason": "x"}, 403, ""},
		{"other site", "/api/triage/" + a.ID + "/ticket", tokOperatorS2, nil, 403, ""},
		{"no reason", "/api/triage/" + a.ID + "/dismiss", tokOperator, map[string]any{}, 400, "reason"},
		{"no time", "/api/triage/" + a.ID + "/snooze", tokOperator, map[string]any{"reason": "later"}, 400, "until"},
		{"bad time", "/api/triage/" + a.ID + "/snooze", tokOperator, map[string]any{"until": "tomorrow", "reason": "later"}, 400, "until"},
		{"past", "/api/triage/" + a.ID + "/snooze", tokOperator, map[string]any{"until": "2020-01-01T00:00:00Z", "reason": "later"}, 400, "until"},
		{"unknown field", "/api/triage/" + a.ID + "/dismiss", tokOperator, map[string]any{"why": "x"}, 400, "why"},
		{"unknown alarm", "/api/triage/nope/ticket", tokOperator, nil, 404, ""},
	} {
		status, raw := e.do("POST", tc.path, tc.token, tc.body, nil)
		if status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, raw, tc.status)
			continue
		}
		if tc.field != "" && decodeError(t, raw).Field != tc.field {
			t.Errorf("%s: %s, want the field %s named", tc.name, raw, tc.field)
		}
	}

	var m jsonMap
	if status, raw := e.do("POST", "/api/triage/"+a.ID+"/dismiss", tokOperator, map[string]any{"reason": "steam from the boiler"}, &m); status != 200 {
		t.Fatalf("dismiss: %d %s", status, raw)
	}
	if m["state"] != "dismissed" || m["decided_by"] != "ops1" || m["reason"] != "steam from the boiler" {
		t.Errorf("dismissed %v", m)
	}
	if status, raw := e.do("POST", "/api/triage/"+a.ID+"/ticket", tokOperator, nil, nil); status != 409 {
		t.Errorf("ticket of a dismissed alarm: %d %s, want 409", status, raw)
	}
	if status, raw := e.do("POST", "/api/triage/"+b.ID+"/snooze", tokAdmin, map[string]any{"until": soon, "reason": "calibration at 10"}, &m); status != 200 || m["state"] != "snoozed" {
		t.Fatalf("snooze: %d %s", status, raw)
	}
	if status, raw := e.do("POST", "/api/triage/"+c.ID+"/ticket", tokOperator, nil, &m); status != 200 || m["state"] != "ticketed" {
		t.Fatalf("ticket: %d %s", status, raw)
	}
	tk := m["ticket"].(jsonMap)
	if tk["level"] != float64(2) || tk["device_id"] != "gas-b4-01" || !strings.HasPrefix(tk["number"].(string), "BX") {
		t.Errorf("ticket made %v", tk)
	}
	if got := ids(tokOperator); len(got) != 2 || got[0] != d.ID || got[1] != b.ID {
		t.Errorf("queue after the actions %v, want %s queued then %s snoozed", got, d.ID, b.ID)
	}

	// The rates: gas-lel-warning raised 4, 1 dismissed.
	for _, tok := range []string{tokEngineer, tokOperator, tokManager} {
		st := e.getMap("/api/triage/stats", tok)
		rs := st["rules"].([]any)
		if st["days"] != float64(30) || len(rs) != 1 {
			t.Fatalf("stats %v", st)
		}
		r := rs[0].(jsonMap)
		if r["rule_id"] != "gas-lel-warning" || r["raised"] != float64(4) || r["dismissed"] != float64(1) || r["rate"] != 0.25 {
			t.Errorf("rule stats %v", r)
		}
	}
	st := e.getMap("/api/triage/stats", tokOperatorS2)["rules"].([]any)
	if len(st) != 1 || st[0].(jsonMap)["raised"] != float64(1) || st[0].(jsonMap)["dismissed"] != float64(0) {
		t.Errorf("s2 operator's stats %v, want its one alarm", st)
	}
	if status, _ := e.do("GET", "/api/triage/stats", tokTech, nil, nil); status != 403 {
		t.Errorf("technician reads the stats: %d, want 403", status)
	}
}

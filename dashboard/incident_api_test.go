package dashboard

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// jsonMap is an answer read without the Go types, so the test states the
// wire format.
type jsonMap = map[string]any

func (e *flowEstate) getMap(path, token string) jsonMap {
	e.t.Helper()
	var m jsonMap
	if status, raw := e.do("GET", path, token, nil, &m); status != 200 {
		e.t.Fatalf("GET %s: %d %s", path, status, raw)
	}
	return m
}

func (e *flowEstate) uploadPhoto(id int64, query, token string) (int, string) {
	e.t.Helper()
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 64)...)
	body, ctype := multipartPhoto(e.t, "photo", "p.png", png)
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/tickets/%d/photos%s", e.http.URL, id, query), body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ctype)
	return e.send(req, nil)
}

func num(v any) int64 { f, _ := v.(float64); return int64(f) }

// Timeline, both orders: a patrol reports gas at gas-b2-07 (or the boiler
// room), the sensor raises its alarm; a resident's call about the same
// room comes in with a photo. One ticket, both reporters with their
// phones and words, the photo on the incident.
func TestAPIReportAndAlarmOneIncidentEitherOrder(t *testing.T) {
	for _, c := range []struct {
		name       string
		alarmFirst bool
		byDevice   bool
	}{
		{"report first, by device", false, true},
		{"report first, by place", false, false},
		{"alarm first, by device", true, true},
		{"alarm first, by place", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newFlowEstate(t)
			raise := func() {
				if err := e.svc.HandleAlarm(context.Background(), gasRaise(e.clock.Now())); err != nil {
					t.Fatal(err)
				}
				e.clock.Advance(time.Minute)
			}
			report := func(token, source, name, phone, text string) (int, jsonMap) {
				body := map[string]any{"source": source, "category": "gas", "site": "s1", "building": "B2",
					"location": "B2 boiler room", "description": text, "reporter": map[string]string{"name": name, "phone": phone}}
				if c.byDevice {
					body["device_id"], body["location"] = "gas-b2-07", "by the boiler"
				}
				var m jsonMap
				status, raw := e.do("POST", "/api/tickets", token, body, &m)
				if status >= 300 {
					t.Fatalf("report: %d %s", status, raw)
				}
				e.clock.Advance(time.Minute)
				return status, m
			}
			if c.alarmFirst {
				raise()
			}
			status, first := report(tokPatrol, "patrol", "Zhang", "13800000001", "smell of gas")
			if want := map[bool]int{true: 200, false: 201}[c.alarmFirst]; status != want || (c.alarmFirst && first["merged"] != true) {
				t.Fatalf("first report: %d %v", status, first)
			}
			if !c.alarmFirst {
				raise()
			}
			status, second := report(tokOperator, "resident", "Li", "13900000002", "detector beeping in the boiler room")
			if status != 200 || second["merged"] != true || num(second["id"]) != num(first["id"]) {
				t.Fatalf("second report: %d %v, want 200 merged into %v", status, second, first["id"])
			}
			id := num(second["id"])
			if status, raw := e.uploadPhoto(id, fmt.Sprintf("?report=%d", num(second["report_id"])), tokOperator); status != 201 {
				t.Fatalf("photo of the merged report: %d %s", status, raw)
			}

			list := e.getMap("/api/tickets?status=new", tokOperator)["tickets"].([]any)
			if len(list) != 1 {
				t.Fatalf("%d open tickets, want one incident: %v", len(list), list)
			}
			tk := e.getMap(fmt.Sprintf("/api/tickets/%d", id), tokOperator)
			if num(tk["level"]) != 1 || tk["alarm_id"] == "" || tk["alarm_id"] == nil {
				t.Errorf("ticket level %v alarm %v, want L1 with the alarm", tk["level"], tk["alarm_id"])
			}
			reporters, _ := tk["reporters"].([]any)
			var got []string
			for _, r := range reporters {
				m := r.(jsonMap)
				got = append(got, fmt.Sprint(m["name"], " ", m["phone"], " ", m["description"], " ", len(asList(m["photos"]))))
			}
			want := []string{"Zhang 13800000001 smell of gas 0", "Li 13900000002 detector beeping in the boiler room 1"}
			if !slices.Equal(got, want) {
				t.Errorf("reporters %q\nwant %q", got, want)
			}
			photos := asList(tk["photos"])
			if len(photos) != 1 || num(photos[0].(jsonMap)["report_id"]) != num(second["report_id"]) {
				t.Errorf("photos %v", photos)
			}
			alarms := asList(e.getMap("/api/alarms", tokOperator)["alarms"])
			if len(alarms) != 1 || num(alarms[0].(jsonMap)["ticket_id"]) != id {
				t.Errorf("alarms %v, want the one alarm on ticket %d", alarms, id)
			}
		})
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

// Timeline: gas raises at 0, the operator acknowledges, it clears at +1m
// (lel 10), comes back at +10m and peaks at 45: the ticket shows one
// recurrence with its time and peak, the hub hears ticket.recurred, and
// the cleared alarm says the value 10 cleared it.
func TestAPIAlarmComebackIsARecurrence(t *testing.T) {
	e := newFlowEstate(t)
	ctx := context.Background()
	first := gasRaise(e.clock.Now())
	if err := e.svc.HandleAlarm(ctx, first); err != nil {
		t.Fatal(err)
	}
	if status, raw := e.do("POST", "/api/alarms/"+first.ID+"/ack", tokOperator, nil, nil); status != 200 {
		t.Fatalf("ack: %d %s", status, raw)
	}
	e.clock.Advance(time.Minute)
	clear := first
	clearedAt := e.clock.Now()
	clear.State, clear.Value, clear.ClearedAt = rules.Cleared, 10, &clearedAt
	if err := e.svc.HandleAlarm(ctx, clear); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(9 * time.Minute)
	back := gasRaise(e.clock.Now())
	backAt := back.RaisedAt
	if err := e.svc.HandleAlarm(ctx, back); err != nil {
		t.Fatal(err)
	}
	up := back
	up.State, up.Value, up.Peak = rules.Updated, 45, 45
	if err := e.svc.HandleAlarm(ctx, up); err != nil {
		t.Fatal(err)
	}

	tk := e.getMap("/api/tickets/1", tokTech)
	rec, _ := tk["recurrence"].(jsonMap)
	if rec == nil || num(rec["count"]) != 1 || rec["peak"] != 45.0 || rec["last_at"] != backAt.UTC().Format(time.RFC3339) ||
		len(asList(rec["episodes"])) != 1 {
		t.Fatalf("recurrence %v, want count 1, peak 45, last at %s", tk["recurrence"], backAt)
	}
	if !e.heard.has("ticket.recurred") {
		t.Errorf("events %v, want ticket.recurred", e.heard.events)
	}
	// The list carries the count too (the board and the events use it).
	list := asList(e.getMap("/api/tickets", tokOperator)["tickets"])
	if len(list) != 1 || list[0].(jsonMap)["recurrence"] == nil {
		t.Errorf("list %v, want the recurrence", list)
	}
	cleared := asList(e.getMap("/api/alarms?state=cleared", tokOperator)["alarms"])
	if len(cleared) != 1 {
		t.Fatalf("cleared alarms %v", cleared)
	}
	if a := cleared[0].(jsonMap); a["cleared_by"] != "value 10" || a["clear_reason"] != "value" {
		t.Errorf("cleared alarm: cleared_by %v clear_reason %v", a["cleared_by"], a["clear_reason"])
	}
}

// A technician who files an in-home report gets no code and cannot
// "verify" it; the operator's answer to a phone report carries it; a
// technician adds photos only to their own tickets.
func TestAPIInHomeCodeNeverToATechnician(t *testing.T) {
	e := newFlowEstate(t)
	home := func(room string) map[string]any {
		return map[string]any{"source": "phone", "category": "water_electric", "site": "s1", "building": "B3",
			"scope": "in_home", "unit": "2", "floor": "12", "room": room, "description": "tap drips"}
	}
	var byTech jsonMap
	if status, raw := e.do("POST", "/api/tickets", tokTech, home("1201"), &byTech); status != 201 || strings.Contains(raw, "verification_code") {
		t.Fatalf("technician's in-home report: %d %s, want 201 without the code", status, raw)
	}
	id := num(byTech["id"])
	e.act(id, tokTech, map[string]any{"action": "claim"}, 200)
	for _, code := range []string{"000000", "123456"} {
		e.act(id, tokTech, map[string]any{"action": "arrive", "code": code}, 409)
	}
	if status, raw := e.do("GET", fmt.Sprintf("/api/tickets/%d", id), tokTech, nil, nil); status != 200 || strings.Contains(raw, "verification_code") {
		t.Fatalf("technician's view: %d %s", status, raw)
	}
	// The owner's channel: the operator's answer to the phone call.
	var byOps jsonMap
	if status, raw := e.do("POST", "/api/tickets", tokOperator, home("1202"), &byOps); status != 201 || len(fmt.Sprint(byOps["verification_code"])) != 6 {
		t.Fatalf("operator's in-home report: %d %s, want the code", status, raw)
	}
	other := num(byOps["id"])
	if status, raw := e.uploadPhoto(other, "", tokTech); status != 403 {
		t.Errorf("technician's photo on a ticket not theirs: %d %s, want 403", status, raw)
	}
	if status, raw := e.uploadPhoto(id, "", tokTech); status != 201 {
		t.Errorf("technician's photo on their own ticket: %d %s", status, raw)
	}
	if status, raw := e.uploadPhoto(other, "?report=x", tokOperator); status != 400 || decodeError(t, raw).Field != "report" {
		t.Errorf("bad report id: %d %s", status, raw)
	}
}

// The KPI CSV download holds what people typed as text: a building named
// =HYPERLINK(...) or +cmd|' /C calc'!A0 is no formula in a spreadsheet.
func TestAPIStatsCSVHasNoFormulas(t *testing.T) {
	e := newFlowEstate(t)
	for _, b := range []string{`=HYPERLINK("http://evil.example","x")`, `+cmd|' /C calc'!A0`, "-1+1", "@SUM(A1)"} {
		if status, raw := e.do("POST", "/api/tickets", tokPatrol, map[string]any{"source": "patrol", "category": "civil",
			"site": "s1", "building": b, "location": "gate", "description": "gate bent"}, nil); status != 201 {
			t.Fatalf("report: %d %s", status, raw)
		}
	}
	status, raw := e.do("GET", "/api/stats?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&format=csv", tokOperator, nil, nil)
	if status != 200 {
		t.Fatalf("csv: %d %s", status, raw)
	}
	rows, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var buildings []string
	for _, row := range rows {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q would be a formula", cell)
			}
		}
		if row[0] == "building" {
			buildings = append(buildings, row[1])
		}
	}
	if !slices.Contains(buildings, `'+cmd|' /C calc'!A0`) || !slices.Contains(buildings, `'=HYPERLINK("http://evil.example","x")`) {
		t.Errorf("buildings %q, want them as text", buildings)
	}
}

// On the WebSocket: a control room connected to the real hub hears
// ticket.recurred, with the count, when an acknowledged alarm comes back.
func TestWSHearsTheRecurrence(t *testing.T) {
	clock := testkit.NewFakeClock(flowT0)
	var svc *ticketing.Service
	e := newEstate(t, HubConfig{}, func(c *Config) {
		var err error
		svc, err = ticketing.Open(context.Background(), ticketing.Config{Path: t.TempDir() + "/caretaker.db", Notifier: c.Hub, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { svc.Close() })
		c.Tickets, c.Alarms, c.NotFound = svc, svc, ticketing.ErrNotFound
	})
	conn := e.mustDial(t, "")
	if m := next(t, conn); m.Type != "snapshot" {
		t.Fatalf("first message %s", m.Type)
	}
	ctx := context.Background()
	first := gasRaise(clock.Now())
	if err := svc.HandleAlarm(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AckAlarm(ctx, ticketing.Actor{Name: "ops1", Role: "operator"}, first.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	first.State, first.Value = rules.Cleared, 4
	if err := svc.HandleAlarm(ctx, first); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if err := svc.HandleAlarm(ctx, gasRaise(clock.Now())); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for {
		m := next(t, conn)
		seen = append(seen, m.Type)
		if m.Type != "ticket.recurred" {
			if len(seen) > 20 {
				t.Fatalf("no ticket.recurred among %v", seen)
			}
			continue
		}
		var tk jsonMap
		if err := json.Unmarshal(m.Data, &tk); err != nil {
			t.Fatal(err)
		}
		if rec, _ := tk["recurrence"].(jsonMap); rec == nil || num(rec["count"]) != 1 || tk["site"] != "s1" {
			t.Fatalf("ticket.recurred data %s", m.Data)
		}
		return
	}
}

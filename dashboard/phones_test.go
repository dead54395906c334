package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// TestReporterPhonesREST: the control room, the manager and the assigned
// technician read the reporter's phone; another technician, a patrol and
// an engineer get the ticket without it (list, ticket, its reports and
// history notes).
func TestReporterPhonesREST(t *testing.T) {
	svc, _, get := searchEstate(t)
	ctx := context.Background()
	ops := ticketing.Actor{Name: "ops1", Role: RoleOperator}
	tk, _, err := svc.Report(ctx, ops, ticketing.Report{Source: ticketing.SourcePhone, Site: "s1", Building: "B1", Location: "B1 lobby",
		Category: "civil", Description: "cracked tile", Reporter: ticketing.Reporter{Name: "Wu", Phone: "13711112222"}})
	if err != nil {
		t.Fatal(err)
	}
	const phone = "13711112222"
	for _, c := range []struct {
		token string
		sees  bool
	}{{tokOperator, true}, {tokManager, true}, {tokAdmin, true}, {tokTech, false}, {tokPatrol, false}, {tokEngineer, false}} {
		for _, path := range []string{"/api/tickets", "/api/tickets/" + strconv.FormatInt(tk.ID, 10)} {
			var body json.RawMessage
			if code, e := get(c.token, path, &body); code != http.StatusOK {
				t.Fatalf("GET %s: %d %+v", path, code, e)
			}
			if got := strings.Contains(string(body), phone); got != c.sees {
				t.Errorf("GET %s as %s: phone shown %v, want %v: %s", path, c.token, got, c.sees, body)
			}
		}
	}
	if _, err := svc.Act(ctx, ops, tk.ID, ticketing.ActionRequest{Action: ticketing.ActAssign, Technician: "tech1"}); err != nil {
		t.Fatal(err)
	}
	var got ticketing.Ticket
	if code, e := get(tokTech, "/api/tickets/"+strconv.FormatInt(tk.ID, 10), &got); code != http.StatusOK || got.Reporter.Phone != phone {
		t.Errorf("the assigned technician: %d %+v, phone %q, want %s", code, e, got.Reporter.Phone, phone)
	}
	var list struct{ Tickets []ticketing.Ticket }
	if code, _ := get(tokTech, "/api/tickets", &list); code != http.StatusOK || len(list.Tickets) != 1 || list.Tickets[0].Reporter.Phone != phone {
		t.Errorf("the assigned technician's list: %+v", list.Tickets)
	}
}

// TestReporterPhonesWS: the snapshot and the events reach a technician
// with the phones of their own tickets only; replayed events too.
func TestReporterPhonesWS(t *testing.T) {
	e := newEstate(t, HubConfig{Replay: 16, Epoch: "life-1"})
	mine := ticketing.Ticket{ID: 1, Number: "BX1", Level: 2, Site: "s1", Status: ticketing.StatusDispatched, Assignee: "tech1",
		Reporter: ticketing.Reporter{Name: "Li", Phone: "13900000001"}}
	theirs := ticketing.Ticket{ID: 2, Number: "BX2", Level: 2, Site: "s1", Status: ticketing.StatusDispatched, Assignee: "tech2",
		Reporter: ticketing.Reporter{Name: "Wu", Phone: "13900000002"}}
	e.tickets.open = []ticketing.Ticket{mine, theirs}
	tech, _, err := e.dial(t, tokTech, false, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := e.mustDial(t, "")
	read := func(conn *websocket.Conn) string {
		t.Helper()
		m := next(t, conn)
		return m.Type + " " + string(m.Data)
	}
	if s := read(tech); !strings.Contains(s, "13900000001") || strings.Contains(s, "13900000002") {
		t.Errorf("technician's snapshot: %s", s)
	}
	if s := read(ops); !strings.Contains(s, "13900000001") || !strings.Contains(s, "13900000002") {
		t.Errorf("operator's snapshot: %s", s)
	}
	notify(e.hub, "ticket.updated", theirs)
	notify(e.hub, "ticket.assigned", map[string]any{"ticket": mine, "site": "s1"})
	if s := read(tech); !strings.HasPrefix(s, "ticket.updated") || strings.Contains(s, "13900000002") || !strings.Contains(s, `"name":"Wu"`) {
		t.Errorf("technician's event of another's ticket: %s", s)
	}
	if s := read(tech); !strings.Contains(s, "13900000001") {
		t.Errorf("technician's event of their own ticket: %s", s)
	}
	if s := read(ops); !strings.Contains(s, "13900000002") {
		t.Errorf("operator's event: %s", s)
	}
	again, _, err := e.dial(t, tokTech, false, "since=0&epoch=life-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := read(again); !strings.HasPrefix(s, "ticket.updated") || strings.Contains(s, "13900000002") {
		t.Errorf("replayed to the technician: %s", s)
	}
	patrol, _, err := e.dial(t, tokPatrol, false, "since=1&epoch=life-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := read(patrol); !strings.HasPrefix(s, "ticket.assigned") || strings.Contains(s, "13900000001") {
		t.Errorf("replayed to a patrol: %s", s)
	}
}

func TestEventPhones(t *testing.T) {
	for _, c := range []struct{ in, assignee, hidden string }{
		{`{"id":1,"assignee":"tech1","reporter":{"name":"Li","phone":"139"}}`, "tech1", `{"assignee":"tech1","id":1,"reporter":{"name":"Li","phone":""}}`},
		{`{"ticket":{"assignee":"tech2","reporters":[{"phone":"1"},{"phone":""}]}}`, "tech2", `{"ticket":{"assignee":"tech2","reporters":[{"phone":""},{"phone":""}]}}`},
		{`{"id":1,"reporter":{"name":"Li","phone":""}}`, "", ""},
		{`{"id":1}`, "", ""},
	} {
		a, h := eventPhones(json.RawMessage(c.in))
		if a != c.assignee || string(h) != c.hidden {
			t.Errorf("eventPhones(%s) = %q, %s; want %q, %s", c.in, a, h, c.assignee, c.hidden)
		}
	}
}

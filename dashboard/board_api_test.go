package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// snapshotOf dials the flow estate's /ws as the operator and decodes the
// snapshot it sends first.
func (e *flowEstate) snapshotOf() struct {
	Alarms  []ticketing.StoredAlarm `json:"alarms"`
	Tickets []ticketing.Ticket      `json:"tickets"`
} {
	e.t.Helper()
	u := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/ws"
	conn, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Authorization": {"Bearer " + tokOperator}})
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	m := next(e.t, conn)
	if m.Type != EventSnapshot {
		e.t.Fatalf("first message %s, want the snapshot", m.Type)
	}
	var snap struct {
		Alarms  []ticketing.StoredAlarm `json:"alarms"`
		Tickets []ticketing.Ticket      `json:"tickets"`
	}
	if err := json.Unmarshal(m.Data, &snap); err != nil {
		e.t.Fatalf("snapshot %s: %v", m.Data, err)
	}
	return snap
}

// TestAPIClearedUnackedAlarmStaysInTheSnapshot: an L1 alarm that clears
// by itself before anyone acknowledged it is still in a new screen's
// snapshot, as cleared_unack; the operator acknowledges it through the
// API (a patrol may not), who and when recorded; then the snapshot no
// longer has it.
func TestAPIClearedUnackedAlarmStaysInTheSnapshot(t *testing.T) {
	e := newFlowEstate(t)
	a := gasRaise(e.clock.Now())
	if err := e.svc.HandleAlarm(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(3 * time.Minute)
	cl := a
	cl.State, cl.Value = rules.Cleared, 2
	if err := e.svc.HandleAlarm(context.Background(), cl); err != nil {
		t.Fatal(err)
	}
	snap := e.snapshotOf()
	if len(snap.Alarms) != 1 || snap.Alarms[0].ID != a.ID || snap.Alarms[0].Status != ticketing.AlarmClearedUnack {
		t.Fatalf("snapshot alarms %+v, want the cleared, unacknowledged gas alarm", snap.Alarms)
	}
	var live struct{ Alarms []ticketing.StoredAlarm }
	if status, raw := e.do("GET", "/api/alarms?state=unacked", tokOperator, nil, &live); status != 200 || len(live.Alarms) != 1 {
		t.Fatalf("unacked alarms: %d %s", status, raw)
	}
	if status, raw := e.do("GET", "/api/alarms?state=nope", tokOperator, nil, nil); status != 400 || !strings.Contains(raw, "unacked") {
		t.Fatalf("bad state: %d %s", status, raw)
	}
	path := "/api/alarms/" + a.ID + "/ack"
	if status, _ := e.do("POST", path, tokPatrol, nil, nil); status != http.StatusForbidden {
		t.Fatalf("patrol acks: %d, want 403", status)
	}
	var acked ticketing.StoredAlarm
	if status, raw := e.do("POST", path, tokOperator, nil, &acked); status != 200 || acked.Status != ticketing.AlarmClearedAck ||
		acked.AckedBy != "ops1" || acked.AckedAt == nil || !acked.AckedAt.Equal(e.clock.Now()) {
		t.Fatalf("ack: %d %s", status, raw)
	}
	if snap := e.snapshotOf(); len(snap.Alarms) != 0 {
		t.Fatalf("acknowledged cleared alarm still in the snapshot: %+v", snap.Alarms)
	}
}

// TestAPIResolveOverActiveAlarm: the API refuses resolving a sensor
// ticket whose alarm is still active (409, field "override", naming the
// alarm), and an override without a reason (400, field "reason"); with
// both the ticket is resolved and the snapshot's alarm says by whom.
func TestAPIResolveOverActiveAlarm(t *testing.T) {
	e := newFlowEstate(t)
	if err := e.svc.HandleAlarm(context.Background(), gasRaise(e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	id := e.snapshotOf().Tickets[0].ID
	e.act(id, tokTech, map[string]any{"action": "claim"}, 200)
	e.act(id, tokTech, map[string]any{"action": "arrive"}, 200)
	_, raw := e.act(id, tokTech, map[string]any{"action": "resolve", "note": "LEL back to 0"}, http.StatusConflict)
	if de := decodeError(t, raw); de.Field != "override" || !strings.Contains(de.Error, "still active") || !strings.Contains(de.Error, "35") {
		t.Fatalf("resolve over the alarm: %s", raw)
	}
	_, raw = e.act(id, tokTech, map[string]any{"action": "resolve", "note": "LEL back to 0", "override": true}, http.StatusBadRequest)
	if decodeError(t, raw).Field != "reason" {
		t.Fatalf("override without reason: %s", raw)
	}
	res, _ := e.act(id, tokTech, map[string]any{"action": "resolve", "note": "valve shut", "override": true,
		"reason": "the detector lags; handheld reads 0"}, 200)
	if res.Status != ticketing.StatusResolved || res.Override == nil || res.Override.By != "tech1" {
		t.Fatalf("resolved %s override %+v", res.Status, res.Override)
	}
	snap := e.snapshotOf()
	if len(snap.Alarms) != 1 || snap.Alarms[0].TicketStatus != ticketing.StatusResolved || snap.Alarms[0].TicketOverride == nil ||
		snap.Alarms[0].TicketOverride.Reason != "the detector lags; handheld reads 0" {
		t.Fatalf("snapshot alarm %+v, want it marked resolved over the alarm", snap.Alarms)
	}
}

// TestAPIDispatchFromTheTechnicians: an unknown name is refused (400,
// field technician); GET /api/tickets/{id}/technicians ranks who may be
// assigned, with duty, skills, zone and open tickets.
func TestAPIDispatchFromTheTechnicians(t *testing.T) {
	e := newFlowEstate(t, func(c *ticketing.Config) {
		c.Dispatch = ticketing.DispatchPool
		c.Technicians = []ticketing.Technician{{Name: "tech1", Skills: []string{"gas"}, Zones: []string{"z1"}, OnDuty: true},
			{Name: "tech2", Skills: []string{"plumbing"}, OnDuty: false}}
	})
	if err := e.svc.HandleAlarm(context.Background(), gasRaise(e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	id := e.snapshotOf().Tickets[0].ID
	_, raw := e.act(id, tokOperator, map[string]any{"action": "assign", "technician": "Wang Gong"}, http.StatusBadRequest)
	if de := decodeError(t, raw); de.Field != "technician" || !strings.Contains(de.Error, "Wang Gong") || !strings.Contains(de.Error, "tech1, tech2") {
		t.Fatalf("unknown technician: %s", raw)
	}
	var c ticketing.Choices
	if status, raw := e.do("GET", fmt.Sprintf("/api/tickets/%d/technicians", id), tokOperator, nil, &c); status != 200 ||
		len(c.Technicians) != 2 || c.Technicians[0].Name != "tech1" || !c.Technicians[0].Best || !c.Technicians[0].OnDuty ||
		c.Technicians[1].OnDuty || c.Technicians[1].Skilled {
		t.Fatalf("technicians: %d %s", status, raw)
	}
	if status, _ := e.do("GET", "/api/tickets/999/technicians", tokOperator, nil, nil); status != http.StatusNotFound {
		t.Fatalf("technicians of an unknown ticket: %d", status)
	}
	e.act(id, tokOperator, map[string]any{"action": "assign", "technician": "tech1"}, 200)
}

// TestAPISnapshotCarriesMissedClocks: a reloaded screen's snapshot has
// the open ticket's missed claim clock, escalated to the supervisor.
func TestAPISnapshotCarriesMissedClocks(t *testing.T) {
	e := newFlowEstate(t)
	if err := e.svc.HandleAlarm(context.Background(), gasRaise(e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(6 * time.Minute)
	e.tick()
	tk := e.snapshotOf().Tickets[0]
	if tk.Escalated == nil || tk.Escalated.Clock != "claim" || tk.Escalated.To != "supervisor" {
		t.Fatalf("snapshot ticket escalated %+v", tk.Escalated)
	}
	var missed bool
	for _, d := range tk.Deadlines {
		if d.Clock == "claim" && d.DueAt.Before(e.clock.Now()) && d.Escalations == 1 {
			missed = true
		}
	}
	if !missed {
		t.Fatalf("snapshot clocks %+v, want the missed claim clock", tk.Deadlines)
	}
}

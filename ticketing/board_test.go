package ticketing

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/rules"
)

// leakAlarm is wl-b1-01 getting wet at the fixture's current time.
func leakAlarm(f *fixture) rules.Alarm {
	at := f.clock.Now()
	return rules.Alarm{
		ID: rules.AlarmID("leak-basement", "wl-b1-01", at), RuleID: "leak-basement", RuleName: "Water leak",
		Device: "wl-b1-01", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1", Location: "B1 pump room",
		Metric: "leak", Severity: rules.Critical, Level: 1, State: rules.Raised, Value: 1, Peak: 1,
		Message: "leak is true", RaisedAt: at,
	}
}

func alarmIDs(list []StoredAlarm) []string {
	out := []string{}
	for _, a := range list {
		out = append(out, a.ID+"="+a.Status)
	}
	slices.Sort(out)
	return out
}

// TestAlarmStatusesAndTheLiveList: an alarm is active_unack, then
// active_ack once acknowledged; one that clears unacknowledged is
// cleared_unack and stays in the live list (what a screen shows after a
// reload) until someone acknowledges it, who and when recorded; then it
// is cleared_ack and leaves it.
func TestAlarmStatusesAndTheLiveList(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	gas, leak := gasAlarm(f, 35), leakAlarm(f)
	mustHandle(t, f, gas)
	mustHandle(t, f, leak)
	if _, err := f.svc.AckAlarm(ctx, operator, gas.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	cl := leak
	cl.State, cl.Value = rules.Cleared, 0
	mustHandle(t, f, cl)

	list := func(state string) []string {
		t.Helper()
		l, err := f.svc.Alarms(ctx, state)
		if err != nil {
			t.Fatalf("Alarms(%q): %v", state, err)
		}
		return alarmIDs(l)
	}
	tests := []struct {
		state string
		want  []string
	}{
		{AlarmsLive, []string{gas.ID + "=active_ack", leak.ID + "=cleared_unack"}},
		{AlarmsUnacked, []string{leak.ID + "=cleared_unack"}},
		{AlarmsActive, []string{gas.ID + "=active_ack"}},
		{AlarmsCleared, []string{leak.ID + "=cleared_unack"}},
	}
	for _, tc := range tests {
		if got := list(tc.state); !slices.Equal(got, tc.want) {
			t.Errorf("before the ack, Alarms(%q) = %v, want %v", tc.state, got, tc.want)
		}
	}

	f.clock.Advance(time.Minute)
	acked, err := f.svc.AckAlarm(ctx, operator, leak.ID)
	if err != nil {
		t.Fatal(err)
	}
	if acked.Status != AlarmClearedAck || acked.AckedBy != "ops1" || acked.AckedAt == nil || !acked.AckedAt.Equal(f.clock.Now()) {
		t.Fatalf("acknowledged cleared alarm: %+v", acked)
	}
	if got, want := list(AlarmsLive), []string{gas.ID + "=active_ack"}; !slices.Equal(got, want) {
		t.Errorf("after the ack, live = %v, want %v", got, want)
	}
	tk := mustGet(t, f, acked.TicketID)
	if i := slices.IndexFunc(tk.History, func(h HistoryEntry) bool { return h.Action == "alarm_acked" && h.Actor == "ops1" }); i < 0 {
		t.Errorf("ticket history has no acknowledgement by ops1: %v", actions(tk.History))
	}
}

// TestResolveOverActiveAlarm: resolving a sensor ticket whose alarm is
// still active is refused without an override (a clear reason naming
// the alarm and its value, field "override"), and without a reason with
// it; with both it is resolved, and the ticket, its history and its
// alarm say who overrode, when and why.
func TestResolveOverActiveAlarm(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	gas := gasAlarm(f, 35)
	mustHandle(t, f, gas)
	id := mustOpenTickets(t, f)[0].ID
	mustAct(t, f, tech1, id, ActionRequest{Action: ActClaim})
	mustAct(t, f, tech1, id, ActionRequest{Action: ActArrive})

	_, err := f.svc.Act(ctx, tech1, id, ActionRequest{Action: ActResolve, Note: "LEL back to 0"})
	var ae *ActionError
	if !errors.As(err, &ae) || !errors.Is(err, ErrIllegal) || ae.Field != "override" ||
		!strings.Contains(err.Error(), "still active") || !strings.Contains(err.Error(), "35") {
		t.Fatalf("resolve over the active alarm: %v, want ErrIllegal naming override, the alarm and its value", err)
	}
	_, err = f.svc.Act(ctx, tech1, id, ActionRequest{Action: ActResolve, Note: "LEL back to 0", Override: true})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "reason" {
		t.Fatalf("override without a reason: %v, want a field error on reason", err)
	}
	if got := mustGet(t, f, id); got.Status != StatusOnSite || got.Override != nil {
		t.Fatalf("refused resolves changed the ticket: %s %+v", got.Status, got.Override)
	}

	f.clock.Advance(time.Minute)
	res := mustAct(t, f, tech1, id, ActionRequest{Action: ActResolve, Note: "valve shut, room aired",
		Override: true, Reason: "detector is slow to fall; handheld reads 0"})
	if res.Status != StatusResolved || res.Override == nil || res.Override.By != "tech1" ||
		res.Override.Reason != "detector is slow to fall; handheld reads 0" || !res.Override.At.Equal(f.clock.Now()) {
		t.Fatalf("resolved with override: %s %+v", res.Status, res.Override)
	}
	i := slices.IndexFunc(res.History, func(h HistoryEntry) bool { return h.Action == "resolve_override" })
	if i < 0 || !strings.Contains(res.History[i].Note, "still active") || !strings.Contains(res.History[i].Note, "handheld reads 0") {
		t.Fatalf("history %v has no override note", actions(res.History))
	}
	live, err := f.svc.Alarms(ctx, AlarmsLive)
	if err != nil || len(live) != 1 {
		t.Fatalf("live alarms: %v %v", live, err)
	}
	if a := live[0]; a.TicketStatus != StatusResolved || a.TicketOverride == nil || a.TicketOverride.By != "tech1" {
		t.Fatalf("the alarm does not show the override: %s %+v", a.TicketStatus, a.TicketOverride)
	}

	// Once the alarm has cleared, no override is needed (and none recorded).
	f.clock.Advance(time.Hour)
	mustHandle(t, f, leakAlarm(f))
	leakID := mustOpenTickets(t, f)[0].ID
	cl := leakAlarm(f)
	cl.ID = mustGet(t, f, leakID).AlarmID
	cl.State = rules.Cleared
	mustHandle(t, f, cl)
	mustAct(t, f, tech1, leakID, ActionRequest{Action: ActClaim})
	mustAct(t, f, tech1, leakID, ActionRequest{Action: ActArrive})
	if res := mustAct(t, f, tech1, leakID, ActionRequest{Action: ActResolve, Note: "pump fixed"}); res.Override != nil {
		t.Fatalf("override recorded for a cleared alarm: %+v", res.Override)
	}
}

// TestAssignChoosesFromTheTechnicians: with technicians (and people who
// may be assigned by hand) configured, a name that is none of them is
// refused, naming who may be; Candidates ranks them for a ticket (on
// duty, skilled, in zone, fewest open) and says what auto-dispatch did.
func TestAssignChoosesFromTheTechnicians(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *Config) {
		c.Dispatch = DispatchPool
		c.Technicians = []Technician{
			{Name: "li", Skills: []string{"gas"}, Zones: []string{"z1"}, OnDuty: true},
			{Name: "zhao", Skills: []string{"plumbing"}, Zones: []string{"z1"}, OnDuty: true},
			{Name: "chen", Skills: []string{"gas"}, Zones: []string{"z2"}, OnDuty: false},
		}
		c.Assignable = []Technician{{Name: "wu"}}
		c.Zones = func(site, building, device string) string { return "z1" }
	})
	mustHandle(t, f, gasAlarm(f, 35))
	id := mustOpenTickets(t, f)[0].ID

	_, err := f.svc.Act(ctx, operator, id, ActionRequest{Action: ActAssign, Technician: "Wang Gong"})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "technician" || !strings.Contains(fe.Message, `"Wang Gong" is not one of the technicians`) ||
		!strings.Contains(fe.Message, "chen, li, wu, zhao") {
		t.Fatalf("assign an unknown name: %v", err)
	}
	if tk := mustGet(t, f, id); tk.Status != StatusNew || tk.Assignee != "" {
		t.Fatalf("refused assign changed the ticket: %s %q", tk.Status, tk.Assignee)
	}

	c, err := f.svc.Candidates(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ch := range c.Technicians {
		names = append(names, ch.Name)
	}
	// li: on duty, gas, z1. wu: no roster skills (any), not on duty by flag.
	if want := []string{"li", "zhao", "chen", "wu"}; !slices.Equal(names, want) {
		t.Fatalf("candidates %v, want %v (%+v)", names, want, c.Technicians)
	}
	if first := c.Technicians[0]; !first.Best || !first.OnDuty || !first.Skilled || !first.InZone || c.Zone != "z1" || c.Category != "gas" {
		t.Fatalf("best candidate %+v in %+v", first, c)
	}
	if c.Technicians[1].Skilled || c.Technicians[1].Best {
		t.Fatalf("zhao has no gas skill: %+v", c.Technicians[1])
	}
	mustAct(t, f, operator, id, ActionRequest{Action: ActAssign, Technician: "wu"})
	if c, _ := f.svc.Candidates(ctx, id); c.Technicians[len(c.Technicians)-1].Open != 1 {
		t.Fatalf("wu's open tickets not counted: %+v", c.Technicians)
	}
}

// TestCandidatesSayWhatAutoDispatchDid: the auto-dispatch note of the
// ticket comes with its candidates.
func TestCandidatesSayWhatAutoDispatchDid(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Technicians = []Technician{{Name: "li", Skills: []string{"gas"}, OnDuty: true}}
	})
	mustHandle(t, f, gasAlarm(f, 35))
	c, err := f.svc.Candidates(context.Background(), mustOpenTickets(t, f)[0].ID)
	if err != nil || !strings.HasPrefix(c.Auto, "auto-dispatched to li") {
		t.Fatalf("candidates %+v, %v: want the auto-dispatch note", c, err)
	}
}

// TestOpenTicketsCarryClocksAndEscalations: the open tickets (a screen's
// snapshot) carry their clocks not yet met, warned or not, and where a
// missed one was escalated to, so a reload shows a missed claim as missed
// and escalated to the supervisor, not as time left on another clock.
func TestOpenTicketsCarryClocksAndEscalations(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	mustHandle(t, f, gasAlarm(f, 35))
	f.clock.Advance(6 * time.Minute) // past the 5 min claim limit, within the 15 min dispatch one
	if err := f.svc.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	tk := mustOpenTickets(t, f)[0]
	clocks := map[string]Deadline{}
	for _, d := range tk.Deadlines {
		clocks[d.Clock] = d
	}
	claim, dispatch := clocks[clockClaim], clocks[clockDispatch]
	if claim.Escalations != 1 || !claim.DueAt.Before(f.clock.Now()) || claim.MetAt != nil {
		t.Fatalf("claim clock %+v in %+v", claim, tk.Deadlines)
	}
	if dispatch.Escalations != 0 || !dispatch.DueAt.After(f.clock.Now()) {
		t.Fatalf("dispatch clock %+v", dispatch)
	}
	if e := tk.Escalated; e == nil || e.Clock != clockClaim || e.To != ChainSupervisor || e.Step != 1 || !e.DueAt.Equal(claim.DueAt) {
		t.Fatalf("escalated %+v, want the claim clock to the supervisor, step 1", tk.Escalated)
	}
	// An operator assigns it: the claim clock is planned anew for the
	// assignee, the dispatch one met; the escalation is over.
	mustAct(t, f, operator, tk.ID, ActionRequest{Action: ActAssign, Technician: "tech1"})
	tk = mustOpenTickets(t, f)[0]
	if tk.Escalated != nil {
		t.Fatalf("escalation after a fresh claim clock: %+v", tk.Escalated)
	}
	for _, d := range tk.Deadlines {
		if d.Clock == clockDispatch {
			t.Fatalf("met dispatch clock still listed: %+v", tk.Deadlines)
		}
	}
}

package ticketing

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLowCallbackScoreOpensLinkedReworkTicket(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tk, _, err := f.svc.Report(ctx, operator, inHome())
	if err != nil {
		t.Fatal(err)
	}
	mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActClaim})
	mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActArrive, Code: tk.VerificationCode})
	mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActResolve, Note: "new washer"})
	f.rec.reset()

	f.clock.Advance(3 * time.Hour)
	res := mustAct(t, f, operator, tk.ID, ActionRequest{Action: ActCallback, Score: 2, Note: "still drips at night"})
	if res.Status != StatusClosed || res.Outcome != OutcomeRework || res.Score == nil || *res.Score != 2 {
		t.Fatalf("original after callback: %s %s score %v", res.Status, res.Outcome, res.Score)
	}
	re := res.Opened
	if re == nil || re.ReworkOf != tk.ID || re.Status != StatusNew || re.Scope != ScopeInHome || re.Room != "1201" ||
		!strings.Contains(re.Description, "rework of "+tk.Number) || len(re.VerificationCode) != 6 {
		t.Fatalf("rework ticket %+v", re)
	}
	if !strings.Contains(res.History[len(res.History)-1].Note, "rework ticket "+re.Number) {
		t.Errorf("original history does not name the rework: %+v", res.History[len(res.History)-1])
	}
	if got := f.rec.types(); !slices.Equal(got, []string{EventTicketUpdated, EventTicketCreated}) {
		t.Errorf("events %v", got)
	}
	// The callback clock of the original is met; a second callback is refused.
	if _, err := f.svc.Act(ctx, operator, tk.ID, ActionRequest{Action: ActCallback, Score: 5}); !errors.Is(err, ErrIllegal) {
		t.Errorf("second callback: %v", err)
	}
	// A later report of the same home and fault joins the rework ticket.
	again, merged, err := f.svc.Report(ctx, operator, inHome())
	if err != nil || !merged || again.ID != re.ID {
		t.Errorf("report after rework: merged %v into %d (err %v), want %d", merged, again.ID, err, re.ID)
	}
}

func TestCallbackOutcomes(t *testing.T) {
	f := newFixture(t)
	no := false
	for _, c := range []struct {
		name       string
		req        ActionRequest
		wantRework bool
	}{
		{"score 4", ActionRequest{Action: ActCallback, Score: 4}, false},
		{"score 3", ActionRequest{Action: ActCallback, Score: 3}, true},
		{"score 5 but not fixed", ActionRequest{Action: ActCallback, Score: 5, Fixed: &no}, true},
	} {
		id := ticketIn(t, f, StatusResolved)
		res := mustAct(t, f, operator, id, c.req)
		if (res.Opened != nil) != c.wantRework || (res.Opened != nil && res.Opened.ReworkOf != id) {
			t.Errorf("%s: opened %+v, want rework %v", c.name, res.Opened, c.wantRework)
		}
		if want := map[bool]string{true: OutcomeRework, false: OutcomeConfirmed}[c.wantRework]; res.Outcome != want {
			t.Errorf("%s: outcome %q, want %q", c.name, res.Outcome, want)
		}
	}
}

func TestDisputeOpensReinspectionWithin48h(t *testing.T) {
	f := newFixture(t)
	id := ticketIn(t, f, StatusResolved)
	f.clock.Advance(time.Hour)
	res := mustAct(t, f, operator, id, ActionRequest{Action: ActDispute, Reason: "light flickers"})
	if res.Status != StatusClosed || res.Outcome != OutcomeDisputed || res.Opened == nil || res.Opened.ReinspectionOf != id {
		t.Fatalf("dispute: %s %s opened %+v", res.Status, res.Outcome, res.Opened)
	}
	var arrive *Deadline
	for _, d := range res.Opened.Deadlines {
		if d.Clock == clockArrive {
			arrive = &d
		}
	}
	if arrive == nil || !arrive.DueAt.Equal(f.clock.Now().Add(48*time.Hour)) {
		t.Fatalf("re-inspection arrive clock %+v, want due in 48h", arrive)
	}
	// The re-inspection's arrive limit escalates when missed.
	f.rec.reset()
	f.clock.Advance(48 * time.Hour)
	tick(t, f)
	found := false
	for _, e := range f.rec.eventsOf(EventTicketEscalated) {
		if ce := e.(ClockEvent); ce.TicketID == res.Opened.ID && ce.Clock == clockArrive {
			found = true
		}
	}
	if !found {
		t.Errorf("re-inspection not escalated at 48h: %v", clockEvents(f))
	}
}

func TestMissedCallbackEscalates(t *testing.T) {
	f := newFixture(t)
	id := ticketIn(t, f, StatusResolved)
	f.rec.reset()
	f.clock.Advance(24 * time.Hour)
	tick(t, f)
	found := false
	for _, e := range f.rec.eventsOf(EventTicketEscalated) {
		if ce := e.(ClockEvent); ce.TicketID == id && ce.Clock == clockCallback {
			found = true
		}
	}
	if !found {
		t.Fatalf("no callback escalation after 24h: %v", clockEvents(f))
	}
}

func TestResidentReportAttachesToOpenSensorTicket(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mustHandle(t, f, gasAlarm(f, 35))
	sensor := mustOpenTickets(t, f)[0]
	f.clock.Advance(90 * time.Second)
	r := Report{Source: SourceResident, Category: "gas", Site: "s1", Building: "B2", Location: "B2 boiler room",
		Description: "smell of gas near the boiler room", Reporter: Reporter{Name: "Chen", Phone: "137"}}
	tk, merged, err := f.svc.Report(ctx, operator, r)
	if err != nil || !merged || tk.ID != sensor.ID {
		t.Fatalf("resident report: merged %v into %d (err %v), want the sensor ticket %d", merged, tk.ID, err, sensor.ID)
	}
	if n := len(mustOpenTickets(t, f)); n != 1 {
		t.Errorf("%d open tickets", n)
	}
	last := tk.History[len(tk.History)-1]
	if last.Action != "report_merged" || !strings.Contains(last.Note, "Chen") {
		t.Errorf("merged report in history: %+v", last)
	}
}

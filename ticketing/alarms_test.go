package ticketing

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/sqldb"
	"github.com/caretaker-iot/caretaker/rules"
)

var numberRE = regexp.MustCompile(`^BX20261123-\d{4}$`)

func TestRaisedAlarmOpensOneL1SensorTicket(t *testing.T) {
	f := newFixture(t)
	a := gasAlarm(f, 35)
	mustHandle(t, f, a)

	open := mustOpenTickets(t, f)
	if len(open) != 1 {
		t.Fatalf("%d open tickets, want 1", len(open))
	}
	tk := mustGet(t, f, open[0].ID)
	want := Ticket{Source: SourceSensor, Status: StatusNew, Level: 1, Category: "gas", Site: "s1", Building: "B2",
		Location: "B2 boiler room", Scope: ScopePublic, DeviceID: "gas-b2-07", AlarmID: a.ID, Description: a.Message}
	got := tk
	got.ID, got.Number, got.CreatedBy, got.CreatedAt, got.UpdatedAt, got.History = 0, "", "", time.Time{}, time.Time{}, nil
	got.FirstReportedAt, got.Deadlines, got.Photos = time.Time{}, nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ticket\n got %+v\nwant %+v", got, want)
	}
	if tk.Number != "BX20261123-0001" {
		t.Errorf("number %q, want BX20261123-0001 (local date in UTC+8)", tk.Number)
	}
	if !tk.CreatedAt.Equal(t0) {
		t.Errorf("created_at %v, want the injected clock %v", tk.CreatedAt, t0)
	}
	if len(tk.History) != 1 || tk.History[0].Action != "created" || tk.History[0].Role != "system" {
		t.Errorf("history %+v, want one created entry by the system", tk.History)
	}
	alarms, err := f.svc.Alarms(context.Background(), AlarmsActive)
	if err != nil {
		t.Fatal(err)
	}
	if len(alarms) != 1 || alarms[0].TicketID != tk.ID || alarms[0].TicketNumber != tk.Number || alarms[0].Acked {
		t.Fatalf("active alarms %+v, want the alarm linked to ticket %d", alarms, tk.ID)
	}
	if got := f.rec.types(); !slices.Equal(got, []string{EventAlarmRaised, EventTicketCreated}) {
		t.Errorf("events %v", got)
	}
}

func TestReplayedRaiseIsANoOp(t *testing.T) {
	f := newFixture(t)
	a := gasAlarm(f, 35)
	mustHandle(t, f, a)
	f.clock.Advance(time.Second)
	mustHandle(t, f, a)

	if n := len(mustOpenTickets(t, f)); n != 1 {
		t.Fatalf("%d open tickets after a replayed raise, want 1", n)
	}
	if got := f.rec.types(); !slices.Equal(got, []string{EventAlarmRaised, EventTicketCreated}) {
		t.Errorf("events %v, want one raise and one ticket", got)
	}
	if h := mustGet(t, f, mustOpenTickets(t, f)[0].ID).History; len(h) != 1 {
		t.Errorf("history %+v, want only created", h)
	}
}

func TestConcurrentRaisesOfOneIncidentOpenOneTicket(t *testing.T) {
	f := newFixture(t)
	const n = 8
	base := gasAlarm(f, 30)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		a := base
		a.RaisedAt = base.RaisedAt.Add(time.Duration(i) * time.Millisecond)
		a.ID = rules.AlarmID(a.RuleID, a.Device, a.RaisedAt)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- f.svc.HandleAlarm(context.Background(), a)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("HandleAlarm: %v", err)
		}
	}
	open := mustOpenTickets(t, f)
	if len(open) != 1 {
		t.Fatalf("%d open tickets from %d concurrent raises, want 1", len(open), n)
	}
	alarms, err := f.svc.Alarms(context.Background(), AlarmsAll)
	if err != nil {
		t.Fatal(err)
	}
	if len(alarms) != n {
		t.Fatalf("%d alarms stored, want %d", len(alarms), n)
	}
	for _, a := range alarms {
		if a.TicketID != open[0].ID {
			t.Errorf("alarm %s on ticket %d, want %d", a.ID, a.TicketID, open[0].ID)
		}
	}
	h := actions(mustGet(t, f, open[0].ID).History)
	if h[0] != "created" || len(h) != n {
		t.Errorf("history %v, want created then %d alarm_attached", h, n-1)
	}
	types := f.rec.types()
	if c := strings.Count(strings.Join(types, " "), EventTicketCreated); c != 1 {
		t.Errorf("%d ticket.created events, want 1: %v", c, types)
	}
}

// The database itself, not only the Go code, refuses a second open ticket
// for one incident.
func TestUniqueIndexRefusesSecondOpenTicketOfAnIncident(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		mustHandle(t, f, gasAlarm(f, 35))
		_, err := f.svc.db.Exec(`INSERT INTO tickets (source, status, level, category, site, building, scope,
		description, created_by, incident_key, created_at, updated_at)
		VALUES ('sensor', 'dispatched', 1, 'gas', 's1', 'B2', 'public', 'dup', 'x', 'device:gas-b2-07:lel_pct', 0, 0)`)
		if !sqldb.IsUniqueViolation(err) {
			t.Fatalf("second open ticket of the incident: err %v, want a unique violation", err)
		}
	})
}

func TestRaiseWithinReopenWindowReopensTicket(t *testing.T) {
	f := newFixture(t)
	mustHandle(t, f, gasAlarm(f, 35))
	first := mustOpenTickets(t, f)[0]
	resolveTicket(t, f, first.ID, "valve replaced")
	f.rec.reset()

	f.clock.Advance(10 * time.Minute)
	again := gasAlarm(f, 28)
	mustHandle(t, f, again)
	tk := mustGet(t, f, first.ID)
	if tk.Status != StatusNew || tk.AlarmID != again.ID {
		t.Fatalf("after a raise within the window: status %s alarm %s, want new and %s", tk.Status, tk.AlarmID, again.ID)
	}
	if h := actions(tk.History); h[len(h)-1] != "reopened" {
		t.Errorf("history %v, want reopened last", h)
	}
	if n := len(mustOpenTickets(t, f)); n != 1 {
		t.Errorf("%d open tickets, want the reopened one only", n)
	}
	if got := f.rec.types(); !slices.Equal(got, []string{EventAlarmRaised, EventTicketUpdated}) {
		t.Errorf("events %v", got)
	}

	// Resolved again, and the fault comes back after the window: new ticket.
	resolveTicket(t, f, first.ID, "valve replaced again")
	mustAct(t, f, operator, first.ID, ActionRequest{Action: ActConfirm})
	f.clock.Advance(DefaultReopenWindow + time.Second)
	mustHandle(t, f, gasAlarm(f, 40))
	open := mustOpenTickets(t, f)
	if len(open) != 1 || open[0].ID == first.ID || open[0].Number != "BX20261123-0002" {
		t.Fatalf("after the window: open %+v, want a new ticket BX20261123-0002", open)
	}
}

func TestClearedAlarmLeavesTicketOpenWithHistory(t *testing.T) {
	f := newFixture(t)
	a := gasAlarm(f, 25)
	mustHandle(t, f, a)
	f.clock.Advance(5 * time.Second)
	up := a
	up.State, up.Value, up.Peak = rules.Updated, 41.5, 41.5
	mustHandle(t, f, up)
	f.clock.Advance(time.Minute)
	cl := a
	clearedAt := f.clock.Now()
	cl.State, cl.Value, cl.Peak, cl.ClearedAt = rules.Cleared, 12, 41.5, &clearedAt
	mustHandle(t, f, cl)
	mustHandle(t, f, cl) // a replayed clear changes nothing

	open := mustOpenTickets(t, f)
	if len(open) != 1 || open[0].Status != StatusNew {
		t.Fatalf("open tickets %+v, want the ticket still new", open)
	}
	h := mustGet(t, f, open[0].ID).History
	last := h[len(h)-1]
	if last.Action != "alarm_cleared" || !strings.Contains(last.Note, "cleared at 2026-11-23T01:01:05+08:00") ||
		!strings.Contains(last.Note, "peak 41.5") {
		t.Errorf("last history %+v, want the clear with its time and peak", last)
	}
	cleared, err := f.svc.Alarms(context.Background(), AlarmsCleared)
	if err != nil {
		t.Fatal(err)
	}
	if len(cleared) != 1 || cleared[0].State != rules.Cleared || cleared[0].ClearedAt == nil ||
		!cleared[0].ClearedAt.Equal(clearedAt) || cleared[0].Peak != 41.5 {
		t.Fatalf("cleared alarms %+v", cleared)
	}
	if active, _ := f.svc.Alarms(context.Background(), AlarmsActive); len(active) != 0 {
		t.Errorf("active alarms after clear: %+v", active)
	}
	want := []string{EventAlarmRaised, EventTicketCreated, EventAlarmUpdated, EventAlarmCleared}
	if got := f.rec.types(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestShadowAlarmOpensNoTicket(t *testing.T) {
	f := newFixture(t)
	a := gasAlarm(f, 35)
	a.Shadow = true
	mustHandle(t, f, a)
	if n := len(mustOpenTickets(t, f)); n != 0 {
		t.Fatalf("%d tickets from a shadow alarm", n)
	}
	if got := f.rec.types(); !slices.Equal(got, []string{EventAlarmRaised}) {
		t.Errorf("events %v", got)
	}
}

func TestAckAlarm(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := gasAlarm(f, 35)
	mustHandle(t, f, a)
	f.rec.reset()
	f.clock.Advance(30 * time.Second)

	got, err := f.svc.AckAlarm(ctx, operator, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Acked || got.AckedBy != "ops1" || got.AckedAt == nil || !got.AckedAt.Equal(f.clock.Now()) {
		t.Fatalf("acked alarm %+v", got)
	}
	if _, err := f.svc.AckAlarm(ctx, Actor{"ops2", "operator"}, a.ID); err != nil {
		t.Fatalf("second ack: %v", err)
	}
	if got := f.rec.types(); !slices.Equal(got, []string{EventAlarmAcked}) {
		t.Errorf("events %v, want one alarm.acked", got)
	}
	h := mustGet(t, f, got.TicketID).History
	if h[len(h)-1].Action != "alarm_acked" || h[len(h)-1].Actor != "ops1" || len(h) != 2 {
		t.Errorf("history %+v", h)
	}
	if _, err := f.svc.AckAlarm(ctx, operator, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ack of an unknown alarm: %v, want ErrNotFound", err)
	}
	if acked, _ := f.svc.Alarms(ctx, AlarmsAcked); len(acked) != 1 {
		t.Errorf("acked alarms %+v", acked)
	}
	var fe *FieldError
	if _, err := f.svc.Alarms(ctx, "bogus"); !errors.As(err, &fe) || fe.Field != "state" {
		t.Errorf("Alarms(bogus): %v, want a FieldError on state", err)
	}
}

func TestBadAlarmIsAnError(t *testing.T) {
	f := newFixture(t)
	a := gasAlarm(f, 35)
	a.State = "exploded"
	if err := f.svc.HandleAlarm(context.Background(), a); err == nil {
		t.Error("unknown state accepted")
	}
	a = gasAlarm(f, 35)
	a.ID = ""
	if err := f.svc.HandleAlarm(context.Background(), a); err == nil {
		t.Error("alarm without id accepted")
	}
}

// The whole life of an incident as the dashboard hears it.
func TestNotifierHearsTheIncidentInOrder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := gasAlarm(f, 35)
	mustHandle(t, f, a)
	up := a
	up.State, up.Value, up.Peak = rules.Updated, 45, 45
	mustHandle(t, f, up)
	if _, err := f.svc.AckAlarm(ctx, operator, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, merged, err := f.svc.Report(ctx, Actor{"desk1", "operator"}, Report{Source: SourcePhone, Category: "gas",
		Site: "s1", Building: "B2", Location: "B2 boiler room", Description: "resident smells gas near the boiler room"}); err != nil || !merged {
		t.Fatalf("report: merged %v err %v", merged, err)
	}
	cl := a
	cl.State, cl.Value = rules.Cleared, 10
	mustHandle(t, f, cl)

	want := []string{EventAlarmRaised, EventTicketCreated, EventAlarmUpdated, EventAlarmAcked, EventTicketUpdated, EventAlarmCleared}
	if got := f.rec.types(); !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	if sa, ok := f.rec.events[0].Data.(StoredAlarm); !ok || sa.ID != a.ID || sa.TicketNumber == "" {
		t.Errorf("alarm.raised data %#v", f.rec.events[0].Data)
	}
	if tk, ok := f.rec.events[1].Data.(Ticket); !ok || tk.AlarmID != a.ID || tk.History != nil {
		t.Errorf("ticket.created data %#v", f.rec.events[1].Data)
	}
	if sa, ok := f.rec.events[2].Data.(StoredAlarm); !ok || sa.Value != 45 || sa.State != rules.Updated {
		t.Errorf("alarm.updated data %#v", f.rec.events[2].Data)
	}
	if sa, ok := f.rec.events[5].Data.(StoredAlarm); !ok || sa.State != rules.Cleared || !sa.Acked {
		t.Errorf("alarm.cleared data %#v", f.rec.events[5].Data)
	}
}

// Gas passing the pre-alarm level and then the alarm level is one
// incident: the L2 ticket the warning opened rises to L1, no second ticket.
func TestRulesOnOneMetricShareOneTicket(t *testing.T) {
	f := newFixture(t)
	warn := gasAlarm(f, 12)
	warn.RuleID, warn.ID, warn.Severity, warn.Level = "gas-lel-warning", "gas-lel-warning:gas-b2-07:1", rules.Major, 2
	mustHandle(t, f, warn)
	mustHandle(t, f, gasAlarm(f, 35))
	list, err := f.svc.List(context.Background(), Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Level != 1 {
		t.Fatalf("tickets = %+v, want one L1 ticket", list)
	}
	if critical := gasAlarm(f, 35); list[0].AlarmID != critical.ID || list[0].Description != critical.Message {
		t.Fatalf("ticket still about the warning: %+v", list[0])
	}
}

// A trend alarm's predicted crossing and a flapping mark are kept.
func TestAlarmKeepsPredictionAndFlapping(t *testing.T) {
	f := newFixture(t)
	a := gasAlarm(f, 35)
	when := a.RaisedAt.Add(6 * time.Hour).UTC().Truncate(time.Millisecond)
	a.PredictedAt = &when
	mustHandle(t, f, a)
	a.State, a.Flapping = rules.Updated, true
	mustHandle(t, f, a)
	got, err := f.svc.Alarms(context.Background(), AlarmsActive)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Flapping || got[0].PredictedAt == nil || !got[0].PredictedAt.Equal(when) {
		t.Fatalf("alarms = %+v", got)
	}
}

// The ticket of a gas alarm says the worst reading of the episode, not
// the first one over the threshold: 22.9 when raised, 35 at its peak,
// and a lower reading after the peak changes nothing.
func TestSensorTicketKeepsThePeak(t *testing.T) {
	f := newFixture(t)
	a := gasAlarm(f, 22.9)
	mustHandle(t, f, a)
	up := a
	up.State, up.Value, up.Peak, up.Message = rules.Updated, 35, 35, "lel_pct 35.0 >= 20"
	f.rec.reset()
	mustHandle(t, f, up)
	open := mustOpenTickets(t, f)
	if len(open) != 1 || open[0].Description != "lel_pct 35.0 >= 20" {
		t.Fatalf("open tickets %+v: want the peak's description", open)
	}
	if got := f.rec.types(); !slices.Equal(got, []string{EventAlarmUpdated, EventTicketUpdated}) {
		t.Errorf("events %v: the board hears of the new peak", got)
	}
	f.rec.reset()
	same := up
	same.Value = 30 // below the peak: the message stays the peak's
	mustHandle(t, f, same)
	if got := f.rec.types(); !slices.Equal(got, []string{EventAlarmUpdated}) {
		t.Errorf("events %v: nothing new for the ticket", got)
	}
	// A report's ticket that an alarm joined keeps the reporter's words.
	g := newFixture(t)
	rep, _, err := g.svc.Report(context.Background(), Actor{Name: "pat1", Role: RolePatrol}, Report{Source: SourcePatrol,
		Category: "gas", Site: "s1", Building: "B2", Location: "B2 boiler room", Scope: ScopePublic, DeviceID: "gas-b2-07",
		Description: "smells of gas", Reporter: Reporter{Name: "pat1"}})
	if err != nil {
		t.Fatal(err)
	}
	b := gasAlarm(g, 22.9)
	mustHandle(t, g, b)
	bu := b
	bu.State, bu.Peak, bu.Message = rules.Updated, 35, "lel_pct 35.0 >= 20"
	mustHandle(t, g, bu)
	if tk := mustGet(t, g, rep.ID); tk.Description != "smells of gas" {
		t.Errorf("report's description %q", tk.Description)
	}
}

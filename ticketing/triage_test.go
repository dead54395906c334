package ticketing

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/rules"
)

// warnAlarm is gas-b2-07 over the pre-alarm level (L2) at the fixture's
// current time: the incident of gasAlarm.
func warnAlarm(f *fixture, value float64) rules.Alarm {
	a := gasAlarm(f, value)
	a.RuleID, a.RuleName, a.Severity, a.Level = "gas-lel-warning", "Gas above pre-alarm level", rules.Major, 2
	a.ID = rules.AlarmID(a.RuleID, a.Device, f.clock.Now())
	return a
}

func mustQueue(t *testing.T, f *fixture) []TriageItem {
	t.Helper()
	q, err := f.svc.TriageQueue(context.Background())
	if err != nil {
		t.Fatalf("TriageQueue: %v", err)
	}
	return q
}

func queueIDs(q []TriageItem) []string {
	out := make([]string, len(q))
	for i, it := range q {
		out[i] = it.Alarm.ID + " " + it.State
	}
	return out
}

func mustTriage(t *testing.T, f *fixture, by Actor, id string, req TriageRequest) TriageItem {
	t.Helper()
	it, err := f.svc.TriageAlarm(context.Background(), by, id, req)
	if err != nil {
		t.Fatalf("%s %s alarm %s: %v", by.Name, req.Action, id, err)
	}
	return it
}

// TestTriageQueuesAlarmsBelowLevel1: an L2 or L3 alarm waits in the
// triage queue (no ticket, "triage.queued"); level 1, a rule that opens
// its ticket by itself, a rule that commands devices, and a shadow trial
// do not queue.
func TestTriageQueuesAlarmsBelowLevel1(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		l2 := warnAlarm(f, 12)
		mustHandle(t, f, l2)
		l3 := warnAlarm(f, 0)
		l3.RuleID, l3.Device, l3.Metric, l3.Severity, l3.Level = "gas-lel-stuck", "gas-b3-01", "lel_pct", rules.Maintenance, 3
		l3.ID = rules.AlarmID(l3.RuleID, l3.Device, f.clock.Now())
		mustHandle(t, f, l3)
		if got := mustOpenTickets(t, f); len(got) != 0 {
			t.Fatalf("L2 and L3 alarms opened tickets: %+v", got)
		}
		q := mustQueue(t, f)
		if got, want := queueIDs(q), []string{l2.ID + " queued", l3.ID + " queued"}; !slices.Equal(got, want) {
			t.Fatalf("queue %v, want %v (L2 before L3)", got, want)
		}
		if got, want := q[0].DueAt, t0.Add(DefaultTriageTimeout); !got.Equal(want) {
			t.Errorf("triage clock due %s, want %s", got, want)
		}
		if q[0].Alarm.RuleName != l2.RuleName || q[0].Alarm.Location != "B2 boiler room" || q[0].Alarm.Level != 2 {
			t.Errorf("queued alarm %+v", q[0].Alarm)
		}
		if n := len(f.rec.eventsOf(EventTriageQueued)); n != 2 {
			t.Errorf("%d triage.queued events, want 2", n)
		}
		// A replayed raise queues nothing twice.
		mustHandle(t, f, l2)
		if n := len(mustQueue(t, f)); n != 2 {
			t.Errorf("replayed raise: %d queued, want 2", n)
		}

		own := warnAlarm(f, 0)
		own.RuleID, own.Device, own.Metric, own.Severity, own.Level, own.OpenTicket = "gas-calibration-due", "gas-b4-01", "", rules.Maintenance, 3, true
		own.ID = rules.AlarmID(own.RuleID, own.Device, f.clock.Now())
		cmd := warnAlarm(f, 0)
		cmd.RuleID, cmd.Device, cmd.Commands = "gas-fan", "gas-b5-01", []rules.Command{{Actuator: "fan", Set: "on"}}
		cmd.ID = rules.AlarmID(cmd.RuleID, cmd.Device, f.clock.Now())
		shadow := warnAlarm(f, 0)
		shadow.RuleID, shadow.Device, shadow.Shadow = "gas-trial", "gas-b6-01", true
		shadow.ID = rules.AlarmID(shadow.RuleID, shadow.Device, f.clock.Now())
		l1 := gasAlarm(f, 25)
		l1.Device, l1.ID = "gas-b7-01", rules.AlarmID(l1.RuleID, "gas-b7-01", f.clock.Now())
		for _, a := range []rules.Alarm{own, cmd, shadow, l1} {
			mustHandle(t, f, a)
		}
		var devs []string
		for _, tk := range mustOpenTickets(t, f) {
			devs = append(devs, tk.DeviceID)
		}
		slices.Sort(devs)
		if want := []string{"gas-b4-01", "gas-b5-01", "gas-b7-01"}; !slices.Equal(devs, want) {
			t.Errorf("tickets opened by themselves for %v, want %v", devs, want)
		}
		if n := len(mustQueue(t, f)); n != 2 {
			t.Errorf("%d queued after the others, want still 2", n)
		}
	})
}

// TestTriageActions: make a ticket, snooze, dismiss, each signed and
// timed; bad input names the field; a decided alarm, another role and an
// unknown alarm are refused.
func TestTriageActions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		a := warnAlarm(f, 12)
		mustHandle(t, f, a)
		b := warnAlarm(f, 11)
		b.Device, b.ID = "gas-b3-01", rules.AlarmID(b.RuleID, "gas-b3-01", f.clock.Now())
		mustHandle(t, f, b)
		c := warnAlarm(f, 13)
		c.Device, c.ID = "gas-b4-01", rules.AlarmID(c.RuleID, "gas-b4-01", f.clock.Now())
		mustHandle(t, f, c)
		f.clock.Advance(3 * time.Minute)
		now := f.clock.Now()
		past, soon, far := now.Add(-time.Minute), now.Add(time.Hour), now.Add(8*24*time.Hour)

		for _, tc := range []struct {
			name  string
			by    Actor
			id    string
			req   TriageRequest
			field string
			kind  error
		}{
			{"unknown action", operator, a.ID, TriageRequest{Action: "close"}, "action", nil},
			{"snooze without time", operator, a.ID, TriageRequest{Action: TriageActSnooze, Reason: "r"}, "until", nil},
			{"snooze into the past", operator, a.ID, TriageRequest{Action: TriageActSnooze, Until: &past, Reason: "r"}, "until", nil},
			{"snooze too far", operator, a.ID, TriageRequest{Action: TriageActSnooze, Until: &far, Reason: "r"}, "until", nil},
			{"snooze without reason", operator, a.ID, TriageRequest{Action: TriageActSnooze, Until: &soon, Reason: "  "}, "reason", nil},
			{"dismiss without reason", operator, a.ID, TriageRequest{Action: TriageActDismiss}, "reason", nil},
			{"technician", tech1, a.ID, TriageRequest{Action: TriageActTicket}, "", ErrForbidden},
			{"engineer", Actor{Name: "eng", Role: RoleEngineer}, a.ID, TriageRequest{Action: TriageActDismiss, Reason: "r"}, "", ErrForbidden},
			{"unknown alarm", operator, "nope", TriageRequest{Action: TriageActTicket}, "", ErrNotFound},
		} {
			_, err := f.svc.TriageAlarm(ctx, tc.by, tc.id, tc.req)
			var fe *FieldError
			switch {
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
				t.Errorf("%s: %v, want a field error on %s", tc.name, err, tc.field)
			case tc.kind != nil && !errors.Is(err, tc.kind):
				t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
			}
		}
		if n := len(mustQueue(t, f)); n != 3 {
			t.Fatalf("refused actions changed the queue: %d queued, want 3", n)
		}

		// Make a ticket: the alarm is on it as if it had opened it.
		f.rec.reset()
		it := mustTriage(t, f, operator, a.ID, TriageRequest{Action: TriageActTicket})
		if it.State != TriageTicketed || it.DecidedBy != "ops1" || it.DecidedRole != RoleOperator || it.DecidedAt == nil || !it.DecidedAt.Equal(now) {
			t.Errorf("ticketed item %+v", it)
		}
		if it.Ticket == nil || it.Ticket.Level != 2 || it.Ticket.AlarmID != a.ID || it.Ticket.Source != SourceSensor {
			t.Fatalf("ticket made %+v", it.Ticket)
		}
		tk := mustGet(t, f, it.Ticket.ID)
		if !slices.Contains(actions(tk.History), "triaged") {
			t.Errorf("ticket history %v lacks the triage", actions(tk.History))
		}
		if al, _ := getAlarm(ctx, f.svc.db, a.ID); al.TicketID != tk.ID {
			t.Errorf("alarm on ticket %d, want %d", al.TicketID, tk.ID)
		}
		if got := f.rec.types(); !slices.Contains(got, EventTicketCreated) || !slices.Contains(got, EventTriageDecided) {
			t.Errorf("events %v", got)
		}

		// Snooze b, dismiss c.
		it = mustTriage(t, f, operator, b.ID, TriageRequest{Action: TriageActSnooze, Until: &soon, Reason: " calibration visit today "})
		if it.State != TriageSnoozed || it.SnoozedUntil == nil || !it.SnoozedUntil.Equal(soon) || it.Reason != "calibration visit today" {
			t.Errorf("snoozed item %+v", it)
		}
		admin := Actor{Name: "root", Role: RoleAdmin}
		it = mustTriage(t, f, admin, c.ID, TriageRequest{Action: TriageActDismiss, Reason: "cleaning spray near the head"})
		if it.State != TriageDismissed || it.DecidedBy != "root" || !it.Alarm.Acked || it.Alarm.AckedBy != "root" {
			t.Errorf("dismissed item %+v", it)
		}
		if got, want := queueIDs(mustQueue(t, f)), []string{b.ID + " snoozed"}; !slices.Equal(got, want) {
			t.Errorf("queue %v, want %v", got, want)
		}
		// Decided already.
		for _, id := range []string{a.ID, c.ID} {
			if _, err := f.svc.TriageAlarm(ctx, operator, id, TriageRequest{Action: TriageActTicket}); !errors.Is(err, ErrIllegal) {
				t.Errorf("triage of decided %s: %v, want ErrIllegal", id, err)
			}
		}
		if n := len(mustOpenTickets(t, f)); n != 1 {
			t.Errorf("%d open tickets, want the one made", n)
		}
		h, err := f.svc.TriageHistory(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, l := range h {
			steps = append(steps, l.Action+" "+l.Actor)
		}
		if want := []string{"queued caretaker", "dismiss root"}; !slices.Equal(steps, want) {
			t.Errorf("triage log %v, want %v", steps, want)
		}
	})
}

// TestTriageLevelRise: a queued (or snoozed) alarm whose incident rises
// to level 1 leaves the queue on the ticket the level 1 alarm opens at
// once; an alarm of an incident with an open ticket joins it, no triage.
func TestTriageLevelRise(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		warn := warnAlarm(f, 12)
		mustHandle(t, f, warn)
		f.clock.Advance(time.Minute)
		other := warnAlarm(f, 11)
		other.Device, other.ID = "gas-b3-01", rules.AlarmID(other.RuleID, "gas-b3-01", f.clock.Now())
		mustHandle(t, f, other)
		until := f.clock.Now().Add(time.Hour)
		mustTriage(t, f, operator, other.ID, TriageRequest{Action: TriageActSnooze, Until: &until, Reason: "technician on the way"})
		f.clock.Advance(time.Minute)
		f.rec.reset()
		crit := gasAlarm(f, 24)
		mustHandle(t, f, crit)
		open := mustOpenTickets(t, f)
		if len(open) != 1 || open[0].Level != 1 || open[0].AlarmID != crit.ID {
			t.Fatalf("open tickets %+v, want the L1 ticket", open)
		}
		if al, _ := getAlarm(ctx, f.svc.db, warn.ID); al.TicketID != open[0].ID {
			t.Errorf("queued L2 alarm on ticket %d, want %d", al.TicketID, open[0].ID)
		}
		if got, want := queueIDs(mustQueue(t, f)), []string{other.ID + " snoozed"}; !slices.Equal(got, want) {
			t.Errorf("queue %v, want only the other device's %v", got, want)
		}
		if n := len(f.rec.eventsOf(EventTriageDecided)); n != 1 {
			t.Errorf("%d triage.decided events, want 1 (the L2 joining)", n)
		}
		// The snoozed one rises too.
		crit2 := gasAlarm(f, 22)
		crit2.Device, crit2.ID = "gas-b3-01", rules.AlarmID(crit2.RuleID, "gas-b3-01", f.clock.Now())
		mustHandle(t, f, crit2)
		if n := len(mustQueue(t, f)); n != 0 {
			t.Errorf("%d still queued after both incidents rose to L1", n)
		}
		// An L2 alarm of an incident with an open ticket joins it.
		f.clock.Advance(time.Minute)
		again := warnAlarm(f, 14)
		mustHandle(t, f, again)
		if al, _ := getAlarm(ctx, f.svc.db, again.ID); al.TicketID != open[0].ID {
			t.Errorf("L2 alarm of an open incident on ticket %d, want %d", al.TicketID, open[0].ID)
		}
		if n := len(mustQueue(t, f)); n != 0 {
			t.Errorf("an alarm of an open incident was queued")
		}
	})
}

// TestTriageClock, on a fake clock: at +0 an L2 alarm is queued; at +29m
// nothing happens; at +30m it is escalated once ("triage.escalated" and a
// page to the supervisor through the Pager, kept in the outbox with the
// alarm); a snoozed alarm comes back at its time with a fresh clock, and
// a cleared one is not escalated. A restart in between loses nothing.
func TestTriageClock(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		pager := &stepPager{}
		f := newFixtureOn(t, backend, func(c *Config) { c.Pager = pager })
		ctx := context.Background()
		tick := func() {
			t.Helper()
			if err := f.svc.Tick(ctx); err != nil {
				t.Fatalf("Tick: %v", err)
			}
		}
		a := warnAlarm(f, 12)
		mustHandle(t, f, a)
		b := warnAlarm(f, 11)
		b.Device, b.ID = "gas-b3-01", rules.AlarmID(b.RuleID, "gas-b3-01", f.clock.Now())
		mustHandle(t, f, b)
		gone := warnAlarm(f, 11)
		gone.Device, gone.ID = "gas-b4-01", rules.AlarmID(gone.RuleID, "gas-b4-01", f.clock.Now())
		mustHandle(t, f, gone)
		until := t0.Add(time.Hour)
		mustTriage(t, f, operator, b.ID, TriageRequest{Action: TriageActSnooze, Until: &until, Reason: "known works"})

		f.clock.Advance(10 * time.Minute)
		cl := gone
		cl.State, cl.Value = rules.Cleared, 3
		mustHandle(t, f, cl)

		f.clock.Set(t0.Add(29 * time.Minute))
		tick()
		if n := len(f.rec.eventsOf(EventTriageEscalated)); n != 0 {
			t.Fatalf("escalated at +29m")
		}
		f.reopen(t)
		f.clock.Set(t0.Add(30 * time.Minute))
		tick()
		tick()
		esc := f.rec.eventsOf(EventTriageEscalated)
		if len(esc) != 1 || esc[0].(TriageItem).Alarm.ID != a.ID || esc[0].(TriageItem).EscalatedAt == nil {
			t.Fatalf("escalations at +30m: %+v, want %s once", esc, a.ID)
		}
		if got, want := pager.esc, []string{ChainSupervisor + "/triage:" + a.ID}; !slices.Equal(got, want) {
			t.Errorf("pager escalations %v, want %v", got, want)
		}
		ns, err := f.svc.AlarmNotifications(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) != 1 || ns[0].AlarmID != a.ID || ns[0].TicketID != 0 || ns[0].Recipient != ChainSupervisor {
			t.Fatalf("pages of the alarm %+v", ns)
		}
		due, err := f.svc.DuePages(ctx, f.clock.Now(), 10)
		if err != nil || len(due) != 1 || due[0].ID != ns[0].ID {
			t.Fatalf("due pages %+v, %v: want the alarm's page for the sender", due, err)
		}
		if err := f.svc.RecordPage(ctx, ns[0].ID, PageOutcome{State: PageSent, Attempts: 1, Status: 200}); err != nil {
			t.Fatalf("RecordPage: %v", err)
		}
		h, _ := f.svc.TriageHistory(ctx, a.ID)
		var steps []string
		for _, l := range h {
			steps = append(steps, l.Action)
		}
		if want := []string{"queued", "escalated", "page_queued", "page_sent"}; !slices.Equal(steps, want) {
			t.Errorf("triage log %v, want %v", steps, want)
		}
		// Still in the queue: escalated, not decided.
		if got := queueIDs(mustQueue(t, f)); !slices.Contains(got, a.ID+" queued") {
			t.Errorf("queue %v lacks the escalated alarm", got)
		}

		f.clock.Set(t0.Add(time.Hour))
		tick()
		back := f.rec.eventsOf(EventTriageQueued)
		last := back[len(back)-1].(TriageItem)
		if last.Alarm.ID != b.ID || last.State != TriageQueued || !last.DueAt.Equal(t0.Add(90*time.Minute)) {
			t.Errorf("back from snooze: %+v, want %s queued, due at +90m", last, b.ID)
		}
		f.clock.Set(t0.Add(90 * time.Minute))
		tick()
		if esc := f.rec.eventsOf(EventTriageEscalated); len(esc) != 2 || esc[1].(TriageItem).Alarm.ID != b.ID {
			t.Errorf("escalations at +90m: %d, want the unsnoozed %s second", len(esc), b.ID)
		}
		for _, e := range f.rec.eventsOf(EventTriageEscalated) {
			if e.(TriageItem).Alarm.ID == gone.ID {
				t.Errorf("the cleared alarm was escalated")
			}
		}
	})
}

// TestFalseAlarmStats: per rule, the alarms raised in the window and
// those dismissed as false alarms; older alarms, shadow trials and other
// sites do not count.
func TestFalseAlarmStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		old := warnAlarm(f, 12)
		old.Device, old.ID = "gas-old", rules.AlarmID(old.RuleID, "gas-old", f.clock.Now())
		mustHandle(t, f, old)
		mustTriage(t, f, operator, old.ID, TriageRequest{Action: TriageActDismiss, Reason: "old"})
		f.clock.Advance(31 * 24 * time.Hour)
		var ids []string
		for i, dev := range []string{"gas-a", "gas-b", "gas-c", "gas-d"} {
			a := warnAlarm(f, 12)
			a.Device, a.ID = dev, rules.AlarmID(a.RuleID, dev, f.clock.Now())
			if i == 3 {
				a.Site = "s2"
			}
			mustHandle(t, f, a)
			ids = append(ids, a.ID)
		}
		sh := warnAlarm(f, 12)
		sh.Device, sh.Shadow, sh.ID = "gas-sh", true, rules.AlarmID(sh.RuleID, "gas-sh", f.clock.Now())
		mustHandle(t, f, sh)
		mustHandle(t, f, gasAlarm(f, 30))
		mustTriage(t, f, operator, ids[0], TriageRequest{Action: TriageActDismiss, Reason: "steam"})
		mustTriage(t, f, operator, ids[3], TriageRequest{Action: TriageActDismiss, Reason: "steam"})
		mustTriage(t, f, operator, ids[1], TriageRequest{Action: TriageActTicket})
		since := f.clock.Now().Add(-FalseAlarmWindow)
		for _, tc := range []struct {
			sites []string
			want  []RuleFalseAlarms
		}{
			{nil, []RuleFalseAlarms{{"gas-lel-critical", 1, 0, 0}, {"gas-lel-warning", 4, 2, 0.5}}},
			{[]string{"s1"}, []RuleFalseAlarms{{"gas-lel-critical", 1, 0, 0}, {"gas-lel-warning", 3, 1, 1.0 / 3}}},
			{[]string{}, []RuleFalseAlarms{}},
		} {
			got, err := f.svc.FalseAlarmStats(ctx, since, tc.sites)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("sites %v: %+v, want %+v", tc.sites, got, tc.want)
			}
		}
	})
}

// TestReportTakesQueuedAlarms: a person reporting the fault of an alarm
// that waits for triage answers the triage question. The report's new
// ticket takes the alarm off the queue (of the same device, or of the
// same public place and fault type), at the alarm's level, signed by who
// filed the report; an alarm of another place stays queued.
func TestReportTakesQueuedAlarms(t *testing.T) {
	cases := []struct {
		name string
		r    Report
		join bool
	}{
		{"same device", Report{Source: SourcePhone, Category: "equipment", Site: "s1", Building: "B2", Location: "somewhere",
			DeviceID: "gas-b2-07", Description: "the detector by the boiler beeps"}, true},
		{"same public place and fault type", Report{Source: SourcePhone, Category: "gas", Site: "s1", Building: "B2",
			Location: "B2 boiler room", Description: "a smell of gas in the boiler room"}, true},
		{"same place, another fault type", Report{Source: SourcePhone, Category: "civil", Site: "s1", Building: "B2",
			Location: "B2 boiler room", Description: "a crack in the boiler room's wall"}, false},
		{"another place", Report{Source: SourcePhone, Category: "gas", Site: "s1", Building: "B2",
			Location: "B2 kitchen", Description: "a smell of gas in the kitchen"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, backend string) {
				f := newFixtureOn(t, backend)
				ctx := context.Background()
				a := warnAlarm(f, 12)
				mustHandle(t, f, a)
				c.r.Level = 3
				c.r.Scope = ScopePublic
				tk, merged, err := f.svc.Report(ctx, patrol, c.r)
				if err != nil || merged {
					t.Fatalf("report: merged %v, err %v", merged, err)
				}
				it, err := f.svc.triageItem(ctx, f.svc.db, a.ID)
				if err != nil {
					t.Fatal(err)
				}
				stored, err := f.svc.Alarm(ctx, a.ID)
				if err != nil {
					t.Fatal(err)
				}
				got, err := f.svc.Get(ctx, tk.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !c.join {
					if it.State != TriageQueued || stored.TicketID != 0 || got.Level != 3 {
						t.Fatalf("alarm %s (ticket %v), report's ticket L%d: want queued, no ticket, L3", it.State, stored.TicketID, got.Level)
					}
					return
				}
				if it.State != TriageTicketed || it.DecidedBy != patrol.Name || stored.TicketID != tk.ID {
					t.Fatalf("alarm %s by %q on ticket %v, want ticketed by %s on %d", it.State, it.DecidedBy, stored.TicketID, patrol.Name, tk.ID)
				}
				if got.Level != 2 {
					t.Errorf("report's ticket L%d, want L2 (its alarm's)", got.Level)
				}
				if n := len(mustQueue(t, f)); n != 0 {
					t.Errorf("%d still queued", n)
				}
				if n := len(f.rec.eventsOf(EventTriageDecided)); n != 1 {
					t.Errorf("%d triage.decided events, want 1", n)
				}
			})
		})
	}
}

// TestTriagedTicketCountsFromTheAlarm: a ticket made from an alarm that
// waited for triage counts its level's time limits from the alarm, so the
// wait shows in the KPIs; the claim clock (a person's minutes to take the
// work) runs from the making. The same for a report that takes the alarm.
func TestTriagedTicketCountsFromTheAlarm(t *testing.T) {
	for _, how := range []string{"triage", "report"} {
		t.Run(how, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			a := warnAlarm(f, 12)
			raised := f.clock.Now()
			mustHandle(t, f, a)
			f.clock.Advance(20 * time.Minute)
			made := f.clock.Now()
			var id int64
			if how == "triage" {
				id = mustTriage(t, f, operator, a.ID, TriageRequest{Action: TriageActTicket}).Ticket.ID
			} else {
				tk, _, err := f.svc.Report(ctx, patrol, Report{Source: SourcePhone, Category: "gas", Site: "s1", Building: "B2",
					Location: "B2 boiler room", Scope: ScopePublic, Level: 2, Description: "a smell of gas in the boiler room"})
				if err != nil {
					t.Fatal(err)
				}
				id = tk.ID
			}
			tk := mustGet(t, f, id)
			if !tk.FirstReportedAt.Equal(raised) {
				t.Errorf("first reported %s, want the alarm's %s", tk.FirstReportedAt, raised)
			}
			clocks := map[string]Deadline{}
			for _, d := range tk.Deadlines {
				clocks[d.Clock] = d
			}
			lim := f.svc.cfg.SLA.level(2)
			if d := clocks[clockDispatch]; !d.DueAt.Equal(raised.Add(lim.Dispatch)) {
				t.Errorf("dispatch due %s, want %s (from the alarm)", d.DueAt, raised.Add(lim.Dispatch))
			}
			if d := clocks[clockClaim]; !d.DueAt.Equal(made.Add(f.svc.cfg.SLA.ClaimTimeout)) {
				t.Errorf("claim due %s, want %s (from the making)", d.DueAt, made.Add(f.svc.cfg.SLA.ClaimTimeout))
			}
			if !slices.Contains(actions(tk.History), "clocks_from_alarm") {
				t.Errorf("history %v does not say where the clocks count from", actions(tk.History))
			}
		})
	}
}

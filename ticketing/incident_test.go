package ticketing

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/sqldb"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/rules"
)

// boilerReport is a patrol's report about gas-b2-07 or its room.
func boilerReport(byDevice bool, name, phone, text string) Report {
	r := Report{Source: SourcePatrol, Category: "gas", Site: "s1", Building: "B2", Location: "B2 boiler room",
		Description: text, Reporter: Reporter{Name: name, Phone: phone}}
	if byDevice {
		r.DeviceID = "gas-b2-07"
		r.Location = "next to the boiler" // the device names the incident, not the words for the place
	}
	return r
}

// A report and an alarm about the same device, or the same place and
// category, are one incident in either order; every report is kept.
func TestReportAndAlarmAreOneIncidentInEitherOrder(t *testing.T) {
	for _, c := range []struct {
		name        string
		byDevice    bool
		alarmFirst  bool
		wantReports int
	}{
		{"report by device, then alarm", true, false, 2},
		{"report by place, then alarm", false, false, 2},
		{"alarm, then reports by device", true, true, 2},
		{"alarm, then reports by place", false, true, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			if c.alarmFirst {
				mustHandle(t, f, gasAlarm(f, 35))
				f.clock.Advance(time.Minute)
			}
			first, merged, err := f.svc.Report(ctx, patrol, boilerReport(c.byDevice, "Zhang", "13800000001", "smell of gas"))
			if err != nil || merged != c.alarmFirst {
				t.Fatalf("first report: merged %v err %v", merged, err)
			}
			if first.ReportID == 0 {
				t.Fatalf("first report answer has no report_id")
			}
			if !c.alarmFirst {
				f.clock.Advance(time.Minute)
				mustHandle(t, f, gasAlarm(f, 35))
			}
			f.clock.Advance(time.Minute)
			second, merged, err := f.svc.Report(ctx, Actor{"desk1", RoleOperator},
				func() Report {
					r := boilerReport(c.byDevice, "Li", "13900000002", "detector beeping in the boiler room")
					r.Source = SourceResident
					return r
				}())
			if err != nil || !merged || second.ID != first.ID {
				t.Fatalf("second report: merged %v into %d err %v, want %d", merged, second.ID, err, first.ID)
			}
			open := mustOpenTickets(t, f)
			if len(open) != 1 {
				t.Fatalf("%d open tickets, want one incident: %+v", len(open), open)
			}
			tk := mustGet(t, f, open[0].ID)
			if tk.Level != 1 || tk.AlarmID == "" {
				t.Errorf("ticket level %d alarm %q, want L1 with the alarm", tk.Level, tk.AlarmID)
			}
			alarms, err := f.svc.Alarms(ctx, AlarmsAll)
			if err != nil || len(alarms) != 1 || alarms[0].TicketID != tk.ID {
				t.Fatalf("alarms %+v err %v, want the one alarm on ticket %d", alarms, err, tk.ID)
			}
			var who []string
			for _, r := range tk.Reporters {
				who = append(who, r.Name+" "+r.Phone+" "+r.Description)
			}
			want := []string{"Zhang 13800000001 smell of gas", "Li 13900000002 detector beeping in the boiler room"}
			if !slices.Equal(who, want) {
				t.Errorf("reporters %q, want %q", who, want)
			}
			if len(tk.Reporters) == c.wantReports && (tk.Reporters[0].Merged != c.alarmFirst || !tk.Reporters[1].Merged ||
				tk.Reporters[1].ReportedBy != "desk1" || tk.Reporters[1].Source != SourceResident) {
				t.Errorf("reporters %+v", tk.Reporters)
			}
			// The second reporter's photo goes with their report, on the incident.
			p, err := f.svc.AddReportPhoto(ctx, Actor{"desk1", RoleOperator}, second.ID, second.ReportID, "", bytes.NewReader(pngBytes))
			if err != nil {
				t.Fatal(err)
			}
			tk = mustGet(t, f, tk.ID)
			if len(tk.Photos) != 1 || tk.Photos[0].ReportID != second.ReportID || len(tk.Reporters) != 2 ||
				!slices.Equal(tk.Reporters[1].Photos, []int64{p.ID}) {
				t.Errorf("photos %+v reporters %+v", tk.Photos, tk.Reporters)
			}
		})
	}
}

// A report about another device or another category stays its own
// ticket; so does a report naming the place when the alarm's place differs.
func TestAlarmDoesNotJoinOtherIncidents(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other := boilerReport(false, "Zhang", "", "door of the boiler room sticks")
	other.Category = "civil"
	if _, _, err := f.svc.Report(ctx, patrol, other); err != nil {
		t.Fatal(err)
	}
	dev := boilerReport(true, "Zhang", "", "another detector beeps")
	dev.DeviceID = "gas-b2-08"
	if _, _, err := f.svc.Report(ctx, patrol, dev); err != nil {
		t.Fatal(err)
	}
	mustHandle(t, f, gasAlarm(f, 35))
	if n := len(mustOpenTickets(t, f)); n != 3 {
		t.Errorf("%d open tickets, want 3 (civil report, other device, the alarm)", n)
	}
}

// engineFixture is the ticket service fed by the real rules engine.
type engineFixture struct {
	*fixture
	engine *rules.Engine
	rule   rules.Rule
}

func newEngineFixture(t *testing.T) *engineFixture {
	t.Helper()
	f := newFixture(t)
	reg, err := devices.NewRegistry(devices.Catalog{Devices: []devices.Device{
		{ID: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Location: "B2 boiler room"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	rule := rules.Rule{ID: "gas-lel-critical", Name: "Gas above alarm level", Kind: devices.KindGas, Metric: "lel_pct",
		Condition: rules.Condition{Op: ">=", Value: 20}, Clear: &rules.Condition{Op: "<", Value: 15}, Severity: rules.Critical}
	eng, err := rules.NewEngine(rules.Config{Rules: []rules.Rule{rule}, Sink: f.svc, Devices: reg, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &engineFixture{fixture: f, engine: eng, rule: rule}
}

// gas sends one reading of gas-b2-07 at the fixture's time, then moves on a second.
func (f *engineFixture) gas(v float64) {
	at := f.clock.Now()
	f.engine.Reading(context.Background(), devices.Reading{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1",
		Building: "B2", Time: at, Received: at, Values: map[string]devices.Value{"lel_pct": devices.Num(v)}})
	f.clock.Advance(time.Second)
}

func (f *engineFixture) alarms(t *testing.T) []StoredAlarm {
	t.Helper()
	as, err := f.svc.Alarms(context.Background(), AlarmsAll)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// An acknowledged alarm that comes back while its ticket is open is a
// recurrence: counted, timed, its peak kept, told on the hub and in the
// history; and every clear says who or what cleared it.
func TestAlarmComingBackIsARecurrence(t *testing.T) {
	f := newEngineFixture(t)
	ctx := context.Background()
	f.gas(30)
	as := f.alarms(t)
	if len(as) != 1 || as[0].TicketID == 0 {
		t.Fatalf("alarms %+v", as)
	}
	id := as[0].TicketID
	if _, err := f.svc.AckAlarm(ctx, operator, as[0].ID); err != nil {
		t.Fatal(err)
	}
	f.gas(10) // clears
	if tk := mustGet(t, f.fixture, id); tk.Recurrence != nil {
		t.Fatalf("recurrence %+v before any comeback", tk.Recurrence)
	}
	f.clock.Advance(10 * time.Minute)
	f.rec.reset()
	back := f.clock.Now()
	f.gas(25)
	f.gas(42)
	f.gas(12) // clears again, by value 12

	tk := mustGet(t, f.fixture, id)
	if tk.Recurrence == nil || tk.Recurrence.Count != 1 || !tk.Recurrence.LastAt.Equal(back) || tk.Recurrence.Peak != 42 {
		t.Fatalf("recurrence %+v, want 1 at %s, peak 42", tk.Recurrence, back)
	}
	if len(tk.Recurrence.Episodes) != 1 || tk.Recurrence.Episodes[0].Peak != 42 || !tk.Recurrence.Episodes[0].At.Equal(back) {
		t.Errorf("episodes %+v", tk.Recurrence.Episodes)
	}
	if !slices.Contains(actions(tk.History), "alarm_recurred") {
		t.Errorf("history %v, want alarm_recurred", actions(tk.History))
	}
	ev := f.rec.eventsOf(EventTicketRecurred)
	if len(ev) != 1 || ev[0].(Ticket).Recurrence == nil || ev[0].(Ticket).Recurrence.Count != 1 {
		t.Errorf("ticket.recurred events %+v", ev)
	}
	if n := len(mustOpenTickets(t, f.fixture)); n != 1 {
		t.Errorf("%d open tickets, want 1", n)
	}

	// Twice more: counted each time.
	f.gas(21)
	f.gas(10)
	f.gas(22)
	tk = mustGet(t, f.fixture, id)
	if tk.Recurrence == nil || tk.Recurrence.Count != 3 || tk.Recurrence.Peak != 42 || len(tk.Recurrence.Episodes) != 3 {
		t.Fatalf("recurrence %+v, want 3, peak 42", tk.Recurrence)
	}

	// The alarm still raised is cleared when the rule is taken away.
	if err := f.engine.Put(ctx, f.rule.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range f.alarms(t) {
		got = append(got, a.ClearReason+" / "+a.ClearedBy)
	}
	want := []string{"rule_changed / rule gas-lel-critical changed", "value / value 10", "value / value 12", "value / value 10"}
	if !slices.Equal(got, want) {
		t.Errorf("clears, newest first:\n%q\nwant\n%q", got, want)
	}
	last := mustGet(t, f.fixture, id).History
	if note := last[len(last)-1].Note; !strings.Contains(note, "by rule gas-lel-critical changed (rule_changed)") {
		t.Errorf("last history note %q", note)
	}
}

// Two rules on one metric (pre-alarm and alarm) coming back together are
// one comeback of the incident, counted once.
func TestTwoRulesComingBackCountOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pair := func(v float64) (rules.Alarm, rules.Alarm) {
		crit := gasAlarm(f, v)
		warn := crit
		warn.RuleID, warn.ID, warn.Severity, warn.Level = "gas-lel-warning", rules.AlarmID("gas-lel-warning", "gas-b2-07", f.clock.Now()), rules.Major, 2
		return crit, warn
	}
	crit, warn := pair(35)
	mustHandle(t, f, crit)
	mustHandle(t, f, warn)
	if _, err := f.svc.AckAlarm(ctx, operator, crit.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	for _, a := range []rules.Alarm{crit, warn} {
		a.State = rules.Cleared
		a.Value = 3
		mustHandle(t, f, a)
	}
	f.clock.Advance(time.Minute)
	crit, warn = pair(38)
	mustHandle(t, f, crit)
	mustHandle(t, f, warn)
	tk := mustOpenTickets(t, f)
	if len(tk) != 1 || tk[0].Recurrence == nil || tk[0].Recurrence.Count != 1 {
		t.Fatalf("tickets %+v, want one with one recurrence", tk)
	}
}

// A stronger alarm while the first is still active and not acknowledged
// is the fault getting worse, not coming back.
func TestEscalatingAlarmIsNotARecurrence(t *testing.T) {
	f := newFixture(t)
	pre := gasAlarm(f, 12)
	pre.RuleID, pre.ID, pre.Severity, pre.Level = "gas-lel-warning", rules.AlarmID("gas-lel-warning", "gas-b2-07", f.clock.Now()), rules.Major, 2
	mustHandle(t, f, pre)
	f.clock.Advance(time.Minute)
	mustHandle(t, f, gasAlarm(f, 30))
	tk := mustOpenTickets(t, f)
	if len(tk) != 1 || tk[0].Level != 1 || tk[0].Recurrence != nil {
		t.Fatalf("tickets %+v, want one L1 without recurrence", tk)
	}
}

// A technician who files an in-home report does not get its code, so
// cannot claim the job and "verify" it; the owner's channel does.
func TestInHomeCodeOnlyToTheOwnersChannel(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	home := func(src Source, room string) Report {
		return Report{Source: src, Category: "water_electric", Site: "s1", Building: "B3", Scope: ScopeInHome,
			Unit: "2", Floor: "12", Room: room, Description: "tap drips"}
	}
	for _, c := range []struct {
		name     string
		by       Actor
		source   Source
		wantCode bool
	}{
		{"technician", tech1, SourcePhone, false},
		{"technician as patrol source", tech1, SourcePatrol, false},
		{"operator for a phone call", operator, SourcePhone, true},
		{"operator at the front desk", operator, SourceFrontDesk, true},
		{"patrol for a resident", patrol, SourceResident, true},
		{"third party", operator, SourceThirdParty, false},
	} {
		tk, _, err := f.svc.Report(ctx, c.by, home(c.source, "room-"+c.name))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := tk.VerificationCode != ""; got != c.wantCode {
			t.Errorf("%s: code in the answer %v, want %v", c.name, got, c.wantCode)
		}
		if c.by == tech1 && c.source == SourcePhone {
			// The technician claims it; without the code arrival is refused.
			mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActClaim})
			if _, err := f.svc.Act(ctx, tech1, tk.ID, ActionRequest{Action: ActArrive, Code: "123456"}); err == nil {
				t.Errorf("%s: arrival with a guessed code accepted", c.name)
			}
		}
	}
}

// A technician adds photos only to a ticket assigned to them or one they
// reported.
func TestTechnicianPhotosOnlyOnOwnTickets(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := ticketIn(t, f, StatusNew)
	tech2 := Actor{Name: "tech2", Role: RoleTechnician}
	if _, err := f.svc.AddPhoto(ctx, tech2, id, "", bytes.NewReader(pngBytes)); !errors.Is(err, ErrForbidden) {
		t.Errorf("photo by a technician on a ticket not theirs: %v, want forbidden", err)
	}
	mustAct(t, f, tech1, id, ActionRequest{Action: ActClaim})
	if _, err := f.svc.AddPhoto(ctx, tech1, id, StageBefore, bytes.NewReader(pngBytes)); err != nil {
		t.Errorf("photo by the assignee: %v", err)
	}
	if _, err := f.svc.AddPhoto(ctx, tech2, id, "", bytes.NewReader(pngBytes)); !errors.Is(err, ErrForbidden) {
		t.Errorf("photo by another technician: %v, want forbidden", err)
	}
	own, _, err := f.svc.Report(ctx, tech2, Report{Source: SourcePatrol, Category: "civil", Site: "s1", Building: "B9",
		Location: "gate", Description: "gate bent"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AddReportPhoto(ctx, tech2, own.ID, own.ReportID, "", bytes.NewReader(pngBytes)); err != nil {
		t.Errorf("photo by the technician who reported it: %v", err)
	}
	if _, err := f.svc.AddReportPhoto(ctx, operator, own.ID, 999, "", bytes.NewReader(pngBytes)); err == nil {
		t.Error("photo naming a report of another ticket accepted")
	}
}

// A rework ticket calls back the same people as the original.
func TestFollowUpKeepsTheReporters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tk, _, err := f.svc.Report(ctx, patrol, validReport())
	if err != nil {
		t.Fatal(err)
	}
	if _, merged, err := f.svc.Report(ctx, operator, func() Report {
		r := validReport()
		r.Source, r.Reporter, r.Description = SourcePhone, Reporter{Name: "Chen", Phone: "13700000003"}, "still dark on landing 3"
		return r
	}()); err != nil || !merged {
		t.Fatalf("second report: merged %v err %v", merged, err)
	}
	resolveTicket(t, f, tk.ID, "new bulb")
	res := mustAct(t, f, operator, tk.ID, ActionRequest{Action: ActCallback, Score: 2})
	if res.Opened == nil {
		t.Fatal("no rework ticket")
	}
	var who []string
	for _, r := range mustGet(t, f, res.Opened.ID).Reporters {
		who = append(who, r.Name+" "+r.Phone)
	}
	if !slices.Equal(who, []string{"Li Wei 13800000000", "Chen 13700000003"}) {
		t.Errorf("rework reporters %q", who)
	}
	// Every screen hears the events: the reports and their phones stay on
	// the ticket.
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	for _, e := range f.rec.events {
		if tk, ok := e.Data.(Ticket); ok && tk.Reporters != nil {
			t.Errorf("event %s carries the reporters", e.Type)
		}
	}
}

// A store from before the reports were kept gets each ticket's reporter
// as its first report when it is opened.
func TestMigrationKeepsTheReportersOfOldTickets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		cfg := Config{Path: filepath.Join(t.TempDir(), "old.db")}
		if backend == onPostgreSQL {
			cfg.URL = testserver.PostgresDB(t)
		}
		db, err := sqldb.Open(ctx, sqldb.Config{Path: cfg.Path, URL: cfg.URL})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, "schema_migrations", migrations[:3], time.Now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO tickets (number, source, status, level, category, site, building,
		scope, description, reporter_name, reporter_phone, created_by, incident_key, created_at, updated_at)
		VALUES ('BX20261101-0001', 'phone', 'new', 2, 'civil', 's1', 'B1', 'public', 'door sticks', 'Wu', '13600000004', 'desk1', 'k1', 1, 1)`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		svc, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		tk, err := svc.Get(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(tk.Reporters) != 1 || tk.Reporters[0].Name != "Wu" || tk.Reporters[0].Phone != "13600000004" ||
			tk.Reporters[0].Description != "door sticks" || tk.Reporters[0].ReportedBy != "desk1" || tk.Reporters[0].Merged {
			t.Errorf("reporters %+v", tk.Reporters)
		}
	})
}

func TestClearCause(t *testing.T) {
	for _, c := range []struct {
		name       string
		a          rules.Alarm
		by, reason string
	}{
		{"value", rules.Alarm{RuleID: "gas-lel-critical", Value: 3.5, ClearReason: rules.ClearValue, Message: "Gas above alarm level: B2 boiler room (gas-b2-07) lel_pct = 35 (>= 20)"},
			"value 3.5", rules.ClearValue},
		{"rule changed", rules.Alarm{RuleID: "gas-lel-critical", Value: 30, ClearReason: rules.ClearRuleChanged, Message: "Gas: x lel_pct = 30 (>= 20) (cleared: the rule was changed)"},
			"rule gas-lel-critical changed", rules.ClearRuleChanged},
		{"service", rules.Alarm{RuleID: "elevator-service", Value: 5000, ClearReason: rules.ClearService, Message: "Service: e1 trips = 5000, service due (every 5000) (service recorded)"},
			"service recorded for rule elevator-service", rules.ClearService},
		{"offline device", rules.Alarm{RuleID: "gas-stale", Device: "gas-b2-07", ClearReason: rules.ClearDataBack, Message: "Offline: B2 boiler room (gas-b2-07) sent no data for 5m0s (device offline)"},
			"data from gas-b2-07 again", rules.ClearDataBack},
		{"data source", rules.Alarm{RuleID: rules.ParentRuleID, Device: "modbus:127.0.0.1:502", ClearReason: rules.ClearDataBack, Message: "Modbus address 127.0.0.1:502 is not answering"},
			"data from modbus:127.0.0.1:502 again", rules.ClearDataBack},
		{"no reason", rules.Alarm{RuleID: "r", Value: 2, Message: "x (cleared: the rule was changed) (device offline)"},
			"value 2", rules.ClearValue},
		{"engine says", rules.Alarm{RuleID: "r", ClearReason: "operator", ClearedBy: "ops1", Message: "x (cleared: the rule was changed)"},
			"ops1", "operator"},
	} {
		if by, reason := clearCause(c.a); by != c.by || reason != c.reason {
			t.Errorf("%s: %q (%s), want %q (%s)", c.name, by, reason, c.by, c.reason)
		}
	}
}

// An alarm that joined a report's ticket and comes back within the reopen
// window after that ticket was resolved reopens it: still one incident.
func TestAlarmBackReopensTheReportTicketItJoined(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rep, _, err := f.svc.Report(ctx, patrol, boilerReport(true, "Zhang", "13800000001", "smell of gas"))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	a := gasAlarm(f, 35)
	mustHandle(t, f, a)
	a.State, a.Value = rules.Cleared, 3
	mustHandle(t, f, a)
	resolveTicket(t, f, rep.ID, "valve closed, room aired")
	f.clock.Advance(10 * time.Minute)
	mustHandle(t, f, gasAlarm(f, 31))
	open := mustOpenTickets(t, f)
	if len(open) != 1 || open[0].ID != rep.ID || !slices.Contains(actions(mustGet(t, f, rep.ID).History), "reopened") {
		t.Fatalf("open tickets %+v, want the report's ticket %d reopened", open, rep.ID)
	}
}

package ticketing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/caretaker-iot/caretaker/rules"
)

// second opens another Service on f's database: another instance, with
// connections of its own.
func (f *fixture) second(t *testing.T) *Service {
	t.Helper()
	cfg := f.cfg
	cfg.Notifier = &recorder{}
	svc, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open the second instance: %v", err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

// together runs every fn at once and returns their errors.
func together(fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// Two instances on one database hear the same alarms at the same moment
// (a failover replays the broker's backlog to both; two rules see one
// leak): every raise succeeds, and each incident gets exactly one ticket
// that both of its alarms point at.
func TestConcurrentRaisesFromTwoInstancesOpenOneTicket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		other := f.second(t)
		ctx := context.Background()
		const incidents = 12
		for i := range incidents {
			crit := gasAlarm(f, 35)
			crit.Device = fmt.Sprintf("gas-c%02d", i)
			crit.ID = rules.AlarmID(crit.RuleID, crit.Device, crit.RaisedAt)
			warn := crit
			warn.RuleID, warn.Level, warn.Severity = "gas-lel-warning", 2, rules.Major
			warn.ID = rules.AlarmID(warn.RuleID, warn.Device, warn.RaisedAt)
			raise := func(s *Service, a rules.Alarm) func() error {
				return func() error { return s.HandleAlarm(ctx, a) }
			}
			for _, err := range together(raise(f.svc, crit), raise(other, crit), raise(f.svc, warn), raise(other, warn)) {
				if err != nil {
					t.Fatalf("incident %d: %v", i, err)
				}
			}
		}
		rows, err := f.svc.db.Query(`SELECT t.incident_key, count(DISTINCT t.id), count(a.id), count(DISTINCT a.ticket_id)
			FROM tickets t LEFT JOIN alarms a ON a.ticket_id = t.id GROUP BY t.incident_key ORDER BY t.incident_key`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var key string
			var tickets, alarms, linked int
			if err := rows.Scan(&key, &tickets, &alarms, &linked); err != nil {
				t.Fatal(err)
			}
			if tickets != 1 || alarms != 2 || linked != 1 {
				t.Errorf("incident %s: %d tickets, %d alarms on %d tickets; want 1 ticket with both alarms", key, tickets, alarms, linked)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if n != incidents {
			t.Fatalf("%d incidents with tickets, want %d", n, incidents)
		}
		var unlinked int
		if err := f.svc.db.QueryRow("SELECT count(*) FROM alarms WHERE ticket_id IS NULL").Scan(&unlinked); err != nil || unlinked != 0 {
			t.Fatalf("%d alarms without a ticket (%v)", unlinked, err)
		}
	})
}

// Two instances take reports of one place at the same moment: one ticket,
// every report kept on it.
func TestConcurrentReportsFromTwoInstancesMergeIntoOneTicket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		other := f.second(t)
		ctx := context.Background()
		report := func(s *Service, who string) func() error {
			return func() error {
				_, _, err := s.Report(ctx, Actor{Name: who, Role: "patrol"}, Report{Source: SourcePatrol, Category: "water_electric",
					Site: "s1", Building: "B1", Location: "B1 stairwell", Description: "light out on landing 3, seen by " + who})
				return err
			}
		}
		var fns []func() error
		for i := range 6 {
			fns = append(fns, report(f.svc, fmt.Sprintf("pat%d", i)), report(other, fmt.Sprintf("pat%d", i+10)))
		}
		for _, err := range together(fns...) {
			if err != nil {
				t.Fatal(err)
			}
		}
		open := mustOpenTickets(t, f)
		if len(open) != 1 {
			t.Fatalf("%d open tickets, want 1", len(open))
		}
		if got := len(mustGet(t, f, open[0].ID).Reporters); got != len(fns) {
			t.Fatalf("%d reports on the ticket, want %d", got, len(fns))
		}
	})
}

// Two technicians grab the same ticket through two instances at the same
// moment: one claim wins, the other is refused, and the history has one
// claim. Read-then-write must be as serial as SQLite's write lock makes
// it, which SERIALIZABLE does on PostgreSQL.
func TestConcurrentClaimsFromTwoInstancesLetOneWin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		other := f.second(t)
		ctx := context.Background()
		for round := range 8 {
			tk, _, err := f.svc.Report(ctx, patrol, Report{Source: SourcePatrol, Category: "civil", Site: "s1",
				Building: fmt.Sprintf("B%d", round), Location: "lobby", Description: "cracked tile"})
			if err != nil {
				t.Fatal(err)
			}
			claim := func(s *Service, by Actor) func() error {
				return func() error { _, err := s.Act(ctx, by, tk.ID, ActionRequest{Action: ActClaim}); return err }
			}
			errs := together(claim(f.svc, tech1), claim(other, tech2))
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
				} else if !errors.Is(err, ErrIllegal) {
					t.Fatalf("round %d: a losing claim failed with %v, want ErrIllegal", round, err)
				}
			}
			claims := 0
			for _, h := range mustGet(t, f, tk.ID).History {
				if h.Action == ActClaim {
					claims++
				}
			}
			if won != 1 || claims != 1 {
				t.Fatalf("round %d: %d claims won, %d in the history (%v); want 1", round, won, claims, errs)
			}
		}
	})
}

// TestGetReadsOneMoment: on both engines, a ticket read while its device
// commands are being sent and read back shows each command's state and
// its history line from the same moment: never a command done whose
// "sent" and "done" lines are not yet in the history (the rows were once
// read one query after another, and a step landed between them).
func TestGetReadsOneMoment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		a := gasAlarm(f, 35)
		mustHandle(t, f, a)
		var cmds []DeviceCommand
		for i := range 40 {
			cmds = append(cmds, DeviceCommand{Device: fmt.Sprintf("gv-%02d", i), Actuator: "gas_valve", Set: "close", Confirm: "auto"})
		}
		added, err := f.svc.AddDeviceCommands(ctx, a.ID, cmds)
		if err != nil || len(added) != len(cmds) {
			t.Fatalf("added %d, %v", len(added), err)
		}
		id := added[0].TicketID
		done := make(chan error, 1)
		go func() {
			for _, c := range added {
				if err := f.svc.DeviceCommandSent(ctx, c.ID, 1); err != nil {
					done <- err
					return
				}
				if err := f.svc.DeviceCommandDone(ctx, c.ID, "read back open 0"); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		check := func(tk Ticket) {
			t.Helper()
			var sent, fin, sentNotes, doneNotes int
			for _, c := range tk.Commands {
				switch c.State {
				case CmdSent:
					sent++
				case CmdDone:
					sent++
					fin++
				}
			}
			for _, h := range tk.History {
				switch {
				case h.Action == "device_command" && strings.Contains(h.Note, ": sent (attempt"):
					sentNotes++
				case h.Action == "device_command" && strings.Contains(h.Note, ": done, "):
					doneNotes++
				}
			}
			if sent != sentNotes || fin != doneNotes {
				t.Fatalf("one read: %d commands sent and %d done, but %d sent and %d done lines in the history", sent, fin, sentNotes, doneNotes)
			}
		}
		for reads := 0; ; reads++ {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				tk := mustGet(t, f, id)
				check(tk)
				if tk.Commands[len(tk.Commands)-1].State != CmdDone {
					t.Fatalf("last command %+v", tk.Commands[len(tk.Commands)-1])
				}
				t.Logf("%s: %d reads while the commands went through", backend, reads)
				return
			default:
			}
			check(mustGet(t, f, id))
		}
	})
}

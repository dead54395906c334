package ticketing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

func tick(t *testing.T, f *fixture) {
	t.Helper()
	if err := f.svc.Tick(context.Background()); err != nil {
		t.Fatalf("Tick: %v", err)
	}
}

// clockEvents lists "type clock to" of the clock events heard, in order.
func clockEvents(f *fixture) []string {
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	var out []string
	for _, e := range f.rec.events {
		if ce, ok := e.Data.(ClockEvent); ok {
			out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s", e.Type, ce.Clock, ce.To)))
		}
	}
	return out
}

// Timeline: at 0 gas alarm opens an L1 ticket nobody claims; at +4m the
// claim warning; at +5m escalated to the supervisor; then the dispatch
// limit (+12m warning, +15m team lead), the claim moving up to the project
// manager at +35m, the progress note missing at +30m.
func TestUnclaimedSensorL1EscalatesAfterClaimTimeout(t *testing.T) {
	f := newFixture(t)
	mustHandle(t, f, gasAlarm(f, 35))
	id := mustOpenTickets(t, f)[0].ID
	f.rec.reset()

	steps := []struct {
		at   time.Duration
		want []string
	}{
		{3*time.Minute + 59*time.Second, nil},
		{4 * time.Minute, []string{"ticket.warning claim"}},
		{4*time.Minute + 59*time.Second, nil},
		{5 * time.Minute, []string{"ticket.escalated claim supervisor"}},
		{12 * time.Minute, []string{"ticket.warning dispatch"}},
		{15 * time.Minute, []string{"ticket.escalated dispatch team_lead"}},
		{24 * time.Minute, []string{"ticket.warning arrive"}},
		{30 * time.Minute, []string{"ticket.escalated arrive team_lead", "ticket.warning progress"}},
		{35 * time.Minute, []string{"ticket.escalated claim project_manager"}},
		{45 * time.Minute, []string{"ticket.escalated dispatch supervisor"}},
		{6 * time.Hour, nil}, // checked below: the rest, and nothing fires twice
	}
	for _, s := range steps {
		f.rec.reset()
		f.clock.Set(t0.Add(s.at))
		tick(t, f)
		tick(t, f) // a second tick at the same time changes nothing
		got := clockEvents(f)
		if s.at == 6*time.Hour {
			// claim is at the top; dispatch and arrive climb to the top; the close
			// limit (4h) warns late-silently and escalates; progress goes on.
			for _, w := range []string{"ticket.escalated dispatch project_manager", "ticket.escalated arrive project_manager",
				"ticket.escalated close team_lead", "ticket.warning progress"} {
				if !slices.Contains(got, w) {
					t.Errorf("at +6h: %v lacks %q", got, w)
				}
			}
			if slices.Contains(got, "ticket.escalated claim project_manager") || slices.Contains(got, "ticket.warning close") {
				t.Errorf("at +6h: %v repeats the top of the chain or warns after the limit", got)
			}
			continue
		}
		slices.Sort(got)
		slices.Sort(s.want)
		if !slices.Equal(got, s.want) {
			t.Errorf("at +%s: events %v, want %v", s.at, got, s.want)
		}
	}
	tk := mustGet(t, f, id)
	var escalated []HistoryEntry
	for _, h := range tk.History {
		if h.Action == "escalated" {
			escalated = append(escalated, h)
		}
	}
	if len(escalated) == 0 || escalated[0].Actor != "caretaker" || escalated[0].Role != "system" ||
		!strings.Contains(escalated[0].Note, "claim limit of "+tk.Number+" (L1) missed") || !strings.Contains(escalated[0].Note, "supervisor") ||
		!escalated[0].At.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("first escalation in history %+v", escalated)
	}
	if !slices.Contains(actions(tk.History), "progress_overdue") {
		t.Errorf("history lacks progress_overdue: %v", actions(tk.History))
	}
}

func TestClaimStopsTheClaimClockAndProgressNotesKeepL1Quiet(t *testing.T) {
	f := newFixture(t)
	mustHandle(t, f, gasAlarm(f, 35))
	id := mustOpenTickets(t, f)[0].ID
	f.clock.Advance(3 * time.Minute)
	mustAct(t, f, tech1, id, ActionRequest{Action: ActClaim})
	f.rec.reset()
	for i := 0; i < 6; i++ { // a note every 25 minutes for 2.5 hours
		f.clock.Advance(25 * time.Minute)
		mustAct(t, f, tech1, id, ActionRequest{Action: ActComment, Note: "valve closed, ventilating"})
		if i == 0 {
			mustAct(t, f, tech1, id, ActionRequest{Action: ActArrive})
		}
		tick(t, f)
	}
	for _, e := range clockEvents(f) {
		if strings.Contains(e, "claim") || strings.Contains(e, "dispatch") || strings.Contains(e, "progress") {
			t.Errorf("event %q after a claim in time and regular notes", e)
		}
	}
	for _, d := range mustGet(t, f, id).Deadlines {
		if d.Clock == clockClaim && (d.MetAt == nil || !d.MetAt.Equal(t0.Add(3*time.Minute))) {
			t.Errorf("claim clock %+v, want met at +3m", d)
		}
	}
}

// Restart mid-flow: tickets, history and clocks are stored, so after a
// close and reopen of the service the escalation still fires on time.
func TestClocksSurviveRestart(t *testing.T) {
	f := newFixture(t)
	mustHandle(t, f, gasAlarm(f, 35))
	id := mustOpenTickets(t, f)[0].ID
	f.clock.Advance(2 * time.Minute)
	mustAct(t, f, operator, id, ActionRequest{Action: ActComment, Note: "calling the on-duty plumber"})
	before := mustGet(t, f, id)

	f.reopen(t)
	after := mustGet(t, f, id)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("ticket changed across restart:\n%+v\n%+v", before, after)
	}
	if len(after.Deadlines) != 5 || len(after.History) != 2 {
		t.Fatalf("after restart: %d clocks, %d history rows", len(after.Deadlines), len(after.History))
	}
	f.rec.reset()
	f.clock.Advance(3 * time.Minute) // t0+5m
	tick(t, f)
	if got := clockEvents(f); !slices.Contains(got, "ticket.escalated claim supervisor") {
		t.Fatalf("after restart at +5m: %v, want the claim escalated to the supervisor", got)
	}
	// And again mid-escalation: the chain goes on where it stopped.
	f.reopen(t)
	f.rec.reset()
	f.clock.Set(t0.Add(35 * time.Minute))
	tick(t, f)
	if got := clockEvents(f); !slices.Contains(got, "ticket.escalated claim project_manager") ||
		slices.Contains(got, "ticket.escalated claim supervisor") {
		t.Fatalf("after a second restart at +35m: %v", got)
	}
}

func TestRunTicksUntilCancelled(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.ClockInterval = 5 * time.Millisecond })
	mustHandle(t, f, gasAlarm(f, 35))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(ctx) }()
	f.clock.Advance(5 * time.Minute)
	testkit.Eventually(t, 10*time.Second, "Run escalating", func() bool { return len(f.rec.eventsOf(EventTicketEscalated)) > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

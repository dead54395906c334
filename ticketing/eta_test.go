package ticketing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestETA: on both engines, the technician who cannot arrive within the
// time limit gives an ETA: it is on the ticket and in its history, the
// arrive clock keeps its due time; a bad ETA or another technician's is
// refused.
func TestETA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		mustHandle(t, f, gasAlarm(f, 35))
		id := mustOpenTickets(t, f)[0].ID
		mustAct(t, f, operator, id, ActionRequest{Action: ActAssign, Technician: "tech1"})
		tech := Actor{"tech1", RoleTechnician}
		var due time.Time
		for _, d := range mustGet(t, f, id).Deadlines {
			if d.Clock == clockArrive {
				due = d.DueAt
			}
		}
		for _, n := range []int{0, -5, 481} {
			if _, err := f.svc.Act(ctx, tech, id, ActionRequest{Action: ActETA, ETAMinutes: n}); err == nil {
				t.Fatalf("eta %d taken", n)
			}
		}
		if _, err := f.svc.Act(ctx, Actor{"tech2", RoleTechnician}, id, ActionRequest{Action: ActETA, ETAMinutes: 30}); !errors.Is(err, ErrForbidden) {
			t.Fatalf("another technician's eta: %v", err)
		}
		f.clock.Advance(time.Minute)
		res := mustAct(t, f, tech, id, ActionRequest{Action: ActETA, ETAMinutes: 45, Note: "stuck behind an accident"})
		want := f.clock.Now().Add(45 * time.Minute)
		if res.Ticket.ETA == nil || !res.Ticket.ETA.Equal(want) {
			t.Fatalf("eta %v, want %v", res.Ticket.ETA, want)
		}
		tk := mustGet(t, f, id)
		h := tk.History[len(tk.History)-1]
		if h.Action != ActETA || !strings.Contains(h.Note, "(in 45 min): stuck behind an accident") {
			t.Fatalf("history %+v", h)
		}
		for _, d := range tk.Deadlines {
			if d.Clock == clockArrive && !d.DueAt.Equal(due) {
				t.Fatalf("arrive clock moved to %v (was %v): a late arrival stays late", d.DueAt, due)
			}
		}
		mustAct(t, f, tech, id, ActionRequest{Action: ActAccept})
		mustAct(t, f, tech, id, ActionRequest{Action: ActArrive})
		if _, err := f.svc.Act(ctx, tech, id, ActionRequest{Action: ActETA, ETAMinutes: 5}); !errors.Is(err, ErrIllegal) {
			t.Fatalf("eta on site: %v", err)
		}
	})
}

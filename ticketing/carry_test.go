package ticketing

import (
	"context"
	"strings"
	"testing"
)

// TestCarryOver: on both engines, work that cannot be finished today is
// marked with the reason, by its technician or an operator, and stays
// open; without a reason it is refused.
func TestCarryOver(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		mustHandle(t, f, gasAlarm(f, 35))
		id := mustOpenTickets(t, f)[0].ID
		mustAct(t, f, operator, id, ActionRequest{Action: ActAssign, Technician: "tech1"})
		tech := Actor{"tech1", RoleTechnician}
		if _, err := f.svc.Act(context.Background(), tech, id, ActionRequest{Action: ActCarry}); err == nil {
			t.Fatal("carry_over without a reason taken")
		}
		res := mustAct(t, f, tech, id, ActionRequest{Action: ActCarry, Reason: "valve to order"})
		if res.Ticket.CarriedAt == nil || !res.Ticket.CarriedAt.Equal(f.clock.Now()) || res.Ticket.CarryReason != "valve to order" || res.Ticket.Status != StatusDispatched {
			t.Fatalf("carried %+v", res.Ticket)
		}
		h := mustGet(t, f, id).History
		if last := h[len(h)-1]; last.Action != ActCarry || !strings.Contains(last.Note, "cannot be finished today: valve to order") {
			t.Fatalf("history %+v", last)
		}
		open := mustOpenTickets(t, f)
		if len(open) != 1 || open[0].CarryReason != "valve to order" {
			t.Fatalf("open tickets %+v", open)
		}
	})
}

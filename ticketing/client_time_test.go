package ticketing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestOfflineSteps: on both engines, steps a technician took offline and
// sent later count at the phone's time for the clocks (within bounds:
// not after the server's time, not before the ticket was opened, not
// older than MaxClientAge), the history says so; a time out of bounds is
// the server's; a step on a ticket reassigned meanwhile is refused.
func TestOfflineSteps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		a := gasAlarm(f, 35)
		mustHandle(t, f, a)
		id := mustOpenTickets(t, f)[0].ID
		tech := Actor{"tech1", RoleTechnician}
		mustAct(t, f, operator, id, ActionRequest{Action: ActAssign, Technician: "tech1"})
		assigned := f.clock.Now()
		// The phone loses signal; the technician accepts at +1m and
		// arrives at +10m; the steps reach the server at +40m.
		f.clock.Advance(40 * time.Minute)
		acceptAt, arriveAt := assigned.Add(time.Minute), assigned.Add(10*time.Minute)
		mustAct(t, f, tech, id, ActionRequest{Action: ActAccept, ClientTime: &acceptAt})
		mustAct(t, f, tech, id, ActionRequest{Action: ActArrive, ClientTime: &arriveAt})
		tk := mustGet(t, f, id)
		for _, d := range tk.Deadlines {
			if d.Clock == clockArrive && (d.MetAt == nil || !d.MetAt.Equal(arriveAt.UTC().Truncate(time.Millisecond))) {
				t.Fatalf("arrive clock met at %v, want the phone's %v", d.MetAt, arriveAt)
			}
		}
		var notes []string
		for _, h := range tk.History {
			if h.Action == "offline" {
				notes = append(notes, h.Note)
			}
		}
		if len(notes) != 2 || !strings.HasPrefix(notes[0], "accept done offline at ") || !strings.HasPrefix(notes[1], "arrive done offline at ") {
			t.Fatalf("offline history %q", notes)
		}
		// Out of bounds: an hour ahead of the server, or two days old.
		for _, off := range []time.Duration{time.Hour, -48 * time.Hour} {
			at := f.clock.Now().Add(off)
			got, note := clientTime(ActionRequest{ClientTime: &at}, tk, f.clock.Now())
			if !got.Equal(f.clock.Now()) || !strings.Contains(note, "out of bounds") {
				t.Errorf("client time %v: taken %v (%q), want the server's", off, got, note)
			}
		}
		// Before the ticket was opened: its opening.
		early := tk.CreatedAt.Add(-time.Minute)
		if got, _ := clientTime(ActionRequest{ClientTime: &early}, tk, f.clock.Now()); !got.Equal(tk.CreatedAt) {
			t.Errorf("before the ticket was opened: %v, want %v", got, tk.CreatedAt)
		}
		// Reassigned meanwhile: the offline step is refused.
		b := gasAlarm(f, 36)
		b.Device, b.ID = "gas-b3-01", "gas-lel-critical:gas-b3-01:2"
		mustHandle(t, f, b)
		var other int64
		for _, x := range mustOpenTickets(t, f) {
			if x.DeviceID == "gas-b3-01" {
				other = x.ID
			}
		}
		mustAct(t, f, operator, other, ActionRequest{Action: ActAssign, Technician: "tech1"})
		mustAct(t, f, operator, other, ActionRequest{Action: ActAssign, Technician: "tech2"})
		at := f.clock.Now().Add(-time.Minute)
		if _, err := f.svc.Act(ctx, tech, other, ActionRequest{Action: ActAccept, ClientTime: &at}); !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrIllegal) {
			t.Fatalf("accept of a reassigned ticket: %v, want refused", err)
		}
	})
}

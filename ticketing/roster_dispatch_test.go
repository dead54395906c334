package ticketing

import (
	"strings"
	"testing"
	"time"
)

// shiftRoster is Config.OnDuty as plain logic: day people on 08:00-20:00
// Beijing time, night people on 20:00-08:00, each for one zone.
type shiftRoster []struct {
	name, zone string
	day        bool
}

func (r shiftRoster) onDuty(at time.Time, zone, _ string) []string {
	h := at.In(beijing).Hour()
	day := h >= 8 && h < 20
	var out []string
	for _, e := range r {
		if e.day == day && (zone == "" || zone == e.zone) {
			out = append(out, e.name)
		}
	}
	return out
}

// TestDispatchFollowsTheRosterAcrossAShiftChange: on a fake clock, with
// rosters given, auto-dispatch picks the rostered technician of the
// ticket's zone, whatever technicians[].on_duty says: the night one at
// 01:00, the day one after 08:00; a technician off the roster cannot
// claim; with nobody rostered in the zone, another zone's rostered
// technician helps across zones.
func TestDispatchFollowsTheRosterAcrossAShiftChange(t *testing.T) {
	roster := shiftRoster{
		{"night-gas", "north", false},
		{"day-gas", "north", true},
		{"south-gas", "south", false},
	}
	f := newFixture(t, withTechnicians(
		Technician{Name: "day-gas", Skills: []string{"gas"}, OnDuty: false},
		Technician{Name: "night-gas", Skills: []string{"gas"}, OnDuty: false},
		Technician{Name: "south-gas", Skills: []string{"gas"}, OnDuty: true},
		Technician{Name: "static-gas", Skills: []string{"gas"}, Zones: []string{"north"}, OnDuty: true},
	), func(c *Config) { c.OnDuty = roster.onDuty })

	// 01:00 Beijing: the night shift.
	mustHandle(t, f, gasAlarm(f, 35))
	night := mustOpenTickets(t, f)[0]
	if night.Assignee != "night-gas" {
		t.Fatalf("at 01:00 dispatched to %q, want night-gas (rostered in north)", night.Assignee)
	}
	h := mustGet(t, f, night.ID).History
	if why := h[len(h)-1].Note; !strings.Contains(why, "on duty by the rosters") || !strings.Contains(why, "in zone north") {
		t.Errorf("why: %q", why)
	}
	mustAct(t, f, operator, night.ID, ActionRequest{Action: ActCancel, Reason: "drill"})

	// 08:00 Beijing: the day shift takes over.
	f.clock.Advance(7 * time.Hour)
	mustHandle(t, f, gasAlarm(f, 36))
	open := mustOpenTickets(t, f)
	if len(open) != 1 || open[0].Assignee != "day-gas" {
		t.Fatalf("at 08:00: %+v, want one ticket dispatched to day-gas", open)
	}
	mustAct(t, f, operator, open[0].ID, ActionRequest{Action: ActCancel, Reason: "drill"})

	// 20:00, with nobody rostered in north: cross-zone support from the
	// rostered south-gas, not the static on_duty static-gas of north.
	f.cfg.OnDuty = shiftRoster{{"south-gas", "south", false}}.onDuty
	f.reopen(t)
	f.clock.Advance(12 * time.Hour)
	mustHandle(t, f, gasAlarm(f, 37))
	open = mustOpenTickets(t, f)
	if len(open) != 1 || open[0].Assignee != "south-gas" {
		t.Fatalf("at 20:00 with only south rostered: %+v, want south-gas", open)
	}
	h = mustGet(t, f, open[0].ID).History
	if why := h[len(h)-1].Note; !strings.Contains(why, "cross-zone support") {
		t.Errorf("why: %q", why)
	}
}

// A technician off the roster cannot claim, even with on_duty: true.
func TestClaimNeedsTheRoster(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Technicians = []Technician{{Name: "tech1", Skills: []string{"gas"}, OnDuty: true}}
		c.Dispatch = DispatchPool
		c.OnDuty = shiftRoster{{"tech1", "", true}}.onDuty // day only; t0 is 01:00
	})
	mustHandle(t, f, gasAlarm(f, 35))
	tk := mustOpenTickets(t, f)[0]
	_, err := f.svc.Act(t.Context(), Actor{Name: "tech1", Role: RoleTechnician}, tk.ID, ActionRequest{Action: ActClaim})
	if err == nil || !strings.Contains(err.Error(), "off duty") {
		t.Fatalf("claim at 01:00 off the roster: %v, want off duty", err)
	}
	f.clock.Advance(7 * time.Hour) // 08:00
	mustAct(t, f, Actor{Name: "tech1", Role: RoleTechnician}, tk.ID, ActionRequest{Action: ActClaim})
}

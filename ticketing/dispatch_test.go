package ticketing

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

type deviceList []devices.Device

func (d deviceList) Devices() []devices.Device { return d }

var estateDevices = deviceList{
	{ID: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Zone: "north"},
	{ID: "leak-b1-01", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1", Zone: "south"},
}

func withTechnicians(techs ...Technician) func(*Config) {
	return func(c *Config) {
		c.Technicians = techs
		c.Zones = ZonesFrom(estateDevices)
	}
}

func TestZonesFrom(t *testing.T) {
	z := ZonesFrom(estateDevices)
	for _, c := range []struct{ site, building, device, want string }{
		{"s1", "B2", "gas-b2-07", "north"},
		{"s1", "B2", "", "north"},            // by building
		{"s1", "B1", "unknown-dev", "south"}, // unknown device: by building
		{"s2", "B2", "", ""},                 // another site
	} {
		if got := z(c.site, c.building, c.device); got != c.want {
			t.Errorf("zone(%s, %s, %s) = %q, want %q", c.site, c.building, c.device, got, c.want)
		}
	}
}

func TestAutoDispatchBySkillZoneAndLoad(t *testing.T) {
	f := newFixture(t, withTechnicians(
		Technician{Name: "gasman-south", Skills: []string{"gas"}, Zones: []string{"south"}, OnDuty: true},
		Technician{Name: "gasman-north", Skills: []string{"gas"}, Zones: []string{"north"}, OnDuty: true},
		Technician{Name: "gasman-off", Skills: []string{"gas"}, Zones: []string{"north"}, OnDuty: false},
		Technician{Name: "plumber-a", Skills: []string{"plumbing"}, Zones: []string{"south"}, OnDuty: true},
		Technician{Name: "plumber-b", Skills: []string{"plumbing"}, Zones: []string{"south"}, OnDuty: true},
	))
	ctx := context.Background()

	// Gas in B2 (zone north): the on-duty gas technician of the zone.
	mustHandle(t, f, gasAlarm(f, 35))
	gas := mustOpenTickets(t, f)[0]
	if gas.Status != StatusDispatched || gas.Assignee != "gasman-north" || gas.Zone != "north" {
		t.Fatalf("gas ticket: %s to %q in zone %q, want dispatched to gasman-north in north", gas.Status, gas.Assignee, gas.Zone)
	}
	h := mustGet(t, f, gas.ID).History
	why := h[len(h)-1]
	if why.Action != "auto_dispatch" || !strings.Contains(why.Note, "skill gas") || !strings.Contains(why.Note, "in zone north") ||
		!strings.Contains(why.Note, "gasman-south (other zone, 0 open)") || strings.Contains(why.Note, "gasman-off") {
		t.Errorf("dispatch reason %+v", why)
	}
	for _, d := range mustGet(t, f, gas.ID).Deadlines {
		if d.Clock == clockDispatch && (d.MetAt == nil || !d.MetAt.Equal(t0)) {
			t.Errorf("dispatch clock %+v, want met at once", d)
		}
	}

	// Water in B1 (south): two plumbers, the one with fewer open tickets.
	r := Report{Source: SourceResident, Category: "water_electric", Site: "s1", Building: "B1", Location: "B1 pump room",
		Description: "damp floor"}
	first, _, err := f.svc.Report(ctx, patrol, r)
	if err != nil || first.Assignee != "plumber-a" {
		t.Fatalf("first water ticket to %q (err %v), want plumber-a (name order on a tie)", first.Assignee, err)
	}
	r.Location = "B1 car park"
	second, _, err := f.svc.Report(ctx, patrol, r)
	if err != nil || second.Assignee != "plumber-b" {
		t.Fatalf("second water ticket to %q (err %v), want plumber-b (less load)", second.Assignee, err)
	}
	last := second.History[len(second.History)-1]
	if !strings.Contains(last.Note, "0 open tickets") || !strings.Contains(last.Note, "plumber-a (in zone, 1 open)") {
		t.Errorf("load not in the reason: %q", last.Note)
	}

	// No elevator technician on duty: the grab-order pool.
	r = Report{Source: SourcePhone, Category: "equipment", Site: "s1", Building: "B2", Location: "lift 3", Description: "lift noisy"}
	pool, _, err := f.svc.Report(ctx, operator, r)
	if err != nil || pool.Status != StatusNew || pool.Assignee != "" {
		t.Fatalf("equipment ticket: %s to %q (err %v), want new in the pool", pool.Status, pool.Assignee, err)
	}
	if last := pool.History[len(pool.History)-1]; last.Action != "dispatch_pool" || !strings.Contains(last.Note, "elevator") {
		t.Errorf("pool reason %+v", last)
	}
	// Unknown technicians cannot claim from the pool; listed ones can.
	if _, err := f.svc.Act(ctx, Actor{"stranger", "technician"}, pool.ID, ActionRequest{Action: ActClaim}); err == nil {
		t.Error("a technician not in the list claimed a ticket")
	}
	if _, err := f.svc.Act(ctx, operator, pool.ID, ActionRequest{Action: ActAssign, Technician: "nobody"}); err == nil {
		t.Error("assigned to someone not in the list")
	}
	f.clock.Advance(time.Minute)
	got := mustAct(t, f, Actor{"plumber-a", "technician"}, pool.ID, ActionRequest{Action: ActClaim})
	if got.Status != StatusAccepted || got.Assignee != "plumber-a" {
		t.Errorf("after claim: %s %q", got.Status, got.Assignee)
	}
}

func TestPoolModeNeverAutoDispatches(t *testing.T) {
	f := newFixture(t, withTechnicians(Technician{Name: "tech1", Skills: []string{"gas"}, Zones: []string{"north"}, OnDuty: true}),
		func(c *Config) { c.Dispatch = DispatchPool })
	mustHandle(t, f, gasAlarm(f, 35))
	if tk := mustOpenTickets(t, f)[0]; tk.Status != StatusNew || tk.Assignee != "" {
		t.Fatalf("pool mode: %s to %q", tk.Status, tk.Assignee)
	}
}

// A dispatched ticket its technician does not accept in time is escalated
// like an unclaimed one.
func TestDispatchedButNotAcceptedEscalates(t *testing.T) {
	f := newFixture(t, withTechnicians(Technician{Name: "tech1", Skills: []string{"gas"}, Zones: []string{"north"}, OnDuty: true}))
	mustHandle(t, f, gasAlarm(f, 35))
	f.rec.reset()
	f.clock.Advance(5 * time.Minute)
	tick(t, f)
	evs := f.rec.eventsOf(EventTicketEscalated)
	if len(evs) != 1 || evs[0].(ClockEvent).Clock != clockClaim || evs[0].(ClockEvent).Assignee != "tech1" ||
		evs[0].(ClockEvent).To != ChainSupervisor {
		t.Fatalf("escalations %+v, want the claim clock to the supervisor", evs)
	}
}

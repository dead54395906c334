package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	firmwaresim "github.com/caretaker-iot/caretaker/firmware-sim"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestScenarioOpensTheTicketsItImplies plays a short scenario from the
// simulator over a real mosquitto into `caretaker serve` with the default
// rule pack, on the demo estate:
//
//	+1s  gas in the B2 boiler room rises to 35 %LEL over 2s (passes the
//	     10 % pre-alarm, then the 20 % alarm: one incident, one L1 ticket)
//	+1s  the B1 pump room probe and the B1 lift pit probe get wet and stay
//	     wet (L1 each after 10s; two wet in one building: a flood, one L1
//	     ticket for the building, device building:s1/B1)
//	+1s  B4 loses power for 5s (the meter reports the outage: L1)
//	+1s  passengers trapped in E3 for 5s (L1)
//
// and checks exactly those six tickets open, one per device (and one for
// the building), all L1 sensor tickets, and that nothing else does (no
// ticket, nothing in the triage queue) while the rest of the estate
// behaves normally.
func TestScenarioOpensTheTicketsItImplies(t *testing.T) {
	broker := testserver.Mosquitto(t)
	estate := firmwaresim.DemoEstate()
	var devs strings.Builder
	for _, d := range estate {
		fmt.Fprintf(&devs, "  - {id: %s, kind: %s, site: %s, building: %s, location: %q, place_type: %q, machine_class: %q, maintainer: %q, breaker_a: %g}\n",
			d.ID, d.Kind, d.Site, d.Building, d.Location, d.PlaceType, d.MachineClass, d.Maintainer, d.BreakerA)
	}
	ct := newCaretakerDir(t, operatorConfig(broker.Addr, "caretaker-scenario", devs.String()))

	startCaretaker(t, ct.Config)
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	base := ct.Base
	waitReady(t, base)

	s := func(d string) devices.Duration { v, _ := time.ParseDuration(d); return devices.Duration(v) }
	sc := firmwaresim.Scenario{Name: "quick-incidents", Steps: []firmwaresim.Step{
		{At: s("1s"), Device: "gas-b2-01", Metric: "lel_pct", To: 35.0, Over: s("2s"), Hold: s("30s")},
		{At: s("1s"), Device: "leak-b1-01", Metric: "leak", To: true, Hold: s("30s")},
		{At: s("1s"), Device: "leak-b1-02", Metric: "leak", To: true, Hold: s("30s")},
		{At: s("1s"), Device: "pm-b4-01", Fault: "outage", Hold: s("5s")},
		{At: s("1s"), Device: "elev-e3", Event: "entrapment", Hold: s("5s")},
	}}
	sim, err := firmwaresim.New(firmwaresim.Config{Broker: "tcp://" + broker.Addr, Devices: estate, Scenario: sc,
		Interval: 250 * time.Millisecond, Seed: 1, QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	simStart := time.Now()
	go func() { simDone <- sim.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-simDone; err != nil {
			t.Errorf("simulator: %v", err)
		}
	})

	type ticket struct {
		Level    int
		Source   string
		Status   string
		DeviceID string `json:"device_id"`
	}
	var list struct{ Tickets []ticket }
	waitFor(t, 40*time.Second, "six tickets", func() bool {
		getJSON(t, base+"/api/tickets", operatorToken, &list)
		return len(list.Tickets) >= 6
	})
	// The leak ticket needs 10s of wet; give anything unexpected (a second
	// gas ticket, a battery or voltage alarm) time to show up as well.
	for time.Since(simStart) < 16*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	getJSON(t, base+"/api/tickets", operatorToken, &list)
	var got []string
	for _, tk := range list.Tickets {
		got = append(got, fmt.Sprintf("%s L%d %s", tk.DeviceID, tk.Level, tk.Source))
	}
	sort.Strings(got)
	want := []string{"building:s1/B1 L1 sensor", "elev-e3 L1 sensor", "gas-b2-01 L1 sensor", "leak-b1-01 L1 sensor",
		"leak-b1-02 L1 sensor", "pm-b4-01 L1 sensor"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("tickets = %v\nwant      %v\n(a new default rule that the normal signals trip, or a rule pair on one metric opening two tickets, shows up here)", got, want)
	}
	// An alarm below level 1 waits in the triage queue instead of opening
	// a ticket: the healthy rest of the estate has put none there either.
	var queue struct {
		Alarms []struct {
			Alarm struct {
				RuleID string `json:"rule_id"`
				Device string `json:"device_id"`
			} `json:"alarm"`
		} `json:"alarms"`
	}
	getJSON(t, base+"/api/triage", operatorToken, &queue)
	var queued []string
	for _, it := range queue.Alarms {
		queued = append(queued, it.Alarm.RuleID+" "+it.Alarm.Device)
	}
	if len(queued) != 0 {
		t.Fatalf("triage queue = %v, want empty (a default rule that the normal signals trip shows up here)", queued)
	}
}

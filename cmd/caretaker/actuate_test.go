package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	firmwaresim "github.com/caretaker-iot/caretaker/firmware-sim"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// TestDeviceActions runs caretaker serve and firmware-sim's valves and
// fan on a real mosquitto. At +0 gas 35 %LEL in zone z1: within seconds
// the L1 ticket shows the gas valve shut and the fan started, each sent
// once and read back, without anyone pressing anything. A wet probe in
// z1: its ticket's "close the water valve" waits for an operator; once
// ops1 confirms it the valve closes (read back) and the ticket says who
// pressed it. A wet probe in z2, whose valve never answers: sent
// actions.attempts times, then a fault on the ticket.
func TestDeviceActions(t *testing.T) {
	broker := testserver.Mosquitto(t)
	c, _ := serveConfig(t, func(httpAddr, dir string) string {
		return operatorConfig(broker.Addr, "caretaker-act", `  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room", zone: z1}
  - {id: wl-b1-01, kind: water_leak, site: s1, building: B1, location: "B1 pump room", zone: z1}
  - {id: wl-b3-01, kind: water_leak, site: s1, building: B3, location: "B3 tank room", zone: z2}
  - {id: gv-z1, kind: actuator, actuator: gas_valve, site: s1, building: B2, location: "B2 gas valve", zone: z1}
  - {id: fan-z1, kind: actuator, actuator: fan, site: s1, building: B2, location: "B2 fan", zone: z1}
  - {id: wv-z1, kind: actuator, actuator: water_valve, site: s1, building: B1, location: "B1 water main", zone: z1}
  - {id: wv-z2, kind: actuator, actuator: water_valve, site: s1, building: B3, location: "B3 water main", zone: z2}`)(httpAddr, dir) + `
actions: {read_back: 1s, attempts: 2}
rules:
  define:
    - id: water-leak
      name: Water leak detected
      kind: water_leak
      metric: leak
      condition: {op: is, value: true}
      for: 0s
      clear_for: 30s
      severity: critical
      commands: [{actuator: water_valve, set: close, confirm: operator}]
`
	})
	// The valves and fan of z1 (not wv-z2, which stays silent).
	var act []devices.Device
	for _, d := range []devices.Device{
		{ID: "gv-z1", Kind: devices.KindActuator, Actuator: "gas_valve", Site: "s1", Building: "B2", Zone: "z1"},
		{ID: "fan-z1", Kind: devices.KindActuator, Actuator: "fan", Site: "s1", Building: "B2", Zone: "z1"},
		{ID: "wv-z1", Kind: devices.KindActuator, Actuator: "water_valve", Site: "s1", Building: "B1", Zone: "z1"},
	} {
		act = append(act, d)
	}
	sim, err := firmwaresim.New(firmwaresim.Config{Broker: "tcp://" + broker.Addr, Devices: act, Interval: time.Hour, QoS: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-simDone })
	// The valves report open, the fan stopped, once connected.
	waitFor(t, 10*time.Second, "the actuators' first readings", func() bool {
		var d struct {
			Devices []struct {
				ID     string
				Online bool
			}
		}
		getJSON(t, c.Base+"/api/devices", operatorToken, &d)
		n := 0
		for _, x := range d.Devices {
			if strings.HasSuffix(x.ID, "-z1") && x.Online {
				n++
			}
		}
		return n == 3
	})

	ticketOf := func(device string) ticketing.Ticket {
		var tk ticketing.Ticket
		waitFor(t, 15*time.Second, "the ticket of "+device, func() bool {
			var list struct{ Tickets []ticketing.Ticket }
			getJSON(t, c.Base+"/api/tickets", operatorToken, &list)
			for _, x := range list.Tickets {
				if x.DeviceID == device {
					getJSON(t, fmt.Sprintf("%s/api/tickets/%d", c.Base, x.ID), operatorToken, &tk)
					return true
				}
			}
			return false
		})
		return tk
	}
	commandsOf := func(id int64, want string, states ...string) []ticketing.DeviceCommand {
		var tk ticketing.Ticket
		waitFor(t, 15*time.Second, want, func() bool {
			getJSON(t, fmt.Sprintf("%s/api/tickets/%d", c.Base, id), operatorToken, &tk)
			if len(tk.Commands) != len(states) {
				return false
			}
			for i, s := range states {
				if tk.Commands[i].State != s {
					return false
				}
			}
			return true
		})
		return tk.Commands
	}

	// Gas: shut and started at once, read back.
	publishGasL1(t, broker.Addr)
	gas := ticketOf("gas-b2-07")
	cmds := commandsOf(gas.ID, "gas valve shut and fan started", ticketing.CmdDone, ticketing.CmdDone)
	if cmds[0].Device != "gv-z1" || cmds[0].Set != "close" || cmds[0].Result != "read back open 0" || cmds[0].Attempts != 1 || cmds[0].ConfirmedBy != "" ||
		cmds[1].Device != "fan-z1" || cmds[1].Set != "start" || cmds[1].Result != "read back running 1" {
		t.Fatalf("gas ticket's commands %+v", cmds)
	}

	// Leak in z1: waits for the button, then closes.
	publish(t, broker.Addr, "sites/s1/devices/wl-b1-01/telemetry", fmt.Sprintf(`{"ts": %d, "metrics": {"leak": true, "battery_pct": 80}}`, time.Now().UnixMilli()))
	leak := ticketOf("wl-b1-01")
	cmds = commandsOf(leak.ID, "the water valve awaiting an operator", ticketing.CmdAwaiting)
	if resp := postJSON(t, fmt.Sprintf("%s/api/tickets/%d/commands/%d/confirm", c.Base, leak.ID, cmds[0].ID), patrolToken, ""); resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		t.Fatalf("patrol confirms: %d", resp.StatusCode)
	}
	if resp := postJSON(t, fmt.Sprintf("%s/api/tickets/%d/commands/%d/confirm", c.Base, leak.ID, cmds[0].ID), operatorToken, ""); resp.StatusCode != 200 {
		t.Fatalf("operator confirms: %d", resp.StatusCode)
	}
	cmds = commandsOf(leak.ID, "the water valve closed", ticketing.CmdDone)
	if cmds[0].Device != "wv-z1" || cmds[0].ConfirmedBy != "ops1" || cmds[0].Result != "read back open 0" {
		t.Fatalf("leak ticket's command %+v", cmds[0])
	}
	if resp := postJSON(t, fmt.Sprintf("%s/api/tickets/%d/commands/%d/confirm", c.Base, leak.ID, cmds[0].ID), operatorToken, ""); resp.StatusCode != http.StatusConflict {
		t.Fatalf("confirmed again: %d, want 409", resp.StatusCode)
	}

	// Leak in z2: its valve never answers: two sends, then a fault.
	publish(t, broker.Addr, "sites/s1/devices/wl-b3-01/telemetry", fmt.Sprintf(`{"ts": %d, "metrics": {"leak": true, "battery_pct": 80}}`, time.Now().UnixMilli()))
	stuck := ticketOf("wl-b3-01")
	cmds = commandsOf(stuck.ID, "z2's valve awaiting an operator", ticketing.CmdAwaiting)
	if resp := postJSON(t, fmt.Sprintf("%s/api/tickets/%d/commands/%d/confirm", c.Base, stuck.ID, cmds[0].ID), operatorToken, ""); resp.StatusCode != 200 {
		t.Fatalf("operator confirms: %d", resp.StatusCode)
	}
	cmds = commandsOf(stuck.ID, "z2's valve a fault", ticketing.CmdFailed)
	if cmds[0].Attempts != 2 || !strings.Contains(cmds[0].Result, "no reading of open 0") {
		t.Fatalf("stuck valve's command %+v", cmds[0])
	}
	var tk ticketing.Ticket
	getJSON(t, fmt.Sprintf("%s/api/tickets/%d", c.Base, stuck.ID), operatorToken, &tk)
	var notes []string
	for _, h := range tk.History {
		if h.Action == "device_command" {
			notes = append(notes, h.Note)
		}
	}
	want := []string{
		"close water_valve wv-z2: waits for an operator to confirm", "close water_valve wv-z2: confirmed by ops1",
		"close water_valve wv-z2: sent (attempt 1)", "close water_valve wv-z2: sent (attempt 2)",
	}
	if len(notes) != 5 || strings.Join(notes[:4], "|") != strings.Join(want, "|") || !strings.HasPrefix(notes[4], "close water_valve wv-z2: FAULT, no reading of open 0") {
		t.Fatalf("stuck valve's history:\n%s", strings.Join(notes, "\n"))
	}
	if got := drillScrape(t, c.Base, `caretaker_device_commands_total{outcome="failed"}`); got != 1 {
		t.Errorf("failed commands %v, want 1", got)
	}
	if got := drillScrape(t, c.Base, `caretaker_device_commands_total{outcome="done"}`); got != 3 {
		t.Errorf("done commands %v, want 3", got)
	}
}

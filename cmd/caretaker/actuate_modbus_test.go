package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	firmwaresim "github.com/caretaker-iot/caretaker/firmware-sim"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// TestModbusDeviceActions runs a caretaker serve process over
// firmware-sim's Modbus TCP server: leak probe wl-z1 is wet from the
// start; its L1 alarm's confirm: auto action closes z1's water valve, a
// writable coil of a Modbus valve, through the poll loop of its address;
// the ticket shows it done, read back at once, in its history; and the
// probe, in the valve's zone, reads dry. z2's valve is behind the same
// gateway but does not answer: the write is tried actions.attempts
// times, then a fault on the ticket says why. z3's valve model has its
// open as a discrete input: the command fails at once, nothing written.
func TestModbusDeviceActions(t *testing.T) {
	broker := testserver.Mosquitto(t)
	port := testserver.FreePort(t)
	mb := func(unit int) string {
		return fmt.Sprintf(`{address: "tcp://127.0.0.1:%d", unit: %d, interval: 200ms, timeout: 500ms}`, port, unit)
	}
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return operatorConfig(broker.Addr, "caretaker-mbact", `  - {id: wl-z1, kind: water_leak, site: s1, building: B1, location: "B1 pump room", zone: z1, model: aquasense-lp1, modbus: `+mb(1)+`}
  - {id: wv-z1, kind: actuator, actuator: water_valve, site: s1, building: B1, location: "B1 water main", zone: z1, model: valvo-mv2, modbus: `+mb(2)+`}
  - {id: wl-z2, kind: water_leak, site: s1, building: B3, location: "B3 tank room", zone: z2, model: aquasense-lp1, modbus: `+mb(3)+`}
  - {id: wv-z2, kind: actuator, actuator: water_valve, site: s1, building: B3, location: "B3 water main", zone: z2, model: valvo-mv2, modbus: `+mb(4)+`}
  - {id: wl-z3, kind: water_leak, site: s1, building: B4, location: "B4 tank room", zone: z3, model: aquasense-lp1, modbus: `+mb(5)+`}
  - {id: wv-z3, kind: actuator, actuator: water_valve, site: s1, building: B4, location: "B4 water main", zone: z3, model: read-only-valve, modbus: `+mb(6)+`}`)(httpAddr, dir) + `
models:
  read-only-valve:
    registers:
      - {metric: open, table: discrete, address: 0, type: bool}
modbus: {max_backoff: 1s}
actions: {read_back: 1s, attempts: 2}
rules:
  define:
    - id: water-leak
      name: Water leak detected
      kind: water_leak
      metric: leak
      condition: {op: is, value: true}
      for: 0s
      clear_for: 1h
      severity: critical
      commands: [{actuator: water_valve, set: close, confirm: auto}]
`
	})
	// The simulator serves both probes and z1's valve; wv-z2's unit is
	// not there (the gateway answers "target failed to respond").
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	simDevs := []devices.Device{
		{ID: "wl-z1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1", Zone: "z1", Model: "aquasense-lp1", Modbus: &devices.Modbus{Address: addr, Unit: 1}},
		{ID: "wv-z1", Kind: devices.KindActuator, Actuator: "water_valve", Site: "s1", Building: "B1", Zone: "z1", Model: "valvo-mv2", Modbus: &devices.Modbus{Address: addr, Unit: 2}},
		{ID: "wl-z2", Kind: devices.KindWaterLeak, Site: "s1", Building: "B3", Zone: "z2", Model: "aquasense-lp1", Modbus: &devices.Modbus{Address: addr, Unit: 3}},
		{ID: "wl-z3", Kind: devices.KindWaterLeak, Site: "s1", Building: "B4", Zone: "z3", Model: "aquasense-lp1", Modbus: &devices.Modbus{Address: addr, Unit: 5}},
	}
	sim, err := firmwaresim.New(firmwaresim.Config{Devices: simDevs, Interval: 200 * time.Millisecond, Seed: 3,
		Scenario: firmwaresim.Scenario{Name: "wet", Steps: []firmwaresim.Step{
			{Device: "wl-z1", Metric: "leak", To: true}, {Device: "wl-z2", Metric: "leak", To: true},
			{Device: "wl-z3", Metric: "leak", To: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-simDone })
	ct.startProcess(t, testkit.CaretakerBinary(t))

	ticketOf := func(device string, states ...string) ticketing.Ticket {
		var tk ticketing.Ticket
		waitFor(t, 20*time.Second, device+"'s ticket with commands "+strings.Join(states, ","), func() bool {
			var list struct{ Tickets []ticketing.Ticket }
			getJSON(t, ct.Base+"/api/tickets", operatorToken, &list)
			for _, x := range list.Tickets {
				if x.DeviceID != device {
					continue
				}
				getJSON(t, fmt.Sprintf("%s/api/tickets/%d", ct.Base, x.ID), operatorToken, &tk)
				if len(tk.Commands) != len(states) {
					return false
				}
				for i, s := range states {
					if tk.Commands[i].State != s {
						return false
					}
				}
				return true
			}
			return false
		})
		return tk
	}
	notes := func(tk ticketing.Ticket) []string {
		var out []string
		for _, h := range tk.History {
			if h.Action == "device_command" {
				out = append(out, h.Note)
			}
		}
		return out
	}

	// z1: closed at once, read back from the coil.
	tk := ticketOf("wl-z1", ticketing.CmdDone)
	if c := tk.Commands[0]; c.Device != "wv-z1" || c.Set != "close" || c.Result != "read back open 0" || c.Attempts != 1 || c.ConfirmedBy != "" {
		t.Fatalf("z1's command %+v", c)
	}
	if got, want := strings.Join(notes(tk), "|"), "close water_valve wv-z1: sent at once (confirm: auto)|close water_valve wv-z1: sent (attempt 1)|close water_valve wv-z1: done, read back open 0"; got != want {
		t.Fatalf("z1's history:\n%s\nwant\n%s", got, want)
	}
	// The valve polled shut; the probe behind it dries.
	reading := func(device, metric string) string {
		var d struct {
			Readings map[string]struct{ Value any }
		}
		getJSON(t, ct.Base+"/api/devices/"+device, operatorToken, &d)
		r, ok := d.Readings[metric]
		if !ok {
			return ""
		}
		return fmt.Sprint(r.Value)
	}
	waitFor(t, 10*time.Second, "wv-z1 polled shut and wl-z1 dry", func() bool {
		return reading("wv-z1", "open") == "false" && reading("wl-z1", "leak") == "false"
	})
	if got := reading("wl-z2", "leak"); got != "true" {
		t.Fatalf("z2's probe, behind a valve that did not close, reads leak %q", got)
	}

	// z2: the unit does not answer: two attempts, then the fault.
	tk = ticketOf("wl-z2", ticketing.CmdFailed)
	c := tk.Commands[0]
	if c.Device != "wv-z2" || c.Attempts != 2 || !strings.Contains(c.Result, "no reading of open 0") || !strings.Contains(c.Result, "last attempt not sent") {
		t.Fatalf("z2's command %+v", c)
	}
	n := notes(tk)
	if len(n) != 4 || n[1] != "close water_valve wv-z2: sent (attempt 1)" || n[2] != "close water_valve wv-z2: sent (attempt 2)" ||
		!strings.HasPrefix(n[3], "close water_valve wv-z2: FAULT, no reading of open 0") {
		t.Fatalf("z2's history:\n%s", strings.Join(n, "\n"))
	}
	// z3: a read-only entry: refused, a fault at once, never retried.
	tk = ticketOf("wl-z3", ticketing.CmdFailed)
	if c := tk.Commands[0]; c.Device != "wv-z3" || c.Attempts != 0 || !strings.Contains(c.Result, "not sent: modbus write wv-z3: open is a discrete entry, read-only") {
		t.Fatalf("z3's command %+v", c)
	}
	if got := drillScrape(t, ct.Base, `caretaker_device_commands_total{outcome="send_error"}`); got != 3 {
		t.Errorf("send errors %v, want 3", got)
	}
	if got := drillScrape(t, ct.Base, `caretaker_device_commands_total{outcome="failed"}`); got != 2 {
		t.Errorf("failed commands %v, want 2", got)
	}
	if got := drillScrape(t, ct.Base, `caretaker_device_commands_total{outcome="done"}`); got != 1 {
		t.Errorf("done commands %v, want 1", got)
	}
}

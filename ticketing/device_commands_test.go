package ticketing

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDeviceCommands: on both engines, an alarm's commands go on its
// ticket once each (a repeat is ignored), an operator command waits for
// the button and records who pressed it, the sender's steps are history,
// and a command not awaiting confirmation is refused.
func TestDeviceCommands(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		a := gasAlarm(f, 35)
		mustHandle(t, f, a)
		cmds := []DeviceCommand{
			{Device: "gv-b2", Actuator: "gas_valve", Set: "close", Confirm: "auto"},
			{Device: "wv-b2", Actuator: "water_valve", Set: "close", Confirm: "operator"},
		}
		added, err := f.svc.AddDeviceCommands(ctx, a.ID, cmds)
		if err != nil {
			t.Fatal(err)
		}
		if len(added) != 2 || added[0].State != CmdQueued || added[1].State != CmdAwaiting || added[0].TicketID == 0 {
			t.Fatalf("added %+v", added)
		}
		again, err := f.svc.AddDeviceCommands(ctx, a.ID, cmds)
		if err != nil || len(again) != 0 {
			t.Fatalf("added again: %+v, %v; want none", again, err)
		}
		if none, err := f.svc.AddDeviceCommands(ctx, "no-such-alarm", cmds); err != nil || none != nil {
			t.Fatalf("alarm without a ticket: %+v, %v", none, err)
		}
		id := added[0].TicketID
		pending, err := f.svc.PendingDeviceCommands(ctx)
		if err != nil || len(pending) != 1 || pending[0].Device != "gv-b2" {
			t.Fatalf("pending %+v, %v; want the auto one only", pending, err)
		}
		if _, err := f.svc.ConfirmDeviceCommand(ctx, Actor{"tech1", RoleTechnician}, id, added[1].ID); !errors.Is(err, ErrForbidden) {
			t.Fatalf("technician confirms: %v", err)
		}
		f.clock.Advance(5 * time.Second)
		c, err := f.svc.ConfirmDeviceCommand(ctx, operator, id, added[1].ID)
		if err != nil || c.State != CmdQueued || c.ConfirmedBy != "ops1" || !c.ConfirmedAt.Equal(f.clock.Now()) {
			t.Fatalf("confirm: %+v, %v", c, err)
		}
		if _, err := f.svc.ConfirmDeviceCommand(ctx, operator, id, added[1].ID); !errors.Is(err, ErrIllegal) {
			t.Fatalf("confirmed twice: %v", err)
		}
		if _, err := f.svc.ConfirmDeviceCommand(ctx, operator, id+1000, added[1].ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another ticket's command: %v", err)
		}
		if err := f.svc.DeviceCommandSent(ctx, added[0].ID, 1); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeviceCommandDone(ctx, added[0].ID, "read back open 0"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeviceCommandSent(ctx, added[1].ID, 3); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.DeviceCommandFailed(ctx, added[1].ID, "still open after 3 attempts"); err != nil {
			t.Fatal(err)
		}
		tk := mustGet(t, f, id)
		if len(tk.Commands) != 2 || tk.Commands[0].State != CmdDone || tk.Commands[1].State != CmdFailed || tk.Commands[1].Attempts != 3 ||
			tk.Commands[0].Result != "read back open 0" || tk.Commands[1].ConfirmedBy != "ops1" {
			t.Fatalf("ticket's commands %+v", tk.Commands)
		}
		var notes []string
		for _, h := range tk.History {
			if h.Action == "device_command" {
				notes = append(notes, h.Actor+": "+h.Note)
			}
		}
		want := []string{
			"device actions: close gas_valve gv-b2: sent at once (confirm: auto)",
			"device actions: close water_valve wv-b2: waits for an operator to confirm",
			"ops1: close water_valve wv-b2: confirmed by ops1",
			"device actions: close gas_valve gv-b2: sent (attempt 1)",
			"device actions: close gas_valve gv-b2: done, read back open 0",
			"device actions: close water_valve wv-b2: sent (attempt 3)",
			"device actions: close water_valve wv-b2: FAULT, still open after 3 attempts",
		}
		if strings.Join(notes, "\n") != strings.Join(want, "\n") {
			t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(notes, "\n"), strings.Join(want, "\n"))
		}
		if pending, _ := f.svc.PendingDeviceCommands(ctx); len(pending) != 0 {
			t.Fatalf("pending after done and failed: %+v", pending)
		}
	})
}

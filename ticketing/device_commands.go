package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// States of a device command.
const (
	CmdAwaiting = "awaiting_operator" // confirm: operator, nobody has pressed the button yet
	CmdQueued   = "queued"            // to be sent
	CmdSent     = "sent"              // sent, waiting for the read-back (Attempts so far)
	CmdDone     = "done"              // the device's reading shows it took effect
	CmdFailed   = "failed"            // it did not: a fault on the ticket
)

// DeviceCommand is one device action on an alarm's ticket: set an
// actuator of the alarm device's zone (close its water valve). The
// ticket service only keeps it and its history; a component outside
// (cmd wires it) sends it and reads it back.
type DeviceCommand struct {
	ID          int64      `json:"id"`
	TicketID    int64      `json:"ticket_id"`
	AlarmID     string     `json:"alarm_id"`
	Device      string     `json:"device_id"`
	Actuator    string     `json:"actuator"`
	Set         string     `json:"set"`
	Confirm     string     `json:"confirm"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmedBy string     `json:"confirmed_by,omitempty"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
	DoneAt      *time.Time `json:"done_at,omitempty"`
	Result      string     `json:"result,omitempty"`
}

// RoleDevices is the role of the history rows the device actions write.
const RoleDevices = "devices"

var devicesActor = Actor{Name: "device actions", Role: RoleDevices}

func (c DeviceCommand) what() string { return c.Set + " " + c.Actuator + " " + c.Device }

// AddDeviceCommands puts the commands of alarm alarmID on its ticket
// (confirm operator: awaiting the button; auto: queued), each once: a
// command of the same alarm, device and action already there is left as
// it is. It returns the commands added; an alarm without a ticket has
// none (nil, nil).
func (s *Service) AddDeviceCommands(ctx context.Context, alarmID string, cmds []DeviceCommand) ([]DeviceCommand, error) {
	var added []DeviceCommand
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		added = nil
		var ticketID sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT ticket_id FROM alarms WHERE id = ?", alarmID).Scan(&ticketID)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !ticketID.Valid) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("alarm %s: %w", alarmID, err)
		}
		now := s.now()
		for _, c := range cmds {
			c.TicketID, c.AlarmID, c.CreatedAt, c.State = ticketID.Int64, alarmID, now, CmdQueued
			if c.Confirm == "operator" {
				c.State = CmdAwaiting
			}
			err := tx.QueryRowContext(ctx, `INSERT INTO device_commands (ticket_id, alarm_id, device_id, actuator, command, confirm, state, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (alarm_id, device_id, command) DO NOTHING RETURNING id`,
				c.TicketID, alarmID, c.Device, c.Actuator, c.Set, c.Confirm, c.State, ms(now)).Scan(&c.ID)
			if errors.Is(err, sql.ErrNoRows) {
				continue // there already
			}
			if err != nil {
				return fmt.Errorf("ticket %d device command: %w", c.TicketID, err)
			}
			note := c.what() + ": sent at once (confirm: auto)"
			if c.State == CmdAwaiting {
				note = c.what() + ": waits for an operator to confirm"
			}
			if err := s.addHistory(ctx, tx, c.TicketID, devicesActor, "device_command", note); err != nil {
				return err
			}
			added = append(added, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("device commands of alarm %s: %w", alarmID, err)
	}
	if len(added) > 0 {
		s.notifyTicket(ctx, added[0].TicketID)
	}
	return added, nil
}

// ConfirmDeviceCommand is an operator's press of the button of command
// cmdID on ticket id: it is queued to be sent, and the history says who
// pressed it. Only operators (and admins) may; a command not awaiting
// confirmation (confirmed already, or auto) is an *ActionError wrapping
// ErrIllegal.
func (s *Service) ConfirmDeviceCommand(ctx context.Context, by Actor, id, cmdID int64) (DeviceCommand, error) {
	const act = "confirm_command"
	if by.Role != RoleOperator && by.Role != RoleAdmin {
		return DeviceCommand{}, &ActionError{Action: act, Kind: ErrForbidden, Reason: "only an operator confirms a device action"}
	}
	var c DeviceCommand
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = scanCommand(tx.QueryRowContext(ctx, "SELECT "+commandColumns+" FROM device_commands WHERE id = ? AND ticket_id = ?", cmdID, id)); err != nil {
			return err
		}
		if c.State != CmdAwaiting {
			return &ActionError{Action: act, Kind: ErrIllegal, Reason: fmt.Sprintf("%s is %s, not awaiting confirmation", c.what(), c.State)}
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, "UPDATE device_commands SET state = ?, confirmed_by = ?, confirmed_at = ? WHERE id = ?",
			CmdQueued, by.Name, ms(now), cmdID); err != nil {
			return fmt.Errorf("confirm device command %d: %w", cmdID, err)
		}
		c.State, c.ConfirmedBy, c.ConfirmedAt = CmdQueued, by.Name, &now
		return s.addHistory(ctx, tx, id, by, "device_command", c.what()+": confirmed by "+by.Name)
	})
	if err != nil {
		return DeviceCommand{}, err
	}
	s.notifyTicket(ctx, id)
	return c, nil
}

// PendingDeviceCommands lists the commands to send (queued) or waiting
// for their read-back (sent), oldest first: after a restart the sender
// takes them up again.
func (s *Service) PendingDeviceCommands(ctx context.Context) ([]DeviceCommand, error) {
	return queryCommands(ctx, s.db, "SELECT "+commandColumns+" FROM device_commands WHERE state IN (?, ?) ORDER BY id", CmdQueued, CmdSent)
}

// DeviceCommandSent records attempt n of command id.
func (s *Service) DeviceCommandSent(ctx context.Context, id int64, n int) error {
	return s.commandStep(ctx, id, func(tx *sql.Tx, c DeviceCommand) (string, error) {
		_, err := tx.ExecContext(ctx, "UPDATE device_commands SET state = ?, attempts = ?, sent_at = ? WHERE id = ?", CmdSent, n, ms(s.now()), id)
		return fmt.Sprintf("%s: sent (attempt %d)", c.what(), n), err
	})
}

// DeviceCommandDone records that the device's reading shows command id
// took effect (result: what it read).
func (s *Service) DeviceCommandDone(ctx context.Context, id int64, result string) error {
	return s.commandStep(ctx, id, func(tx *sql.Tx, c DeviceCommand) (string, error) {
		_, err := tx.ExecContext(ctx, "UPDATE device_commands SET state = ?, done_at = ?, result = ? WHERE id = ?", CmdDone, ms(s.now()), result, id)
		return c.what() + ": done, " + result, err
	})
}

// DeviceCommandFailed records that command id did not take effect: a
// fault on the ticket.
func (s *Service) DeviceCommandFailed(ctx context.Context, id int64, result string) error {
	return s.commandStep(ctx, id, func(tx *sql.Tx, c DeviceCommand) (string, error) {
		_, err := tx.ExecContext(ctx, "UPDATE device_commands SET state = ?, done_at = ?, result = ? WHERE id = ?", CmdFailed, ms(s.now()), result, id)
		return c.what() + ": FAULT, " + result, err
	})
}

func (s *Service) commandStep(ctx context.Context, id int64, step func(*sql.Tx, DeviceCommand) (string, error)) error {
	var ticketID int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		c, err := scanCommand(tx.QueryRowContext(ctx, "SELECT "+commandColumns+" FROM device_commands WHERE id = ?", id))
		if err != nil {
			return err
		}
		ticketID = c.TicketID
		note, err := step(tx, c)
		if err != nil {
			return fmt.Errorf("device command %d: %w", id, err)
		}
		return s.addHistory(ctx, tx, c.TicketID, devicesActor, "device_command", note)
	})
	if err != nil {
		return err
	}
	s.notifyTicket(ctx, ticketID)
	return nil
}

// notifyTicket tells the screens ticket id changed; a ticket that cannot
// be read is left to the next change.
func (s *Service) notifyTicket(ctx context.Context, id int64) {
	t, err := s.Get(ctx, id)
	if err != nil {
		return
	}
	t.History, t.Reporters = nil, nil
	s.cfg.Notifier.Notify(ticketEvent(EventTicketUpdated, t))
}

const commandColumns = `id, ticket_id, alarm_id, device_id, actuator, command, confirm, state, attempts, created_at,
	confirmed_by, confirmed_at, sent_at, done_at, result`

func scanCommand(r rowScanner) (DeviceCommand, error) {
	var c DeviceCommand
	var created int64
	var confirmed, sent, done sql.NullInt64
	err := r.Scan(&c.ID, &c.TicketID, &c.AlarmID, &c.Device, &c.Actuator, &c.Set, &c.Confirm, &c.State, &c.Attempts, &created,
		&c.ConfirmedBy, &confirmed, &sent, &done, &c.Result)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("device command: %w", ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("device command: %w", err)
	}
	c.CreatedAt = fromMS(created)
	for _, p := range []struct {
		n   sql.NullInt64
		dst **time.Time
	}{{confirmed, &c.ConfirmedAt}, {sent, &c.SentAt}, {done, &c.DoneAt}} {
		if p.n.Valid {
			t := fromMS(p.n.Int64)
			*p.dst = &t
		}
	}
	return c, nil
}

func queryCommands(ctx context.Context, q querier, query string, args ...any) ([]DeviceCommand, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("device commands: %w", err)
	}
	defer rows.Close()
	var out []DeviceCommand
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("device commands: %w", err)
	}
	return out, nil
}

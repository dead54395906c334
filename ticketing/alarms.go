package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/rules"
)

// StoredAlarm is an alarm as kept: the engine's view plus the human
// acknowledgement and the ticket it opened.
type StoredAlarm struct {
	rules.Alarm
	Acked        bool       `json:"acked"`
	AckedBy      string     `json:"acked_by,omitempty"`
	AckedAt      *time.Time `json:"acked_at,omitempty"`
	TicketID     int64      `json:"ticket_id,omitempty"`
	TicketNumber string     `json:"ticket_number,omitempty"`
	// Status is the alarm as operators handle it, from its state and
	// its acknowledgement: active_unack, active_ack, cleared_unack (kept
	// on screen until someone acknowledges it) or cleared_ack.
	Status string `json:"status"`
	// TicketStatus is the status of the alarm's ticket; TicketOverride is
	// set when the ticket was resolved while the alarm was still active.
	TicketStatus   Status    `json:"ticket_status,omitempty"`
	TicketOverride *Override `json:"ticket_override,omitempty"`
}

// Alarm statuses (StoredAlarm.Status), as ThingsBoard's alarm table has them.
const (
	AlarmActiveUnack  = "active_unack"
	AlarmActiveAck    = "active_ack"
	AlarmClearedUnack = "cleared_unack"
	AlarmClearedAck   = "cleared_ack"
)

func alarmStatus(state rules.AlarmState, acked bool) string {
	switch {
	case state != rules.Cleared && !acked:
		return AlarmActiveUnack
	case state != rules.Cleared:
		return AlarmActiveAck
	case !acked:
		return AlarmClearedUnack
	}
	return AlarmClearedAck
}

// Alarm states for Alarms.
const (
	AlarmsAll     = ""
	AlarmsActive  = "active"  // raised or updated, not cleared, acked or not
	AlarmsAcked   = "acked"   // acknowledged and not cleared
	AlarmsCleared = "cleared" // over
	// AlarmsUnacked: nobody has acknowledged it yet, active or cleared.
	AlarmsUnacked = "unacked"
	// AlarmsLive is what a screen shows: every alarm still active, and
	// every cleared one nobody has acknowledged (shadow trials aside).
	AlarmsLive = "live"
)

// alarmsLimit caps an alarm list; the newest come first.
const alarmsLimit = 1000

// systemActor signs what caretaker does by itself.
var systemActor = Actor{Name: "caretaker", Role: "system"}

// CategoryOf is the ticket category of a device kind.
func CategoryOf(k devices.Kind) string {
	switch k {
	case devices.KindGas:
		return "gas"
	case devices.KindWaterLeak, devices.KindPower:
		return "water_electric"
	default:
		return "equipment"
	}
}

// sensorIncident is the incident key of a sensor ticket: one device and
// what it measures. The rules on one metric of one device are one incident,
// so gas passing the pre-alarm level and then the alarm level is one ticket
// whose level rises, not two tickets for the same room.
func sensorIncident(a rules.Alarm) string {
	if a.Event != "" {
		return "device:" + a.Device + ":event:" + a.Event
	}
	if a.Metric != "" {
		return "device:" + a.Device + ":" + a.Metric
	}
	return "device:" + a.Device + ":rule:" + a.RuleID
}

// HandleAlarm stores an alarm from the rules engine and opens, reopens or
// annotates its ticket in the same transaction.
//
// Raised: the alarm row is inserted (a replayed raise of the same id is a
// no-op: no second ticket, no second event); unless the alarm is a shadow
// one, its rule+device incident gets an L<level> sensor ticket: a new one,
// the open one (the alarm is attached, with a history note), or one
// resolved within ReopenWindow (reopened). Then "alarm.raised" and
// "ticket.created" or "ticket.updated" are sent.
// Updated: value and peak are stored, "alarm.updated" sent.
// Cleared: state and time are stored, the ticket gets a history note, and
// "alarm.cleared" is sent; the ticket stays open for a human to close.
func (s *Service) HandleAlarm(ctx context.Context, a rules.Alarm) error {
	if a.ID == "" || a.RuleID == "" || a.Device == "" {
		return fmt.Errorf("handle alarm: id, rule_id and device_id are required (got %q, %q, %q)", a.ID, a.RuleID, a.Device)
	}
	var err error
	switch a.State {
	case rules.Raised:
		start := time.Now()
		if err = s.alarmRaised(ctx, a); err == nil {
			s.metrics.observeCreate(start)
		}
	case rules.Updated:
		err = s.alarmUpdated(ctx, a)
	case rules.Cleared:
		err = s.alarmCleared(ctx, a)
	default:
		err = fmt.Errorf("unknown state %q", a.State)
	}
	if err != nil {
		return fmt.Errorf("handle alarm %s: %w", a.ID, err)
	}
	return nil
}

func alarmLevel(a rules.Alarm) int {
	if a.Level >= 1 && a.Level <= 3 {
		return a.Level
	}
	return a.Severity.Level()
}

func (s *Service) alarmRaised(ctx context.Context, a rules.Alarm) error {
	var (
		stored   StoredAlarm
		ticket   Ticket
		event    string
		replay   bool
		recurred bool
		queued   bool
		joined   []string
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stored, ticket, event, replay, recurred, queued, joined = StoredAlarm{}, Ticket{}, "", false, false, false, nil // a run again starts afresh
		inserted, err := s.insertAlarm(ctx, tx, a)
		if err != nil {
			return err
		}
		if !inserted {
			replay = true
			return nil
		}
		if queued, err = s.triaged(ctx, tx, a); err != nil {
			return err
		}
		if queued {
			if err := s.enqueue(ctx, tx, a); err != nil {
				return err
			}
		} else if !a.Shadow {
			ticket, event, recurred, err = s.sensorTicket(ctx, tx, a)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE alarms SET ticket_id = ? WHERE id = ?", ticket.ID, a.ID); err != nil {
				return fmt.Errorf("link alarm to ticket: %w", err)
			}
			if recurred {
				if err := s.refreshRecurrence(ctx, tx, ticket.ID); err != nil {
					return err
				}
			}
			// Alarms of the incident waiting for triage join its ticket:
			// a level 1 alarm on it does not wait for anyone.
			if joined, err = s.joinQueued(ctx, tx, sensorIncident(a), ticket.ID, systemActor,
				fmt.Sprintf("alarm %s (level %d) of the same incident opened its ticket", a.ID, alarmLevel(a))); err != nil {
				return err
			}
			if recurred || len(joined) > 0 {
				if ticket, err = getTicket(ctx, tx, ticket.ID); err != nil {
					return err
				}
			}
		}
		stored, err = getAlarm(ctx, tx, a.ID)
		return err
	})
	if err != nil {
		return err
	}
	if replay {
		s.cfg.Logger.Debug("alarm raise replayed", "alarm", a.ID)
		return nil
	}
	s.cfg.Notifier.Notify(alarmEvent(EventAlarmRaised, stored))
	if event != "" {
		ticket = s.withClocks(ctx, ticket)
		s.cfg.Notifier.Notify(ticketEvent(event, ticket))
	}
	if recurred {
		s.cfg.Notifier.Notify(ticketEvent(EventTicketRecurred, ticket))
	}
	if queued {
		s.notifyTriage(ctx, EventTriageQueued, []string{a.ID})
	}
	s.notifyTriage(ctx, EventTriageDecided, joined)
	return nil
}

// insertAlarm stores a new alarm; false when its id is already there.
func (s *Service) insertAlarm(ctx context.Context, tx *sql.Tx, a rules.Alarm) (bool, error) {
	var cleared any
	if a.ClearedAt != nil {
		cleared = ms(*a.ClearedAt)
	}
	raised := a.RaisedAt
	if raised.IsZero() {
		raised = s.now()
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO alarms (id, rule_id, rule_name, device_id, kind, site, building,
		location, metric, event, severity, level, state, value, peak, message, raised_at, cleared_at, shadow, updated_at,
		flapping, predicted_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO NOTHING`,
		a.ID, a.RuleID, a.RuleName, a.Device, a.Kind, a.Site, a.Building, a.Location, a.Metric, a.Event,
		a.Severity, alarmLevel(a), a.State, a.Value, a.Peak, a.Message, ms(raised), cleared,
		a.Shadow, ms(s.now()), a.Flapping, nullMS(a.PredictedAt))
	if err != nil {
		return false, fmt.Errorf("insert alarm: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// sensorTicket finds or makes the ticket of a raised alarm's incident and
// says which event tells about it, and whether the alarm came back on an
// open ticket (a recurrence, recorded in ticket_recurrences).
func (s *Service) sensorTicket(ctx context.Context, tx *sql.Tx, a rules.Alarm) (Ticket, string, bool, error) {
	key := sensorIncident(a)
	level := alarmLevel(a)
	why := fmt.Sprintf("alarm %s raised: %s", a.ID, a.Message)

	// The open ticket of the incident, if any: attach.
	attach := func(id int64) (Ticket, string, bool, error) {
		if err := s.addHistory(ctx, tx, id, systemActor, "alarm_attached", why); err != nil {
			return Ticket{}, "", false, err
		}
		// A more severe alarm becomes the one the sensor ticket is about.
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET alarm_id = ?, description = ?
			WHERE id = ? AND source = 'sensor' AND level > ?`, a.ID, a.Message, id, level); err != nil {
			return Ticket{}, "", false, fmt.Errorf("ticket %d alarm: %w", id, err)
		}
		// A report about the device or the place now has its alarm.
		if _, err := tx.ExecContext(ctx, `UPDATE tickets SET alarm_id = ?,
			device_id = CASE WHEN device_id = '' THEN ? ELSE device_id END
			WHERE id = ? AND alarm_id = ''`, a.ID, a.Device, id); err != nil {
			return Ticket{}, "", false, fmt.Errorf("ticket %d alarm: %w", id, err)
		}
		recurred, err := s.recurrence(ctx, tx, id, a)
		if err != nil {
			return Ticket{}, "", false, err
		}
		if err := s.raiseLevel(ctx, tx, id, level, systemActor, why); err != nil {
			return Ticket{}, "", false, err
		}
		t, err := getTicket(ctx, tx, id)
		return t, EventTicketUpdated, recurred, err
	}
	id, found, err := s.openIncidentTicket(ctx, tx, a)
	switch {
	case err != nil:
		return Ticket{}, "", false, err
	case found:
		return attach(id)
	}

	// Resolved or closed a short while ago: the fault is back, reopen.
	// That ticket may be a report's the alarm joined: the one an earlier
	// alarm of this rule and device was on, unless its incident has
	// another open ticket meanwhile.
	since := ms(s.now().Add(-s.cfg.ReopenWindow))
	err = tx.QueryRowContext(ctx, `SELECT t.id FROM tickets t WHERE t.status IN ('resolved','closed') AND t.done_at >= ?2
		AND (t.incident_key = ?1 OR (t.id IN (SELECT ticket_id FROM alarms WHERE rule_id = ?3 AND device_id = ?4 AND ticket_id IS NOT NULL)
			AND NOT EXISTS (SELECT 1 FROM tickets o WHERE o.incident_key = t.incident_key AND o.status IN `+openStatuses+`)))
		ORDER BY t.done_at DESC, t.id DESC LIMIT 1`, key, since, a.RuleID, a.Device).Scan(&id)
	switch {
	case err == nil:
		if _, err := tx.ExecContext(ctx, "UPDATE tickets SET alarm_id = ? WHERE id = ?", a.ID, id); err != nil {
			return Ticket{}, "", false, fmt.Errorf("reopen ticket %d: %w", id, err)
		}
		if err := s.addHistory(ctx, tx, id, systemActor, "reopened",
			fmt.Sprintf("reopened: alarm %s raised again within %s of resolution: %s", a.ID, s.cfg.ReopenWindow, a.Message)); err != nil {
			return Ticket{}, "", false, err
		}
		if err := s.raiseLevel(ctx, tx, id, level, systemActor, why); err != nil {
			return Ticket{}, "", false, err
		}
		if err := s.restartFlow(ctx, tx, id); err != nil {
			return Ticket{}, "", false, err
		}
		t, err := getTicket(ctx, tx, id)
		return t, EventTicketUpdated, false, err
	case !errors.Is(err, sql.ErrNoRows):
		return Ticket{}, "", false, fmt.Errorf("find resolved ticket: %w", err)
	}

	t := newTicket{Ticket: Ticket{
		Source: SourceSensor, Level: level, Category: CategoryOf(a.Kind),
		Site: a.Site, Building: a.Building, Location: a.Location, Scope: ScopePublic,
		DeviceID: a.Device, AlarmID: a.ID, Description: a.Message,
	}, incidentKey: key}
	id, created, err := s.insertTicket(ctx, tx, t, systemActor, fmt.Sprintf("opened by rule %s (alarm %s)", a.RuleID, a.ID))
	if err != nil {
		return Ticket{}, "", false, err
	}
	if !created {
		// Another writer opened the incident's ticket in between: the
		// unique index stopped a second one; attach to it.
		err := tx.QueryRowContext(ctx, "SELECT id FROM tickets WHERE incident_key = ? AND status IN "+openStatuses, key).Scan(&id)
		if err != nil {
			return Ticket{}, "", false, fmt.Errorf("find open ticket after conflict: %w", err)
		}
		return attach(id)
	}
	got, err := getTicket(ctx, tx, id)
	return got, EventTicketCreated, false, err
}

// openIncidentTicket finds the open ticket of a raised alarm's incident:
// its sensor ticket, else a report filed before the alarm about the same
// device, or the same site, building, location and category.
func (s *Service) openIncidentTicket(ctx context.Context, tx *sql.Tx, a rules.Alarm) (int64, bool, error) {
	var id int64
	err := tx.QueryRowContext(ctx, "SELECT id FROM tickets WHERE incident_key = ? AND status IN "+openStatuses, sensorIncident(a)).Scan(&id)
	switch {
	case err == nil:
		return id, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, false, fmt.Errorf("find open ticket: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT id FROM tickets WHERE status IN `+openStatuses+` AND source <> 'sensor'
		AND (device_id = ?1 OR (?2 <> '' AND device_id = '' AND scope = 'public' AND site = ?3 AND building = ?4
			AND location = ?2 AND category = ?5))
		ORDER BY (device_id = ?1) DESC, level ASC, id ASC LIMIT 1`,
		a.Device, a.Location, a.Site, a.Building, CategoryOf(a.Kind)).Scan(&id)
	switch {
	case err == nil:
		return id, true, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, false, fmt.Errorf("find open report: %w", err)
	}
	return 0, false, nil
}

func (s *Service) alarmUpdated(ctx context.Context, a rules.Alarm) error {
	var stored StoredAlarm
	var known bool
	var peakTicket Ticket // the ticket whose description the update changed
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		known = false
		res, err := tx.ExecContext(ctx, `UPDATE alarms SET state = 'updated', value = ?, peak = ?,
			message = coalesce(nullif(?, ''), message), flapping = ?, predicted_at = ?, updated_at = ?
			WHERE id = ? AND state <> 'cleared'`,
			a.Value, a.Peak, a.Message, a.Flapping, nullMS(a.PredictedAt), ms(s.now()), a.ID)
		if err != nil {
			return fmt.Errorf("update alarm: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		known = true
		stored, err = getAlarm(ctx, tx, a.ID)
		if err != nil || stored.TicketID == 0 {
			return err
		}
		// The sensor ticket about this alarm says its worst reading (the
		// message quotes the peak), not the first one over the threshold.
		if a.Message != "" {
			res, err := tx.ExecContext(ctx, `UPDATE tickets SET description = ?, updated_at = ?
				WHERE id = ? AND source = 'sensor' AND alarm_id = ? AND description <> ?`,
				a.Message, ms(s.now()), stored.TicketID, a.ID, a.Message)
			if err != nil {
				return fmt.Errorf("ticket %d peak: %w", stored.TicketID, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				if peakTicket, err = getTicket(ctx, tx, stored.TicketID); err != nil {
					return err
				}
			}
		}
		return s.refreshRecurrence(ctx, tx, stored.TicketID)
	})
	if err != nil {
		return err
	}
	if !known {
		var exists int
		if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM alarms WHERE id = ?", a.ID).Scan(&exists); err != nil {
			return fmt.Errorf("find alarm: %w", err)
		}
		if exists > 0 {
			return nil // update after clear: late, ignore
		}
		// The raise was missed (e.g. a restart in between): the alarm
		// holds, so it is handled as a raise, and gets its ticket.
		s.cfg.Logger.Warn("alarm update for an unknown alarm, storing it as raised", "alarm", a.ID)
		return s.alarmRaised(ctx, a)
	}
	s.cfg.Notifier.Notify(alarmEvent(EventAlarmUpdated, stored))
	if peakTicket.ID != 0 {
		s.cfg.Notifier.Notify(ticketEvent(EventTicketUpdated, peakTicket))
	}
	return nil
}

// clearCause says who or what cleared an alarm and why: what the engine
// says (it sets ClearReason on every clear), else the value that met the
// clear condition.
func clearCause(a rules.Alarm) (by, reason string) {
	by, reason = a.ClearedBy, a.ClearReason
	if reason == "" {
		reason = rules.ClearValue
	}
	if by == "" {
		switch reason {
		case rules.ClearRuleChanged:
			by = "rule " + a.RuleID + " changed"
		case rules.ClearService:
			by = "service recorded for rule " + a.RuleID
		case rules.ClearDataBack:
			by = "data from " + a.Device + " again"
		case rules.ClearValue:
			by = "value " + strconv.FormatFloat(a.Value, 'g', -1, 64)
		default:
			by = reason
		}
	}
	return by, reason
}

func (s *Service) alarmCleared(ctx context.Context, a rules.Alarm) error {
	clearedAt := s.now()
	if a.ClearedAt != nil && !a.ClearedAt.IsZero() {
		clearedAt = *a.ClearedAt
	}
	by, reason := clearCause(a)
	var stored StoredAlarm
	var changed bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		changed = false
		res, err := tx.ExecContext(ctx, `UPDATE alarms SET state = 'cleared', cleared_at = ?, value = ?,
			peak = ?, cleared_by = ?, clear_reason = ?, updated_at = ? WHERE id = ? AND state <> 'cleared'`,
			ms(clearedAt), a.Value, a.Peak, by, reason, ms(s.now()), a.ID)
		if err != nil {
			return fmt.Errorf("clear alarm: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // unknown or already cleared
		}
		changed = true
		stored, err = getAlarm(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		if stored.TicketID != 0 {
			note := fmt.Sprintf("alarm %s cleared at %s by %s (%s), peak %s", a.ID, s.formatTime(stored.Site, clearedAt), by, reason,
				strconv.FormatFloat(stored.Peak, 'g', -1, 64))
			if err := s.addHistory(ctx, tx, stored.TicketID, systemActor, "alarm_cleared", note); err != nil {
				return err
			}
			return s.refreshRecurrence(ctx, tx, stored.TicketID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !changed {
		s.cfg.Logger.Debug("clear for an unknown or cleared alarm ignored", "alarm", a.ID)
		return nil
	}
	s.cfg.Notifier.Notify(alarmEvent(EventAlarmCleared, stored))
	return nil
}

// AckAlarm records that an operator has seen the alarm. Acknowledging
// twice is fine: the second time changes nothing and sends nothing.
func (s *Service) AckAlarm(ctx context.Context, by Actor, id string) (StoredAlarm, error) {
	var stored StoredAlarm
	var changed bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		changed = false
		var err error
		stored, err = getAlarm(ctx, tx, id)
		if err != nil || stored.Acked {
			return err
		}
		now := s.now()
		if _, err := tx.ExecContext(ctx, "UPDATE alarms SET acked = 1, acked_by = ?, acked_at = ?, updated_at = ? WHERE id = ?",
			by.Name, ms(now), ms(now), id); err != nil {
			return fmt.Errorf("ack alarm: %w", err)
		}
		if stored.TicketID != 0 {
			if err := s.addHistory(ctx, tx, stored.TicketID, by, "alarm_acked", "alarm "+id+" acknowledged"); err != nil {
				return err
			}
			if err := s.markAcked(ctx, tx, stored.TicketID); err != nil {
				return err
			}
		}
		changed = true
		stored, err = getAlarm(ctx, tx, id)
		return err
	})
	if err != nil {
		return StoredAlarm{}, err
	}
	if changed {
		s.cfg.Notifier.Notify(alarmEvent(EventAlarmAcked, stored))
	}
	return stored, nil
}

// Alarms lists alarms in a state (AlarmsAll, AlarmsActive, AlarmsAcked,
// AlarmsCleared), newest first, at most 1000.
func (s *Service) Alarms(ctx context.Context, state string) ([]StoredAlarm, error) {
	return s.FindAlarms(ctx, AlarmFilter{State: state})
}

const alarmColumns = `a.id, a.rule_id, a.rule_name, a.device_id, a.kind, a.site, a.building, a.location,
	a.metric, a.event, a.severity, a.level, a.state, a.value, a.peak, a.message, a.raised_at, a.cleared_at,
	a.shadow, a.acked, a.acked_by, a.acked_at, coalesce(a.ticket_id, 0), coalesce(t.number, ''),
	a.flapping, a.predicted_at, a.cleared_by, a.clear_reason,
	coalesce(t.status, ''), coalesce(t.override_by, ''), t.override_at, coalesce(t.override_reason, '')`

func scanAlarm(r rowScanner) (StoredAlarm, error) {
	var a StoredAlarm
	var raised int64
	var cleared, acked, predicted, overrideAt sql.NullInt64
	var overrideBy, overrideReason string
	err := r.Scan(&a.ID, &a.RuleID, &a.RuleName, &a.Device, &a.Kind, &a.Site, &a.Building, &a.Location,
		&a.Metric, &a.Event, &a.Severity, &a.Level, &a.State, &a.Value, &a.Peak, &a.Message, &raised, &cleared,
		&a.Shadow, &a.Acked, &a.AckedBy, &acked, &a.TicketID, &a.TicketNumber, &a.Flapping, &predicted,
		&a.ClearedBy, &a.ClearReason, &a.TicketStatus, &overrideBy, &overrideAt, &overrideReason)
	if err != nil {
		return StoredAlarm{}, err
	}
	a.Status = alarmStatus(a.State, a.Acked)
	if overrideBy != "" && overrideAt.Valid {
		a.TicketOverride = &Override{By: overrideBy, At: fromMS(overrideAt.Int64), Reason: overrideReason}
	}
	a.RaisedAt = fromMS(raised)
	a.ClearedAt = fromNullMS(cleared)
	a.AckedAt = fromNullMS(acked)
	a.PredictedAt = fromNullMS(predicted)
	return a, nil
}

// Alarm returns one stored alarm; ErrNotFound when there is none.
func (s *Service) Alarm(ctx context.Context, id string) (StoredAlarm, error) {
	return getAlarm(ctx, s.db, id)
}

func getAlarm(ctx context.Context, q querier, id string) (StoredAlarm, error) {
	a, err := scanAlarm(q.QueryRowContext(ctx, "SELECT "+alarmColumns+
		" FROM alarms a LEFT JOIN tickets t ON t.id = a.ticket_id WHERE a.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return StoredAlarm{}, fmt.Errorf("alarm %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return StoredAlarm{}, fmt.Errorf("read alarm %s: %w", id, err)
	}
	return a, nil
}

// recurrence records alarm a, joining open ticket id, as a comeback when
// an earlier alarm of the same device on the ticket was acknowledged or
// has cleared (the fault was seen to, or went away, and is back), and no
// other alarm of the device on the ticket is still active and
// unacknowledged (then a is the fault getting worse, or a second rule on
// the same comeback, counted once). It says whether it was one.
func (s *Service) recurrence(ctx context.Context, tx *sql.Tx, id int64, a rules.Alarm) (bool, error) {
	var earlier, pending int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE state = 'cleared' OR acked = 1),
		count(*) FILTER (WHERE state <> 'cleared' AND acked = 0)
		FROM alarms WHERE ticket_id = ? AND id <> ? AND device_id = ?`, id, a.ID, a.Device).Scan(&earlier, &pending); err != nil {
		return false, fmt.Errorf("ticket %d earlier alarms: %w", id, err)
	}
	if earlier == 0 || pending > 0 {
		return false, nil
	}
	at := a.RaisedAt
	if at.IsZero() {
		at = s.now()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO ticket_recurrences (ticket_id, alarm_id, at) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, id, a.ID, ms(at)); err != nil {
		return false, fmt.Errorf("ticket %d recurrence: %w", id, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ticket_recurrences WHERE ticket_id = ?", id).Scan(&n); err != nil {
		return false, fmt.Errorf("ticket %d recurrences: %w", id, err)
	}
	note := fmt.Sprintf("alarm %s came back while the ticket is open (recurrence %d; an earlier alarm was acknowledged or had cleared): %s",
		a.ID, n, a.Message)
	return true, s.addHistory(ctx, tx, id, systemActor, "alarm_recurred", note)
}

// refreshRecurrence sets the recurrence count, last time and peak of
// ticket id from its recurrences and alarms. The peak is the worst value
// of the incident's alarms: the lowest when they fear low values (an
// alarm whose peak is below its value), else the highest.
func (s *Service) refreshRecurrence(ctx context.Context, tx *sql.Tx, id int64) error {
	var n int
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT count(*), max(at) FROM ticket_recurrences WHERE ticket_id = ?", id).Scan(&n, &last); err != nil {
		return fmt.Errorf("ticket %d recurrences: %w", id, err)
	}
	if n == 0 {
		return nil
	}
	var peak sql.NullFloat64
	if err := tx.QueryRowContext(ctx, `SELECT CASE WHEN EXISTS (SELECT 1 FROM alarms WHERE ticket_id = ?1 AND peak < value)
		THEN min(peak) ELSE max(peak) END FROM alarms WHERE ticket_id = ?1`, id).Scan(&peak); err != nil {
		return fmt.Errorf("ticket %d peak: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE tickets SET recurrences = ?, last_recurred_at = ?, recurrence_peak = ? WHERE id = ?",
		n, last, peak, id); err != nil {
		return fmt.Errorf("ticket %d recurrence: %w", id, err)
	}
	return nil
}

// recurrences lists the alarms that came back on ticket id, oldest first.
func recurrences(ctx context.Context, q querier, id int64) ([]RecurrenceEpisode, error) {
	rows, err := q.QueryContext(ctx, `SELECT r.alarm_id, r.at, a.value, a.peak FROM ticket_recurrences r
		JOIN alarms a ON a.id = r.alarm_id WHERE r.ticket_id = ? ORDER BY r.at, r.alarm_id`, id)
	if err != nil {
		return nil, fmt.Errorf("ticket %d recurrences: %w", id, err)
	}
	defer rows.Close()
	var out []RecurrenceEpisode
	for rows.Next() {
		var e RecurrenceEpisode
		var at int64
		if err := rows.Scan(&e.AlarmID, &at, &e.Value, &e.Peak); err != nil {
			return nil, fmt.Errorf("ticket %d recurrences: %w", id, err)
		}
		e.At = fromMS(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/rules"
)

// Triage: an alarm below level 1 waits for an operator instead of opening
// its ticket. The operator makes it a ticket, snoozes it until a time
// (with a reason), or dismisses it as a false alarm (with a reason); the
// dismissals per rule are the false-alarm rate engineers tune thresholds
// by. An alarm nobody triaged within Triage.Timeout is escalated.
//
// Never triaged: level 1 alarms, alarms of a rule that opens its ticket
// by itself (rules.Alarm.OpenTicket) or that commands devices, and
// alarms of an incident that already has an open ticket (they join it).

// Triage states (TriageItem.State).
const (
	TriageQueued    = "queued"    // waiting for an operator
	TriageSnoozed   = "snoozed"   // back in the queue at SnoozedUntil
	TriageTicketed  = "ticketed"  // made a ticket (or joined its incident's)
	TriageDismissed = "dismissed" // a false alarm
)

// Triage actions (TriageRequest.Action).
const (
	TriageActTicket  = "ticket"
	TriageActSnooze  = "snooze"
	TriageActDismiss = "dismiss"
)

// Events of the triage queue, each with a TriageItem.
const (
	// EventTriageQueued: an alarm entered the queue (raised, or back
	// from a snooze).
	EventTriageQueued = "triage.queued"
	// EventTriageDecided: an alarm left the queue or was snoozed: made a
	// ticket, snoozed, dismissed, or joined its incident's new ticket.
	EventTriageDecided = "triage.decided"
	// EventTriageEscalated: nobody triaged the alarm within the triage
	// clock; it stays in the queue and the supervisor is paged.
	EventTriageEscalated = "triage.escalated"
)

// Triage is the triage section of caretaker.yaml.
type Triage struct {
	// Timeout: an alarm nobody triaged within it is escalated (an event
	// on the screens, and a page). Default 30m.
	Timeout time.Duration `yaml:"timeout"`
}

// Triage defaults and bounds.
const (
	DefaultTriageTimeout = 30 * time.Minute
	// MaxSnooze is the furthest a snooze may reach.
	MaxSnooze = 7 * 24 * time.Hour
	// MaxTriageReason caps a reason, in characters.
	MaxTriageReason = 500
	// FalseAlarmWindow is the period of the false-alarm rates.
	FalseAlarmWindow = 30 * 24 * time.Hour
)

// WithDefaults fills the zero fields: every triage default is here.
func (t Triage) WithDefaults() Triage {
	if t.Timeout == 0 {
		t.Timeout = DefaultTriageTimeout
	}
	return t
}

// TriageItem is an alarm in (or out of) the triage queue.
type TriageItem struct {
	Alarm StoredAlarm `json:"alarm"`
	State string      `json:"state"`
	// QueuedAt is when it (last) entered the queue; DueAt when the triage
	// clock escalates it; EscalatedAt when it did.
	QueuedAt     time.Time  `json:"queued_at"`
	DueAt        time.Time  `json:"due_at"`
	EscalatedAt  *time.Time `json:"escalated_at,omitempty"`
	SnoozedUntil *time.Time `json:"snoozed_until,omitempty"`
	// Reason, DecidedBy, DecidedRole and DecidedAt: the last decision.
	Reason      string     `json:"reason,omitempty"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedRole string     `json:"decided_role,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	// Ticket is the ticket made of it (state ticketed).
	Ticket *Ticket `json:"ticket,omitempty"`
}

// TriageRequest is one operator's decision on a queued alarm.
type TriageRequest struct {
	Action string `json:"action"` // ticket, snooze or dismiss
	// Until: snooze until then (in the future, at most MaxSnooze away).
	Until *time.Time `json:"until,omitempty"`
	// Reason: required to snooze or dismiss.
	Reason string `json:"reason,omitempty"`
}

// RuleFalseAlarms is one rule's false-alarm rate over a period: Raised
// alarms (shadow trials aside), Dismissed of them as false alarms, Rate
// Dismissed / Raised (0 when none was raised).
type RuleFalseAlarms struct {
	RuleID    string  `json:"rule_id"`
	Raised    int     `json:"raised"`
	Dismissed int     `json:"dismissed"`
	Rate      float64 `json:"rate"`
}

// triaged tells whether raised alarm a waits in the queue rather than
// opening (or joining) its ticket.
func (s *Service) triaged(ctx context.Context, tx *sql.Tx, a rules.Alarm) (bool, error) {
	if a.Shadow || alarmLevel(a) == 1 || a.OpenTicket || len(a.Commands) > 0 {
		return false, nil
	}
	_, found, err := s.openIncidentTicket(ctx, tx, a)
	return !found, err
}

// enqueue puts alarm a in the triage queue, its clock running from now.
func (s *Service) enqueue(ctx context.Context, tx *sql.Tx, a rules.Alarm) error {
	now := s.now()
	if _, err := tx.ExecContext(ctx, `INSERT INTO alarm_triage (alarm_id, rule_id, site, incident_key, state, queued_at, due_at)
		VALUES (?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (alarm_id) DO NOTHING`,
		a.ID, a.RuleID, a.Site, sensorIncident(a), ms(now), ms(now.Add(s.cfg.Triage.Timeout))); err != nil {
		return fmt.Errorf("queue alarm %s for triage: %w", a.ID, err)
	}
	return s.triageLog(ctx, tx, a.ID, systemActor, "queued",
		fmt.Sprintf("level %d alarm waits for triage; escalated at %s if nobody looks", alarmLevel(a),
			s.formatTime(a.Site, now.Add(s.cfg.Triage.Timeout))))
}

// triageLog records a step of an alarm's triage.
func (s *Service) triageLog(ctx context.Context, tx *sql.Tx, alarmID string, by Actor, action, note string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO alarm_triage_log (alarm_id, at, actor, role, action, note) VALUES (?, ?, ?, ?, ?, ?)`,
		alarmID, ms(s.now()), by.Name, by.Role, action, note); err != nil {
		return fmt.Errorf("alarm %s triage log: %w", alarmID, err)
	}
	return nil
}

// joinQueued attaches the queued and snoozed alarms of incident key to
// ticket id (now open for it): they leave the queue as ticketed, signed
// by, and the ticket's history says so. It returns their ids.
func (s *Service) joinQueued(ctx context.Context, tx *sql.Tx, key string, id int64, by Actor, why string) ([]string, error) {
	ids, err := queuedAlarms(ctx, tx, `SELECT tr.alarm_id FROM alarm_triage tr WHERE tr.incident_key = ?
		AND tr.state IN ('queued', 'snoozed') ORDER BY tr.queued_at, tr.alarm_id`, key)
	if err != nil {
		return nil, fmt.Errorf("queued alarms of %s: %w", key, err)
	}
	return ids, s.attachQueued(ctx, tx, ids, id, by, why)
}

// joinQueuedOfReport attaches to ticket id, just opened for report r, the
// alarms waiting for triage that a report would have joined had they
// opened their tickets: of r's device, or (a public report naming a place
// and no device) of the same site, building, location and fault type. A
// person reporting the fault answers the triage question; the ticket's
// level rises to the most urgent alarm's. It returns their ids.
func (s *Service) joinQueuedOfReport(ctx context.Context, tx *sql.Tx, r Report, id int64, by Actor) ([]string, error) {
	if r.DeviceID == "" && (r.Scope != ScopePublic || r.Location == "") {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT tr.alarm_id, a.kind, a.level, a.raised_at FROM alarm_triage tr JOIN alarms a ON a.id = tr.alarm_id
		WHERE tr.state IN ('queued', 'snoozed') AND a.ticket_id IS NULL
			AND ((?1 <> '' AND a.device_id = ?1) OR (?1 = '' AND a.site = ?2 AND a.building = ?3 AND a.location = ?4))
		ORDER BY tr.queued_at, tr.alarm_id`, r.DeviceID, r.Site, r.Building, r.Location)
	if err != nil {
		return nil, fmt.Errorf("queued alarms of the report's place: %w", err)
	}
	var ids []string
	level, first, firstID := 0, int64(0), ""
	for rows.Next() {
		var a, kind string
		var l int
		var raised int64
		if err := rows.Scan(&a, &kind, &l, &raised); err != nil {
			rows.Close()
			return nil, fmt.Errorf("queued alarms of the report's place: %w", err)
		}
		if r.DeviceID == "" && CategoryOf(devices.Kind(kind)) != r.Category {
			continue
		}
		ids = append(ids, a)
		if level == 0 || l < level {
			level = l
		}
		if firstID == "" || raised < first {
			first, firstID = raised, a
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queued alarms of the report's place: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if err := s.attachQueued(ctx, tx, ids, id, by, "a report of the same fault came in: "+trimForMessage(r.Description)); err != nil {
		return nil, err
	}
	if err := s.raiseLevel(ctx, tx, id, level, by, "an alarm waiting for triage joined it"); err != nil {
		return nil, err
	}
	return ids, s.reportedAt(ctx, tx, id, fromMS(first), "alarm "+firstID+" was raised")
}

// reportedAt moves ticket id's first report back to at when that is
// earlier: a ticket made from an alarm that waited for triage counts its
// level's time limits from the alarm, so the wait in the queue shows in
// the KPIs instead of being hidden. The claim clock (the minutes a person
// has to take the work) still runs from now.
func (s *Service) reportedAt(ctx context.Context, tx *sql.Tx, id int64, at time.Time, why string) error {
	res, err := tx.ExecContext(ctx, "UPDATE tickets SET first_reported_at = ? WHERE id = ? AND coalesce(first_reported_at, created_at) > ?",
		ms(at), id, ms(at))
	if err != nil {
		return fmt.Errorf("ticket %d first report: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	t, err := getTicket(ctx, tx, id)
	if err != nil {
		return err
	}
	plan, err := s.replanLevel(ctx, tx, t)
	if err != nil {
		return err
	}
	return s.addHistory(ctx, tx, id, systemActor, "clocks_from_alarm",
		fmt.Sprintf("time limits count from %s, when %s; %s", s.formatTime(t.Site, at), why, plan))
}

// queuedAlarms reads the alarm ids that query q (with args) selects.
func queuedAlarms(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, err
		}
		ids = append(ids, a)
	}
	return ids, rows.Err()
}

// attachQueued takes alarms ids off the triage queue onto ticket id.
func (s *Service) attachQueued(ctx context.Context, tx *sql.Tx, ids []string, id int64, by Actor, why string) error {
	now := ms(s.now())
	for _, a := range ids {
		if _, err := tx.ExecContext(ctx, "UPDATE alarms SET ticket_id = ? WHERE id = ? AND ticket_id IS NULL", id, a); err != nil {
			return fmt.Errorf("link alarm %s to ticket %d: %w", a, id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE alarm_triage SET state = 'ticketed', reason = ?, decided_by = ?, decided_role = ?,
			decided_at = ? WHERE alarm_id = ?`, why, by.Name, by.Role, now, a); err != nil {
			return fmt.Errorf("alarm %s triage: %w", a, err)
		}
		if err := s.triageLog(ctx, tx, a, by, TriageActTicket, why); err != nil {
			return err
		}
		if err := s.addHistory(ctx, tx, id, by, "alarm_attached", "alarm "+a+" attached from the triage queue: "+why); err != nil {
			return err
		}
	}
	return nil
}

const triageColumns = `tr.alarm_id, tr.state, tr.queued_at, tr.due_at, tr.escalated_at, tr.snoozed_until, tr.reason,
	tr.decided_by, tr.decided_role, tr.decided_at`

func scanTriage(r rowScanner) (TriageItem, error) {
	var it TriageItem
	var queued, due int64
	var escalated, snoozed, decided sql.NullInt64
	if err := r.Scan(&it.Alarm.ID, &it.State, &queued, &due, &escalated, &snoozed, &it.Reason,
		&it.DecidedBy, &it.DecidedRole, &decided); err != nil {
		return TriageItem{}, err
	}
	it.QueuedAt, it.DueAt = fromMS(queued), fromMS(due)
	it.EscalatedAt, it.SnoozedUntil, it.DecidedAt = fromNullMS(escalated), fromNullMS(snoozed), fromNullMS(decided)
	return it, nil
}

// triageItem reads alarm id's triage with its alarm.
func (s *Service) triageItem(ctx context.Context, q querier, id string) (TriageItem, error) {
	it, err := scanTriage(q.QueryRowContext(ctx, "SELECT "+triageColumns+" FROM alarm_triage tr WHERE tr.alarm_id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return TriageItem{}, fmt.Errorf("alarm %s in the triage queue: %w", id, ErrNotFound)
	}
	if err != nil {
		return TriageItem{}, fmt.Errorf("read triage of alarm %s: %w", id, err)
	}
	if it.Alarm, err = getAlarm(ctx, q, id); err != nil {
		return TriageItem{}, err
	}
	return it, nil
}

// triageEvent is the event of an item, where its alarm is.
func triageEvent(typ string, it TriageItem) Event {
	return Event{Type: typ, Site: it.Alarm.Site, Device: it.Alarm.Device, Data: it}
}

// notifyTriage reads and sends the items of ids.
func (s *Service) notifyTriage(ctx context.Context, typ string, ids []string) {
	for _, id := range ids {
		it, err := s.triageItem(ctx, s.db, id)
		if err != nil {
			s.cfg.Logger.Warn("triage event not sent", "alarm", id, "err", err)
			continue
		}
		s.cfg.Notifier.Notify(triageEvent(typ, it))
	}
}

// TriageQueue lists the alarms waiting for triage, queued and snoozed:
// the most urgent level first, then the oldest. At most 1000.
func (s *Service) TriageQueue(ctx context.Context) ([]TriageItem, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+triageColumns+", "+alarmColumns+` FROM alarm_triage tr
		JOIN alarms a ON a.id = tr.alarm_id LEFT JOIN tickets t ON t.id = a.ticket_id
		WHERE tr.state IN ('queued', 'snoozed')
		ORDER BY CASE WHEN tr.state = 'queued' THEN 0 ELSE 1 END, a.level, tr.queued_at, tr.alarm_id LIMIT ?`, alarmsLimit)
	if err != nil {
		return nil, fmt.Errorf("triage queue: %w", err)
	}
	defer rows.Close()
	out := []TriageItem{}
	for rows.Next() {
		it, err := scanTriageRow(rows)
		if err != nil {
			return nil, fmt.Errorf("triage queue: %w", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("triage queue: %w", err)
	}
	return out, nil
}

// scanTriageRow scans triageColumns then alarmColumns.
func scanTriageRow(rows *sql.Rows) (TriageItem, error) {
	var it TriageItem
	var queued, due int64
	var escalated, snoozed, decided sql.NullInt64
	var alarmID string
	var a StoredAlarm
	var raised int64
	var cleared, acked, predicted, overrideAt sql.NullInt64
	var overrideBy, overrideReason string
	if err := rows.Scan(&alarmID, &it.State, &queued, &due, &escalated, &snoozed, &it.Reason, &it.DecidedBy, &it.DecidedRole, &decided,
		&a.ID, &a.RuleID, &a.RuleName, &a.Device, &a.Kind, &a.Site, &a.Building, &a.Location,
		&a.Metric, &a.Event, &a.Severity, &a.Level, &a.State, &a.Value, &a.Peak, &a.Message, &raised, &cleared,
		&a.Shadow, &a.Acked, &a.AckedBy, &acked, &a.TicketID, &a.TicketNumber, &a.Flapping, &predicted,
		&a.ClearedBy, &a.ClearReason, &a.TicketStatus, &overrideBy, &overrideAt, &overrideReason); err != nil {
		return TriageItem{}, err
	}
	a.Status = alarmStatus(a.State, a.Acked)
	if overrideBy != "" && overrideAt.Valid {
		a.TicketOverride = &Override{By: overrideBy, At: fromMS(overrideAt.Int64), Reason: overrideReason}
	}
	a.RaisedAt, a.ClearedAt, a.AckedAt, a.PredictedAt = fromMS(raised), fromNullMS(cleared), fromNullMS(acked), fromNullMS(predicted)
	it.Alarm = a
	it.QueuedAt, it.DueAt = fromMS(queued), fromMS(due)
	it.EscalatedAt, it.SnoozedUntil, it.DecidedAt = fromNullMS(escalated), fromNullMS(snoozed), fromNullMS(decided)
	return it, nil
}

// TriageAlarm applies an operator's (or admin's) decision on alarm id,
// queued or snoozed: ticket opens (or joins) its incident's ticket as an
// alarm that opens its own would; snooze puts it aside until req.Until
// (back in the queue then, or at once as a ticket when its incident
// rises to level 1); dismiss marks it a false alarm (and acknowledges
// it). Who, when and why are recorded. Bad input is a *FieldError
// naming the field; an alarm already decided an *ActionError wrapping
// ErrIllegal; another role one wrapping ErrForbidden.
func (s *Service) TriageAlarm(ctx context.Context, by Actor, id string, req TriageRequest) (TriageItem, error) {
	const act = "triage"
	if by.Role != RoleOperator && by.Role != RoleAdmin {
		return TriageItem{}, &ActionError{Action: act, Kind: ErrForbidden, Reason: "only an operator triages alarms",
			Code: "role_forbidden", Params: map[string]any{"role": by.Role}}
	}
	req.Reason = strings.TrimSpace(req.Reason)
	now := s.now()
	switch req.Action {
	case TriageActTicket:
	case TriageActSnooze:
		switch {
		case req.Until == nil || req.Until.IsZero():
			return TriageItem{}, &FieldError{Field: "until", Message: "required: when the alarm comes back to the queue", Code: "required"}
		case !req.Until.After(now):
			return TriageItem{}, &FieldError{Field: "until", Message: "must be in the future", Code: "triage_until_past"}
		case req.Until.Sub(now) > MaxSnooze:
			return TriageItem{}, &FieldError{Field: "until", Message: "at most 7 days away", Code: "triage_until_far"}
		}
		fallthrough
	case TriageActDismiss:
		switch {
		case req.Reason == "":
			return TriageItem{}, &FieldError{Field: "reason", Message: "required: say why", Code: "required"}
		case utf8.RuneCountInString(req.Reason) > MaxTriageReason:
			return TriageItem{}, &FieldError{Field: "reason", Message: fmt.Sprintf("at most %d characters", MaxTriageReason), Code: "too_long"}
		}
	default:
		return TriageItem{}, &FieldError{Field: "action", Message: fmt.Sprintf("%q is not ticket, snooze or dismiss", trimForMessage(req.Action)), Code: "bad_action"}
	}
	var (
		ticket  Ticket
		event   string
		joined  []string
		ackedID string
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ticket, event, joined, ackedID = Ticket{}, "", nil, ""
		cur, err := s.triageItem(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.State != TriageQueued && cur.State != TriageSnoozed {
			return &ActionError{Action: act, Kind: ErrIllegal, Reason: fmt.Sprintf("alarm %s was %s already by %s", id, cur.State, cur.DecidedBy),
				Code: "triage_decided", Params: map[string]any{"state": cur.State, "by": cur.DecidedBy}}
		}
		switch req.Action {
		case TriageActTicket:
			a := cur.Alarm.Alarm
			why := "made a ticket from the triage queue by " + by.Name
			if req.Reason != "" {
				why += ": " + req.Reason
			}
			var recurred bool
			if ticket, event, recurred, err = s.sensorTicket(ctx, tx, a); err != nil {
				return err
			}
			if err := s.reportedAt(ctx, tx, ticket.ID, a.RaisedAt, "alarm "+a.ID+" was raised"); err != nil {
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
			if err := s.addHistory(ctx, tx, ticket.ID, by, "triaged", "alarm "+a.ID+" "+why); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE alarm_triage SET state = 'ticketed', reason = ?, decided_by = ?, decided_role = ?,
				decided_at = ? WHERE alarm_id = ?`, req.Reason, by.Name, by.Role, ms(now), id); err != nil {
				return fmt.Errorf("alarm %s triage: %w", id, err)
			}
			if err := s.triageLog(ctx, tx, id, by, TriageActTicket, why); err != nil {
				return err
			}
			if joined, err = s.joinQueued(ctx, tx, sensorIncident(a), ticket.ID, systemActor,
				"its incident's ticket was made from the triage queue by "+by.Name); err != nil {
				return err
			}
			ticket, err = getTicket(ctx, tx, ticket.ID)
			return err
		case TriageActSnooze:
			if _, err := tx.ExecContext(ctx, `UPDATE alarm_triage SET state = 'snoozed', snoozed_until = ?, reason = ?, decided_by = ?,
				decided_role = ?, decided_at = ? WHERE alarm_id = ?`, ms(*req.Until), req.Reason, by.Name, by.Role, ms(now), id); err != nil {
				return fmt.Errorf("alarm %s snooze: %w", id, err)
			}
			return s.triageLog(ctx, tx, id, by, TriageActSnooze,
				fmt.Sprintf("snoozed until %s: %s", s.formatTime(cur.Alarm.Site, *req.Until), req.Reason))
		default: // dismiss
			if _, err := tx.ExecContext(ctx, `UPDATE alarm_triage SET state = 'dismissed', snoozed_until = NULL, reason = ?, decided_by = ?,
				decided_role = ?, decided_at = ? WHERE alarm_id = ?`, req.Reason, by.Name, by.Role, ms(now), id); err != nil {
				return fmt.Errorf("alarm %s dismiss: %w", id, err)
			}
			if !cur.Alarm.Acked {
				if _, err := tx.ExecContext(ctx, "UPDATE alarms SET acked = 1, acked_by = ?, acked_at = ?, updated_at = ? WHERE id = ?",
					by.Name, ms(now), ms(now), id); err != nil {
					return fmt.Errorf("ack alarm: %w", err)
				}
				ackedID = id
			}
			return s.triageLog(ctx, tx, id, by, TriageActDismiss, "dismissed as a false alarm: "+req.Reason)
		}
	})
	if err != nil {
		return TriageItem{}, fmt.Errorf("triage alarm %s: %w", id, err)
	}
	it, err := s.triageItem(ctx, s.db, id)
	if err != nil {
		return TriageItem{}, err
	}
	if ticket.ID != 0 {
		t := s.withClocks(ctx, ticket)
		it.Ticket = &t
		s.cfg.Notifier.Notify(ticketEvent(event, t))
	}
	if ackedID != "" {
		s.cfg.Notifier.Notify(alarmEvent(EventAlarmAcked, it.Alarm))
	}
	s.cfg.Notifier.Notify(triageEvent(EventTriageDecided, it))
	s.notifyTriage(ctx, EventTriageDecided, joined)
	return it, nil
}

// trimForMessage keeps an echoed value short.
func trimForMessage(v string) string {
	if utf8.RuneCountInString(v) > 40 {
		return string([]rune(v)[:40]) + "…"
	}
	return v
}

// FalseAlarmStats is every rule's false-alarm rate over the alarms raised
// since since (shadow trials aside), for the sites listed (nil: every
// site), by rule id.
func (s *Service) FalseAlarmStats(ctx context.Context, since time.Time, sites []string) ([]RuleFalseAlarms, error) {
	q := `SELECT a.rule_id, count(*), count(*) FILTER (WHERE tr.state = 'dismissed')
		FROM alarms a LEFT JOIN alarm_triage tr ON tr.alarm_id = a.id
		WHERE a.shadow = 0 AND a.raised_at >= ?`
	args := []any{ms(since)}
	if sites != nil {
		if len(sites) == 0 {
			return []RuleFalseAlarms{}, nil
		}
		q += " AND a.site IN (?" + strings.Repeat(", ?", len(sites)-1) + ")"
		for _, st := range sites {
			args = append(args, st)
		}
	}
	rows, err := s.db.QueryContext(ctx, q+" GROUP BY a.rule_id ORDER BY a.rule_id", args...)
	if err != nil {
		return nil, fmt.Errorf("false-alarm stats: %w", err)
	}
	defer rows.Close()
	out := []RuleFalseAlarms{}
	for rows.Next() {
		var r RuleFalseAlarms
		if err := rows.Scan(&r.RuleID, &r.Raised, &r.Dismissed); err != nil {
			return nil, fmt.Errorf("false-alarm stats: %w", err)
		}
		if r.Raised > 0 {
			r.Rate = float64(r.Dismissed) / float64(r.Raised)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// tickTriage brings snoozed alarms whose time has come back to the queue
// (their clock starts again) and escalates the active alarms nobody
// triaged in time, one per transaction, each with its event; the
// escalation pages through the Pager as a missed claim clock does.
func (s *Service) tickTriage(ctx context.Context) error {
	for i := 0; i < maxStepsPerTick; i++ {
		id, typ, err := s.tickTriageOne(ctx)
		if err != nil {
			return err
		}
		if id == "" {
			return nil
		}
		s.notifyTriage(ctx, typ, []string{id})
	}
	return nil
}

func (s *Service) tickTriageOne(ctx context.Context) (id, typ string, err error) {
	now := s.now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		id, typ = "", ""
		var until int64
		err := tx.QueryRowContext(ctx, `SELECT alarm_id, snoozed_until FROM alarm_triage WHERE state = 'snoozed' AND snoozed_until <= ?
			ORDER BY snoozed_until, alarm_id LIMIT 1`, ms(now)).Scan(&id, &until)
		switch {
		case err == nil:
			typ = EventTriageQueued
			if _, err := tx.ExecContext(ctx, `UPDATE alarm_triage SET state = 'queued', queued_at = ?, due_at = ?, escalated_at = NULL
				WHERE alarm_id = ?`, ms(now), ms(now.Add(s.cfg.Triage.Timeout)), id); err != nil {
				return fmt.Errorf("alarm %s back from snooze: %w", id, err)
			}
			return s.triageLog(ctx, tx, id, systemActor, "unsnoozed", "the snooze ended: back in the triage queue")
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("snoozed alarms: %w", err)
		}
		id = ""
		err = tx.QueryRowContext(ctx, `SELECT tr.alarm_id FROM alarm_triage tr JOIN alarms a ON a.id = tr.alarm_id
			WHERE tr.state = 'queued' AND tr.escalated_at IS NULL AND tr.due_at <= ? AND a.state <> 'cleared'
			ORDER BY tr.due_at, tr.alarm_id LIMIT 1`, ms(now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			id = ""
			return nil
		}
		if err != nil {
			return fmt.Errorf("untriaged alarms: %w", err)
		}
		typ = EventTriageEscalated
		it, err := s.triageItem(ctx, tx, id)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, "UPDATE alarm_triage SET escalated_at = ? WHERE alarm_id = ? AND state = 'queued' AND escalated_at IS NULL",
			ms(now), id)
		if err != nil {
			return fmt.Errorf("alarm %s escalate: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			id, typ = "", "" // decided in between
			return nil
		}
		target := s.triageTarget()
		if err := s.triageLog(ctx, tx, id, systemActor, "escalated",
			fmt.Sprintf("nobody triaged it within %s (since %s): escalated to %s", s.cfg.Triage.Timeout,
				s.formatTime(it.Alarm.Site, it.QueuedAt), target)); err != nil {
			return err
		}
		return s.queueTriagePages(ctx, tx, it, target)
	})
	if err != nil {
		return "", "", fmt.Errorf("triage clock: %w", err)
	}
	return id, typ, nil
}

// triageTarget is who an untriaged alarm goes to: the supervisor, as an
// unclaimed ticket does (firstStep), else the chain's first step.
func (s *Service) triageTarget() string {
	return s.cfg.SLA.Chain[s.firstStep(clockClaim)]
}

// queueTriagePages stores the pages of an untriaged alarm's escalation:
// the Pager's escalation of a missed clock "triage:<alarm>", on a subject
// that is the ticket the alarm would open.
func (s *Service) queueTriagePages(ctx context.Context, tx *sql.Tx, it TriageItem, target string) error {
	if s.cfg.Pager == nil {
		return nil
	}
	a := it.Alarm
	alarm := a
	sub := PageSubject{
		Ticket: Ticket{Source: SourceSensor, Status: StatusNew, Level: alarmLevel(a.Alarm), Category: CategoryOf(a.Kind),
			Site: a.Site, Building: a.Building, Location: a.Location, Scope: ScopePublic, DeviceID: a.Device,
			AlarmID: a.ID, Description: a.Message},
		Alarm:    &alarm,
		OpenedAt: it.QueuedAt,
	}
	if s.cfg.Zones != nil {
		sub.Ticket.Zone = s.cfg.Zones(a.Site, a.Building, a.Device)
	}
	pages := s.cfg.Pager.Escalation(sub, target, "triage:"+a.ID, s.now())
	now := ms(s.now())
	var n int
	for _, p := range pages {
		msg := []byte(p.Message)
		if len(msg) == 0 {
			msg = []byte("{}")
		}
		due := max(ms(p.DueAt), now)
		res, err := tx.ExecContext(ctx, `INSERT INTO notifications (id, alarm_id, step, recipient, channel, message, queued_at, next_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
			p.ID, a.ID, p.Step, p.Recipient, p.Channel, string(msg), now, due)
		if err != nil {
			return fmt.Errorf("alarm %s queue page: %w", a.ID, err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			continue
		}
		n++
		if err := s.triageLog(ctx, tx, a.ID, systemActor, "page_queued",
			fmt.Sprintf("page %s to %s via %s (step %s) queued", p.ID, p.Recipient, p.Channel, p.Step)); err != nil {
			return err
		}
	}
	if n > 0 {
		s.queuedMu.Lock()
		s.queued[tx] = true
		s.queuedMu.Unlock()
	}
	return nil
}

// AlarmNotifications lists the pages about untriaged alarm id, oldest
// first.
func (s *Service) AlarmNotifications(ctx context.Context, id string) ([]Notification, error) {
	out, err := s.queryNotifications(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE alarm_id = ? ORDER BY queued_at, step, recipient, channel", id)
	if err != nil {
		return nil, fmt.Errorf("alarm %s notifications: %w", id, err)
	}
	return out, nil
}

// TriageLog is one step of an alarm's triage.
type TriageLog struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Role   string    `json:"role"`
	Action string    `json:"action"`
	Note   string    `json:"note"`
}

// TriageHistory lists the steps of alarm id's triage, oldest first.
func (s *Service) TriageHistory(ctx context.Context, id string) ([]TriageLog, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT at, actor, role, action, note FROM alarm_triage_log WHERE alarm_id = ? ORDER BY at, id", id)
	if err != nil {
		return nil, fmt.Errorf("alarm %s triage log: %w", id, err)
	}
	defer rows.Close()
	out := []TriageLog{}
	for rows.Next() {
		var l TriageLog
		var at int64
		if err := rows.Scan(&at, &l.Actor, &l.Role, &l.Action, &l.Note); err != nil {
			return nil, fmt.Errorf("alarm %s triage log: %w", id, err)
		}
		l.At = fromMS(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

package ticketing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// openStatuses is the SQL list of Status.Open statuses; it must match the
// partial index tickets_open_incident.
const openStatuses = `('new','dispatched','accepted','on_site')`

// ticketColumns are read by scanTicket, in this order. The verification
// code is never among them.
const ticketColumns = `id, coalesce(number,''), source, status, level, category, site, building,
	location, scope, unit, floor, room, device_id, alarm_id, description,
	reporter_name, reporter_phone, created_by, assignee, created_at, updated_at,
	zone, code_failures, resolution, actual_fault, parts, paid, fee_cents, score, fixed, outcome,
	coalesce(rework_of, 0), coalesce(reinspection_of, 0), coalesce(first_reported_at, created_at),
	recurrences, last_recurred_at, recurrence_peak, override_by, override_at, override_reason,
	eta_at, carried_at, carry_reason,
	accepted_by, accepted_role, accepted_at, accepted_verdict, accepted_terms`

type rowScanner interface{ Scan(dest ...any) error }

func scanTicket(r rowScanner) (Ticket, error) {
	var t Ticket
	var created, updated, first int64
	var parts string
	var score, fixed, recurredAt sql.NullInt64
	var recurrences int
	var recurrencePeak sql.NullFloat64
	var overrideBy, overrideReason string
	var overrideAt sql.NullInt64
	var eta, carried sql.NullInt64
	var acceptedBy, acceptedRole, acceptedVerdict, acceptedTerms string
	var acceptedAt sql.NullInt64
	err := r.Scan(&t.ID, &t.Number, &t.Source, &t.Status, &t.Level, &t.Category, &t.Site, &t.Building,
		&t.Location, &t.Scope, &t.Unit, &t.Floor, &t.Room, &t.DeviceID, &t.AlarmID, &t.Description,
		&t.Reporter.Name, &t.Reporter.Phone, &t.CreatedBy, &t.Assignee, &created, &updated,
		&t.Zone, &t.CodeFailures, &t.Resolution, &t.ActualFault, &parts, &t.Paid, &t.FeeCents, &score, &fixed,
		&t.Outcome, &t.ReworkOf, &t.ReinspectionOf, &first, &recurrences, &recurredAt, &recurrencePeak,
		&overrideBy, &overrideAt, &overrideReason, &eta, &carried, &t.CarryReason,
		&acceptedBy, &acceptedRole, &acceptedAt, &acceptedVerdict, &acceptedTerms)
	if err != nil {
		return Ticket{}, err
	}
	if recurrences > 0 && recurredAt.Valid {
		t.Recurrence = &Recurrence{Count: recurrences, LastAt: fromMS(recurredAt.Int64), Peak: recurrencePeak.Float64}
	}
	t.CreatedAt, t.UpdatedAt, t.FirstReportedAt = fromMS(created), fromMS(updated), fromMS(first)
	if overrideBy != "" && overrideAt.Valid {
		t.Override = &Override{By: overrideBy, At: fromMS(overrideAt.Int64), Reason: overrideReason}
	}
	if eta.Valid {
		at := fromMS(eta.Int64)
		t.ETA = &at
	}
	if carried.Valid {
		at := fromMS(carried.Int64)
		t.CarriedAt = &at
	}
	if parts != "" && parts != "[]" {
		if err := json.Unmarshal([]byte(parts), &t.Parts); err != nil {
			return Ticket{}, fmt.Errorf("ticket %d parts: %w", t.ID, err)
		}
	}
	if t.Acceptance, err = scanAcceptance(acceptedBy, acceptedRole, acceptedVerdict, acceptedTerms, acceptedAt); err != nil {
		return Ticket{}, fmt.Errorf("ticket %d: %w", t.ID, err)
	}
	if score.Valid {
		v := int(score.Int64)
		t.Score = &v
	}
	if fixed.Valid {
		v := fixed.Int64 != 0
		t.Fixed = &v
	}
	return t, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func getTicket(ctx context.Context, q querier, id int64) (Ticket, error) {
	t, err := scanTicket(q.QueryRowContext(ctx, "SELECT "+ticketColumns+" FROM tickets WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Ticket{}, fmt.Errorf("ticket %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Ticket{}, fmt.Errorf("read ticket %d: %w", id, err)
	}
	return t, nil
}

// newTicket is what insertTicket stores.
type newTicket struct {
	Ticket
	incidentKey string
	code        string
}

// insertTicket inserts t as a new open ticket unless its incident already
// has an open one (the unique index says so); then it returns created
// false and the caller attaches to the open ticket instead. The number is
// allocated only for a ticket actually inserted, so numbers have no gaps.
func (s *Service) insertTicket(ctx context.Context, tx *sql.Tx, t newTicket, by Actor, note string) (id int64, created bool, err error) {
	now := ms(s.now())
	err = tx.QueryRowContext(ctx, `INSERT INTO tickets (source, status, level, category, site, building,
		location, scope, unit, floor, room, device_id, alarm_id, description, reporter_name, reporter_phone,
		created_by, verification_code, incident_key, created_at, updated_at, zone, first_reported_at,
		rework_of, reinspection_of)
		VALUES (?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (incident_key) WHERE status IN `+openStatuses+` DO NOTHING RETURNING id`,
		t.Source, t.Level, t.Category, t.Site, t.Building, t.Location, t.Scope, t.Unit, t.Floor, t.Room,
		t.DeviceID, t.AlarmID, t.Description, t.Reporter.Name, t.Reporter.Phone, by.Name, t.code,
		t.incidentKey, now, now, s.zoneOf(t.Site, t.Building, t.DeviceID), now,
		nullID(t.ReworkOf), nullID(t.ReinspectionOf)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil // the incident has an open ticket
	}
	if err != nil {
		return 0, false, fmt.Errorf("insert ticket: %w", err)
	}
	number, err := s.nextNumber(ctx, tx)
	if err != nil {
		return 0, false, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE tickets SET number = ? WHERE id = ?", number, id); err != nil {
		return 0, false, fmt.Errorf("number ticket: %w", err)
	}
	if err := s.addHistory(ctx, tx, id, by, "created", note); err != nil {
		return 0, false, err
	}
	if err := s.startFlow(ctx, tx, id); err != nil {
		return 0, false, err
	}
	return id, true, nil
}

// nextNumber allocates the next ticket number of the local day.
func (s *Service) nextNumber(ctx context.Context, tx *sql.Tx) (string, error) {
	day := s.now().In(s.cfg.Location).Format("20060102")
	var seq int
	err := tx.QueryRowContext(ctx, `INSERT INTO ticket_numbers(day, seq) VALUES (?, 1)
		ON CONFLICT(day) DO UPDATE SET seq = ticket_numbers.seq + 1 RETURNING seq`, day).Scan(&seq)
	if err != nil {
		return "", fmt.Errorf("ticket number: %w", err)
	}
	return fmt.Sprintf("%s%s-%04d", s.cfg.NumberPrefix, day, seq), nil
}

// addHistory records one step of a ticket and touches its updated_at.
func (s *Service) addHistory(ctx context.Context, tx *sql.Tx, ticketID int64, by Actor, action, note string) error {
	now := ms(s.now())
	if _, err := tx.ExecContext(ctx, `INSERT INTO ticket_history(ticket_id, at, actor, role, action, note)
		VALUES (?, ?, ?, ?, ?, ?)`, ticketID, now, by.Name, by.Role, action, note); err != nil {
		return fmt.Errorf("ticket %d history: %w", ticketID, err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE tickets SET updated_at = ? WHERE id = ?", now, ticketID); err != nil {
		return fmt.Errorf("ticket %d touch: %w", ticketID, err)
	}
	return nil
}

// raiseLevel makes the ticket more urgent when level is (1 is the most
// urgent), with a history row; it never lowers the level.
func (s *Service) raiseLevel(ctx context.Context, tx *sql.Tx, ticketID int64, level int, by Actor, why string) error {
	res, err := tx.ExecContext(ctx, "UPDATE tickets SET level = ? WHERE id = ? AND level > ?", level, ticketID, level)
	if err != nil {
		return fmt.Errorf("ticket %d level: %w", ticketID, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		t, err := getTicket(ctx, tx, ticketID)
		if err != nil {
			return err
		}
		plan, err := s.replanLevel(ctx, tx, t)
		if err != nil {
			return err
		}
		if err := s.addHistory(ctx, tx, ticketID, by, "level_raised", fmt.Sprintf("level raised to L%d: %s; %s", level, why, plan)); err != nil {
			return err
		}
		return s.queuePages(ctx, tx, ticketID)
	}
	return nil
}

// List returns tickets matching f, newest first, one page (Filter.Limit,
// default 100, at most 1000). No history, never the verification code.
func (s *Service) List(ctx context.Context, f Filter) ([]Ticket, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Level != 0 {
		add("level = ?", f.Level)
	}
	if f.Source != "" {
		add("source = ?", f.Source)
	}
	if f.Site != "" {
		add("site = ?", f.Site)
	}
	if len(f.Sites) > 0 {
		where = append(where, "site IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Sites)), ", ")+")")
		for _, site := range f.Sites {
			args = append(args, site)
		}
	}
	if f.Device != "" {
		add("device_id = ?", f.Device)
	}
	if !f.From.IsZero() {
		add("created_at >= ?", ms(f.From))
	}
	if !f.To.IsZero() {
		add("created_at < ?", ms(f.To))
	}
	cond, more := f.Search.where()
	where, args = append(where, cond...), append(args, more...)
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = 100
	case limit > 1000:
		limit = 1000
	}
	q := "SELECT " + ticketColumns + " FROM tickets"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
	args = append(args, limit, max(f.Offset, 0))
	return queryTickets(ctx, s.db, q, args...)
}

// OpenTickets returns the tickets still being worked on, most urgent level
// first, newest first within a level (for the dashboard snapshot).
//
// Each comes with its clocks not yet met (Deadlines) and where a missed
// one has been escalated to (Escalated), so that a screen that connects
// later shows the same clocks, warnings and escalations as one that was
// open when they happened.
func (s *Service) OpenTickets(ctx context.Context) ([]Ticket, error) {
	var list []Ticket
	var pending map[int64][]Deadline
	// One read: a ticket made between the two queries would otherwise
	// show without its clocks.
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		if list, err = queryTickets(ctx, tx, "SELECT "+ticketColumns+" FROM tickets WHERE status IN "+openStatuses+
			" ORDER BY level ASC, created_at DESC, id DESC"); err != nil {
			return err
		}
		pending, err = pendingClocks(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].Deadlines = pending[list[i].ID]
		list[i].Escalated = s.escalation(list[i].Deadlines)
	}
	return list, nil
}

// pendingClocks lists the clocks not yet met of every open ticket.
func pendingClocks(ctx context.Context, q querier) (map[int64][]Deadline, error) {
	rows, err := q.QueryContext(ctx, `SELECT d.ticket_id, d.kind, d.start_at, d.due_at, d.warn_at, d.warned, d.escalations
		FROM ticket_deadlines d JOIN tickets t ON t.id = d.ticket_id
		WHERE d.met_at IS NULL AND t.status IN `+openStatuses+` ORDER BY d.ticket_id, d.due_at, d.kind`)
	if err != nil {
		return nil, fmt.Errorf("open clocks: %w", err)
	}
	defer rows.Close()
	out := map[int64][]Deadline{}
	for rows.Next() {
		var id, start, due, warn int64
		var d Deadline
		if err := rows.Scan(&id, &d.Clock, &start, &due, &warn, &d.Warned, &d.Escalations); err != nil {
			return nil, fmt.Errorf("open clocks: %w", err)
		}
		d.StartAt, d.DueAt, d.WarnAt = fromMS(start), fromMS(due), fromMS(warn)
		out[id] = append(out[id], d)
	}
	return out, rows.Err()
}

// escalation is the latest escalation among clocks not yet met: of the
// clock escalated furthest up the chain, the one missed first.
func (s *Service) escalation(ds []Deadline) *Escalation {
	var best *Escalation
	chain := s.cfg.SLA.Chain
	for _, d := range ds {
		if d.MetAt != nil || d.Escalations == 0 || len(chain) == 0 {
			continue
		}
		step := min(s.firstStep(d.Clock)+d.Escalations-1, len(chain)-1)
		e := &Escalation{Clock: d.Clock, DueAt: d.DueAt, To: chain[step], Step: d.Escalations}
		if best == nil || step > slices.Index(chain, best.To) || (step == slices.Index(chain, best.To) && e.DueAt.Before(best.DueAt)) {
			best = e
		}
	}
	return best
}

func queryTickets(ctx context.Context, q querier, query string, args ...any) ([]Ticket, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	defer rows.Close()
	out := []Ticket{}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, fmt.Errorf("list tickets: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	return out, nil
}

// Get returns one ticket with its full history, oldest step first.
func (s *Service) Get(ctx context.Context, id int64) (Ticket, error) {
	var t Ticket
	err := s.db.ReadTx(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = s.getTicketWhole(ctx, tx, id)
		return err
	})
	if err != nil {
		return Ticket{}, err
	}
	return t, nil
}

// getTicketWhole reads ticket id with everything shown with it; q is one
// read transaction, so that a step recorded meanwhile is either in all of
// it (the command's state and its history line) or in none.
func (s *Service) getTicketWhole(ctx context.Context, q querier, id int64) (Ticket, error) {
	t, err := getTicket(ctx, q, id)
	if err != nil {
		return Ticket{}, err
	}
	rows, err := q.QueryContext(ctx, `SELECT at, actor, role, action, note FROM ticket_history
		WHERE ticket_id = ? ORDER BY at, id`, id)
	if err != nil {
		return Ticket{}, fmt.Errorf("ticket %d history: %w", id, err)
	}
	defer rows.Close()
	t.History = []HistoryEntry{}
	for rows.Next() {
		var h HistoryEntry
		var at int64
		if err := rows.Scan(&at, &h.Actor, &h.Role, &h.Action, &h.Note); err != nil {
			return Ticket{}, fmt.Errorf("ticket %d history: %w", id, err)
		}
		h.At = fromMS(at)
		t.History = append(t.History, h)
	}
	if err := rows.Err(); err != nil {
		return Ticket{}, fmt.Errorf("ticket %d history: %w", id, err)
	}
	rows.Close() // before the next query: a transaction's connection answers one at a time (PostgreSQL)
	if t.Deadlines, err = s.deadlines(ctx, q, id); err != nil {
		return Ticket{}, err
	}
	if t.Status.Open() {
		t.Escalated = s.escalation(t.Deadlines)
	}
	if t.Photos, err = photos(ctx, q, id); err != nil {
		return Ticket{}, err
	}
	if t.Reporters, err = reports(ctx, q, id, t.Photos); err != nil {
		return Ticket{}, err
	}
	if t.Commands, err = queryCommands(ctx, q, "SELECT "+commandColumns+" FROM device_commands WHERE ticket_id = ? ORDER BY id", id); err != nil {
		return Ticket{}, err
	}
	if t.Checklist, err = s.ticketChecklist(ctx, q, t); err != nil {
		return Ticket{}, err
	}
	if t.Recurrence != nil {
		if t.Recurrence.Episodes, err = recurrences(ctx, q, id); err != nil {
			return Ticket{}, err
		}
	}
	return t, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// formatTime is how times read in history notes: in the site's zone,
// with its offset.
func (s *Service) formatTime(site string, t time.Time) string {
	loc := s.cfg.Location
	if s.cfg.SiteLocation != nil {
		if l := s.cfg.SiteLocation(site); l != nil {
			loc = l
		}
	}
	return t.In(loc).Format(time.RFC3339)
}

// eventTicket is a ticket as Get returns it, trimmed for an event: no
// history, photos or reports; of its clocks only those not yet met (a
// screen shows them and what they were escalated to).
func (s *Service) eventTicket(t Ticket) Ticket {
	t.History, t.Photos, t.Reporters = nil, nil, nil
	var pending []Deadline
	for _, d := range t.Deadlines {
		if d.MetAt == nil {
			pending = append(pending, d)
		}
	}
	t.Deadlines = pending
	return t
}

// withClocks fills in the clocks not yet met of an open ticket, and its
// escalation, for an event about it.
func (s *Service) withClocks(ctx context.Context, t Ticket) Ticket {
	if !t.Status.Open() {
		return t
	}
	ds, err := s.deadlines(ctx, s.db, t.ID)
	if err != nil {
		s.cfg.Logger.Warn("ticket clocks for an event", "ticket", t.ID, "err", err)
		return t
	}
	t.Deadlines = ds
	t.Escalated = s.escalation(ds)
	return s.eventTicket(t)
}

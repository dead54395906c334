package ticketing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Pager decides who is paged about a ticket, and with what message. The
// ticket store keeps what it returns in its outbox (the notifications
// table), in the same transaction as the change that caused it; a sender
// outside this package delivers the rows (DuePages, RecordPage). It must
// be pure and quick: it runs inside the store's transactions.
type Pager interface {
	// Due returns the pages of the escalation steps due at now (none once
	// the subject is acknowledged) and when the next step falls due (zero:
	// none left).
	Due(sub PageSubject, now time.Time) (pages []OutboxPage, next time.Time)
	// Escalation returns the pages of a missed clock (claim, dispatch,
	// arrive, close) escalated to target (a step of SLA.Chain).
	Escalation(sub PageSubject, target, clock string, at time.Time) []OutboxPage
}

// PageSubject is what a Pager knows of a ticket.
type PageSubject struct {
	Ticket Ticket
	// Alarm is the ticket's alarm; nil for a ticket no sensor raised.
	Alarm *StoredAlarm
	// OpenedAt starts the steps' clocks: the creation, or the last
	// reopening.
	OpenedAt time.Time
	// AckedAt is when the alarm was acknowledged or the ticket claimed or
	// accepted; nil: not yet.
	AckedAt *time.Time
	// Code is the verification code of in-home work: for the reporter's
	// message only.
	Code string
	// ArriveBy is when the technician is due on site (the arrive clock
	// not met yet); nil: no such clock.
	ArriveBy *time.Time
}

// ReporterPager is a Pager that also tells the reporter how their report
// goes: ReporterAccepted (a technician took it: who, and when they are due)
// and ReporterResolved (the work is done). The store asks for these pages
// in the transaction of the action.
type ReporterPager interface {
	Reporter(sub PageSubject, event string, at time.Time) []OutboxPage
}

// Events of a ticket the reporter is told of.
const (
	ReporterAccepted = "accepted"
	// ReporterETA: the technician cannot arrive within the time limit
	// and says when they will (Ticket.ETA).
	ReporterETA      = "eta"
	ReporterResolved = "resolved"
)

// OutboxPage is one page to store: ID is the delivery id (a page already
// stored under it is kept as it is, so asking the Pager again never pages
// twice), Message the rendered message, opaque to the store.
type OutboxPage struct {
	ID        string
	Step      string
	Recipient string
	Channel   string
	DueAt     time.Time
	Message   json.RawMessage
}

// Delivery states of a stored page.
const (
	PageQueued = "queued"
	PageSent   = "sent"
	PageFailed = "failed"
)

// Notification is a stored page and what came of it.
type Notification struct {
	ID         string          `json:"id"`
	TicketID   int64           `json:"ticket_id"`
	AlarmID    string          `json:"alarm_id,omitempty"` // a page about an alarm nobody triaged in time (TicketID 0)
	Step       string          `json:"step"`
	Recipient  string          `json:"recipient"`
	Channel    string          `json:"channel"`
	State      string          `json:"state"`
	Attempts   int             `json:"attempts"`
	QueuedAt   time.Time       `json:"queued_at"`
	NextAt     *time.Time      `json:"next_at,omitempty"` // queued: the next attempt
	DoneAt     *time.Time      `json:"done_at,omitempty"` // sent or failed
	LastStatus int             `json:"last_status,omitempty"`
	LastBody   string          `json:"last_body,omitempty"`
	LastError  string          `json:"last_error,omitempty"`
	Message    json.RawMessage `json:"message"`
}

// PageOutcome is what one attempt of a page came to.
type PageOutcome struct {
	State    string // PageSent, PageQueued (again at NextAt) or PageFailed
	Attempts int
	Status   int    // the channel's answer: HTTP status, SMTP 250
	Body     string // excerpt of the answer
	Error    string // why not sent; never a secret
	NextAt   time.Time
	At       time.Time
}

// queuePages asks the Pager for the due steps of ticket id and stores
// them, and when the next step is due, inside tx. A ticket that is done
// has no next step.
func (s *Service) queuePages(ctx context.Context, tx *sql.Tx, id int64) error {
	if s.cfg.Pager == nil {
		return nil
	}
	sub, err := s.pageSubject(ctx, tx, id)
	if err != nil {
		return err
	}
	var next any
	if sub.Ticket.Status.Open() {
		pages, at := s.cfg.Pager.Due(sub, s.now())
		if err := s.insertPages(ctx, tx, id, pages); err != nil {
			return err
		}
		if !at.IsZero() {
			next = ms(at)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE tickets SET page_next_at = ? WHERE id = ?", next, id); err != nil {
		return fmt.Errorf("ticket %d next page: %w", id, err)
	}
	return nil
}

// queueEscalation stores the pages of a missed clock of ticket id.
func (s *Service) queueEscalation(ctx context.Context, tx *sql.Tx, id int64, target, clock string) error {
	if s.cfg.Pager == nil {
		return nil
	}
	sub, err := s.pageSubject(ctx, tx, id)
	if err != nil {
		return err
	}
	return s.insertPages(ctx, tx, id, s.cfg.Pager.Escalation(sub, target, clock, s.now()))
}

// queueReporter stores the pages that tell ticket id's reporter of event.
func (s *Service) queueReporter(ctx context.Context, tx *sql.Tx, id int64, event string) error {
	rp, ok := s.cfg.Pager.(ReporterPager)
	if !ok {
		return nil
	}
	sub, err := s.pageSubject(ctx, tx, id)
	if err != nil {
		return err
	}
	return s.insertPages(ctx, tx, id, rp.Reporter(sub, event, s.now()))
}

func (s *Service) pageSubject(ctx context.Context, tx *sql.Tx, id int64) (PageSubject, error) {
	t, err := getTicket(ctx, tx, id)
	if err != nil {
		return PageSubject{}, err
	}
	sub := PageSubject{Ticket: t}
	var since, acked sql.NullInt64
	var stored string
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(paging_since, created_at), acked_at, verification_code FROM tickets WHERE id = ?", id).
		Scan(&since, &acked, &stored); err != nil {
		return PageSubject{}, fmt.Errorf("ticket %d paging: %w", id, err)
	}
	// Stored hashed: the code is known only in the transaction that
	// issued it.
	sub.Code = clearCode(ctx, stored)
	sub.OpenedAt = fromMS(since.Int64)
	sub.AckedAt = fromNullMS(acked)
	var arrive sql.NullInt64
	err = tx.QueryRowContext(ctx, "SELECT due_at FROM ticket_deadlines WHERE ticket_id = ? AND kind = 'arrive' AND met_at IS NULL", id).Scan(&arrive)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return PageSubject{}, fmt.Errorf("ticket %d arrive clock: %w", id, err)
	}
	sub.ArriveBy = fromNullMS(arrive)
	if t.AlarmID != "" {
		a, err := getAlarm(ctx, tx, t.AlarmID)
		switch {
		case err == nil:
			sub.Alarm = &a
		case !errors.Is(err, ErrNotFound):
			return PageSubject{}, err
		}
	}
	return sub, nil
}

// insertPages stores pages not stored yet (by delivery id), each with a
// history row, and marks tx so that the sender is woken after the commit.
func (s *Service) insertPages(ctx context.Context, tx *sql.Tx, id int64, pages []OutboxPage) error {
	now := ms(s.now())
	var n int
	for _, p := range pages {
		msg := []byte(p.Message)
		if len(msg) == 0 {
			msg = []byte("{}")
		}
		due := ms(p.DueAt)
		if due < now {
			due = now
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO notifications (id, ticket_id, step, recipient, channel, message, queued_at, next_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
			p.ID, id, p.Step, p.Recipient, p.Channel, string(msg), now, due)
		if err != nil {
			return fmt.Errorf("ticket %d queue page: %w", id, err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			continue
		}
		n++
		if err := s.addHistory(ctx, tx, id, systemActor, "page_queued",
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

// markAcked records the first acknowledgement of ticket id: the later
// escalation steps are not paged.
func (s *Service) markAcked(ctx context.Context, tx *sql.Tx, id int64) error {
	if _, err := tx.ExecContext(ctx, "UPDATE tickets SET acked_at = coalesce(acked_at, ?), page_next_at = NULL WHERE id = ?",
		ms(s.now()), id); err != nil {
		return fmt.Errorf("ticket %d ack: %w", id, err)
	}
	return nil
}

// tickPages pages the escalation steps that have fallen due, one ticket
// per transaction.
func (s *Service) tickPages(ctx context.Context) error {
	if s.cfg.Pager == nil {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, "SELECT id FROM tickets WHERE page_next_at IS NOT NULL AND page_next_at <= ? ORDER BY page_next_at, id LIMIT ?",
		ms(s.now()), maxStepsPerTick)
	if err != nil {
		return fmt.Errorf("due pages: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("due pages: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("due pages: %w", err)
	}
	for _, id := range ids {
		if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.queuePages(ctx, tx, id) }); err != nil {
			return fmt.Errorf("page steps of ticket %d: %w", id, err)
		}
	}
	return nil
}

const notificationColumns = `id, ticket_id, alarm_id, step, recipient, channel, state, attempts, queued_at, next_at, done_at,
	last_status, last_body, last_error, message`

func scanNotification(r rowScanner) (Notification, error) {
	var n Notification
	var queued, next int64
	var done, ticket sql.NullInt64
	var msg string
	if err := r.Scan(&n.ID, &ticket, &n.AlarmID, &n.Step, &n.Recipient, &n.Channel, &n.State, &n.Attempts, &queued, &next, &done,
		&n.LastStatus, &n.LastBody, &n.LastError, &msg); err != nil {
		return Notification{}, err
	}
	n.TicketID = ticket.Int64
	n.QueuedAt, n.DoneAt, n.Message = fromMS(queued), fromNullMS(done), json.RawMessage(msg)
	if n.State == PageQueued {
		t := fromMS(next)
		n.NextAt = &t
	}
	return n, nil
}

func (s *Service) queryNotifications(ctx context.Context, q string, args ...any) ([]Notification, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// DuePages returns up to limit queued pages whose next attempt is due at
// now, oldest first (the sender's side of the outbox).
func (s *Service) DuePages(ctx context.Context, now time.Time, limit int) ([]Notification, error) {
	out, err := s.queryNotifications(ctx, "SELECT "+notificationColumns+` FROM notifications
		WHERE state = 'queued' AND next_at <= ? ORDER BY next_at, queued_at, id LIMIT ?`, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due pages: %w", err)
	}
	return out, nil
}

// Notifications lists the pages of ticket id, oldest first.
func (s *Service) Notifications(ctx context.Context, id int64) ([]Notification, error) {
	if _, err := getTicket(ctx, s.db, id); err != nil {
		return nil, err
	}
	out, err := s.queryNotifications(ctx, "SELECT "+notificationColumns+" FROM notifications WHERE ticket_id = ? ORDER BY queued_at, step, recipient, channel", id)
	if err != nil {
		return nil, fmt.Errorf("ticket %d notifications: %w", id, err)
	}
	return out, nil
}

// LatestStepPages lists, oldest first, the pages of the latest step of
// ticket id (the step of its last queued page), leaving out the pages to
// recipient skip: what the board's paging state of the ticket sums up,
// in one read. None for an unknown ticket.
func (s *Service) LatestStepPages(ctx context.Context, id int64, skip string) ([]Notification, error) {
	out, err := s.queryNotifications(ctx, "SELECT "+notificationColumns+` FROM notifications
		WHERE ticket_id = ? AND recipient <> ? AND step = (SELECT step FROM notifications
			WHERE ticket_id = ? AND recipient <> ? ORDER BY queued_at DESC, step DESC, recipient DESC, channel DESC LIMIT 1)
		ORDER BY queued_at, step, recipient, channel`, id, skip, id, skip)
	if err != nil {
		return nil, fmt.Errorf("ticket %d latest pages: %w", id, err)
	}
	return out, nil
}

// PendingPages counts the pages not yet delivered nor failed.
func (s *Service) PendingPages(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM notifications WHERE state = 'queued'").Scan(&n); err != nil {
		return 0, fmt.Errorf("pending pages: %w", err)
	}
	return n, nil
}

// RecordPage writes the outcome of an attempt on the queued page id; a
// page sent or failed gets a row in its ticket's history, and so does the
// first failed attempt of a page that is retried. A page no longer queued
// is left as it is.
func (s *Service) RecordPage(ctx context.Context, id string, o PageOutcome) error {
	switch o.State {
	case PageQueued, PageSent, PageFailed:
	default:
		return fmt.Errorf("record page %s: unknown state %q", id, o.State)
	}
	at := o.At
	if at.IsZero() {
		at = s.now()
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var ticket sql.NullInt64
		var alarm, recipient, channel string
		err := tx.QueryRowContext(ctx, "SELECT ticket_id, alarm_id, recipient, channel FROM notifications WHERE id = ? AND state = 'queued'", id).
			Scan(&ticket, &alarm, &recipient, &channel)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		next, done := ms(at), any(nil)
		if o.State == PageQueued {
			if !o.NextAt.IsZero() {
				next = ms(o.NextAt)
			}
		} else {
			done = ms(at)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET state = ?, attempts = ?, next_at = ?, done_at = ?,
			last_status = ?, last_body = ?, last_error = ? WHERE id = ?`,
			o.State, o.Attempts, next, done, o.Status, o.Body, o.Error, id); err != nil {
			return err
		}
		var action, note string
		switch {
		case o.State == PageSent:
			action, note = "page_sent", fmt.Sprintf("page %s to %s via %s sent (attempt %d)", id, recipient, channel, o.Attempts)
			if o.Status != 0 {
				note += fmt.Sprintf(", answer %d", o.Status)
			}
		case o.State == PageFailed:
			action, note = "page_failed", fmt.Sprintf("page %s to %s via %s failed after %d attempts: %s", id, recipient, channel, o.Attempts, o.Error)
		case o.Attempts == 1:
			action, note = "page_retrying", fmt.Sprintf("page %s to %s via %s not delivered yet, retrying: %s", id, recipient, channel, o.Error)
		default:
			return nil
		}
		if !ticket.Valid { // a page about an untriaged alarm
			return s.triageLog(ctx, tx, alarm, systemActor, action, note)
		}
		return s.addHistory(ctx, tx, ticket.Int64, systemActor, action, note)
	})
	if err != nil {
		return fmt.Errorf("record page %s: %w", id, err)
	}
	return nil
}

// AckByLink records that person acknowledged ticket id through the link
// of a page (notify's ack_url): the later escalation steps are not paged,
// exactly as after a claim, and the history says who, and that it was
// the link. The ticket must be open; acknowledging again changes nothing
// and reports changed false. It sends "ticket.updated" when it changed.
func (s *Service) AckByLink(ctx context.Context, id int64, person string) (t Ticket, changed bool, err error) {
	if person == "" {
		return Ticket{}, false, &FieldError{Field: "person", Message: "who acknowledges is required"}
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		changed = false
		cur, err := getTicket(ctx, tx, id)
		if err != nil {
			return err
		}
		if !cur.Status.Open() {
			return &ActionError{Action: "acknowledge", Kind: ErrIllegal, Reason: fmt.Sprintf("ticket %s is %s: nothing to acknowledge", cur.Number, cur.Status)}
		}
		var acked sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT acked_at FROM tickets WHERE id = ?", id).Scan(&acked); err != nil {
			return fmt.Errorf("ticket %d ack: %w", id, err)
		}
		if acked.Valid {
			return nil
		}
		if err := s.markAcked(ctx, tx, id); err != nil {
			return err
		}
		changed = true
		return s.addHistory(ctx, tx, id, Actor{Name: person, Role: RoleAckLink}, "acknowledged",
			"acknowledged by "+person+" via the link of a page")
	})
	if err != nil {
		return Ticket{}, false, fmt.Errorf("ticket %d acknowledge: %w", id, err)
	}
	t, err = s.Get(ctx, id)
	if err != nil {
		return Ticket{}, false, err
	}
	if changed {
		s.cfg.Notifier.Notify(ticketEvent(EventTicketUpdated, s.eventTicket(t)))
	}
	return t, changed, nil
}

// RoleAckLink is the role of the history row of an acknowledgement made
// through the link of a page.
const RoleAckLink = "ack_link"

// Acked tells when ticket id was first acknowledged (nil: not yet).
func (s *Service) Acked(ctx context.Context, id int64) (*time.Time, error) {
	var acked sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT acked_at FROM tickets WHERE id = ?", id).Scan(&acked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("ticket %d acked: %w", id, err)
	}
	return fromNullMS(acked), nil
}

// OpenTicketNotifications lists the pages of the open tickets, oldest
// first (the control room's "paged" line of each).
func (s *Service) OpenTicketNotifications(ctx context.Context) ([]Notification, error) {
	out, err := s.queryNotifications(ctx, "SELECT "+prefixed("n.", notificationColumns)+` FROM notifications n
		JOIN tickets t ON t.id = n.ticket_id WHERE t.status NOT IN ('resolved', 'closed', 'cancelled')
		ORDER BY n.ticket_id, n.queued_at, n.step, n.recipient, n.channel`)
	if err != nil {
		return nil, fmt.Errorf("open tickets' notifications: %w", err)
	}
	return out, nil
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Clocks of a ticket, stored in ticket_deadlines so that they survive a
// restart: the runner only reads the table.
const (
	clockClaim    = "claim"    // claimed or accepted within SLA.ClaimTimeout
	clockDispatch = "dispatch" // dispatched within the level's limit
	clockArrive   = "arrive"   // on site within the level's limit
	clockClose    = "close"    // resolved within the level's limit
	clockProgress = "progress" // L1: a progress note every SLA.ProgressEvery
	clockCallback = "callback" // callback within SLA.CallbackWithin of the resolution
)

// never is next_at of a clock at the top of the chain.
const never = math.MaxInt64

// ClockEvent is the data of "ticket.warning" and "ticket.escalated".
type ClockEvent struct {
	TicketID int64     `json:"ticket_id"`
	Number   string    `json:"number"`
	Site     string    `json:"site"`
	Building string    `json:"building"`
	Level    int       `json:"level"`
	Status   Status    `json:"status"`
	Assignee string    `json:"assignee,omitempty"`
	Clock    string    `json:"clock"` // claim, dispatch, arrive, close, progress, callback
	DueAt    time.Time `json:"due_at"`
	To       string    `json:"to,omitempty"`   // escalated to: team_lead, supervisor, project_manager
	Step     int       `json:"step,omitempty"` // 1 for the first escalation of this clock
	Message  string    `json:"message"`
}

// plan sets (or resets) a clock: due at due, warning at SLA.WarnAt of the
// span, no escalation yet.
func (s *Service) plan(ctx context.Context, tx *sql.Tx, id int64, clock string, start, due time.Time) error {
	warn := start.Add(time.Duration(float64(due.Sub(start)) * s.cfg.SLA.WarnAt))
	warned := 0
	if clock == clockProgress { // no early warning: the missing note is the warning
		warn, warned = due, 1
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO ticket_deadlines(ticket_id, kind, start_at, due_at, warn_at, warned, escalations, next_at, met_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, NULL)
		ON CONFLICT(ticket_id, kind) DO UPDATE SET start_at = excluded.start_at, due_at = excluded.due_at,
			warn_at = excluded.warn_at, warned = excluded.warned, escalations = 0, next_at = excluded.next_at, met_at = NULL`,
		id, clock, ms(start), ms(due), ms(warn), warned, ms(due))
	if err != nil {
		return fmt.Errorf("ticket %d clock %s: %w", id, clock, err)
	}
	return nil
}

// meet stops clocks: the step they time was done now.
func (s *Service) meet(ctx context.Context, tx *sql.Tx, id int64, clocks ...string) error {
	for _, c := range clocks {
		if _, err := tx.ExecContext(ctx, "UPDATE ticket_deadlines SET met_at = ? WHERE ticket_id = ? AND kind = ? AND met_at IS NULL",
			ms(s.now()), id, c); err != nil {
			return fmt.Errorf("ticket %d clock %s: %w", id, c, err)
		}
	}
	return nil
}

// meetAll stops every running clock of the work (not the callback).
func (s *Service) meetAll(ctx context.Context, tx *sql.Tx, id int64) error {
	return s.meet(ctx, tx, id, clockClaim, clockDispatch, clockArrive, clockClose, clockProgress)
}

// startFlow plans the clocks of a new ticket from its first report and
// dispatches it.
func (s *Service) startFlow(ctx context.Context, tx *sql.Tx, id int64) error {
	t, err := getTicket(ctx, tx, id)
	if err != nil {
		return err
	}
	now := s.now()
	if err := s.plan(ctx, tx, id, clockClaim, now, now.Add(s.cfg.SLA.ClaimTimeout)); err != nil {
		return err
	}
	if _, err := s.replanLevel(ctx, tx, t); err != nil {
		return err
	}
	if s.cfg.Dispatch == DispatchAuto {
		if err := s.autoDispatch(ctx, tx, t); err != nil {
			return err
		}
	}
	return s.queuePages(ctx, tx, id)
}

// restartFlow puts a done ticket back to new (a reopen, by a person or by
// an alarm raised again): fresh clocks from now, dispatched again.
func (s *Service) restartFlow(ctx context.Context, tx *sql.Tx, id int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE tickets SET status = 'new', assignee = '', outcome = '', done_at = NULL,
		first_reported_at = ?1, paging_since = ?1, acked_at = NULL WHERE id = ?2`, ms(s.now()), id); err != nil {
		return fmt.Errorf("reopen ticket %d: %w", id, err)
	}
	if err := s.meet(ctx, tx, id, clockCallback); err != nil {
		return err
	}
	return s.startFlow(ctx, tx, id)
}

// replanLevel sets the dispatch, arrive and close clocks of t's level,
// counted from its first report; clocks already met stay met. An open L1
// ticket gets a progress clock, other levels lose theirs. It returns the
// plan in words for the history.
func (s *Service) replanLevel(ctx context.Context, tx *sql.Tx, t Ticket) (string, error) {
	from := t.FirstReportedAt
	if from.IsZero() {
		from = t.CreatedAt
	}
	lim := s.cfg.SLA.level(t.Level)
	var words []string
	for _, c := range []struct {
		clock string
		d     time.Duration
	}{{clockDispatch, lim.Dispatch}, {clockArrive, lim.Arrive}, {clockClose, lim.Close}} {
		var met sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT met_at FROM ticket_deadlines WHERE ticket_id = ? AND kind = ?", t.ID, c.clock).Scan(&met)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("ticket %d clock %s: %w", t.ID, c.clock, err)
		}
		if met.Valid {
			continue
		}
		due := from.Add(c.d)
		if err := s.plan(ctx, tx, t.ID, c.clock, from, due); err != nil {
			return "", err
		}
		words = append(words, c.clock+" by "+s.formatTime(t.Site, due))
	}
	if t.Level == 1 && t.Status.Open() {
		var has int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM ticket_deadlines WHERE ticket_id = ? AND kind = ? AND met_at IS NULL",
			t.ID, clockProgress).Scan(&has); err != nil {
			return "", fmt.Errorf("ticket %d progress clock: %w", t.ID, err)
		}
		if has == 0 {
			now := s.now()
			if err := s.plan(ctx, tx, t.ID, clockProgress, now, now.Add(s.cfg.SLA.ProgressEvery)); err != nil {
				return "", err
			}
			words = append(words, "progress note every "+s.cfg.SLA.ProgressEvery.String())
		}
	} else if err := s.meet(ctx, tx, t.ID, clockProgress); err != nil {
		return "", err
	}
	if len(words) == 0 {
		return "no clock left to re-plan", nil
	}
	return "clocks from the first report at " + s.formatTime(t.Site, from) + ": " + strings.Join(words, ", "), nil
}

// progressNoted restarts the progress clock of an open L1 ticket: a
// person just did something on it.
func (s *Service) progressNoted(ctx context.Context, tx *sql.Tx, id int64) error {
	t, err := getTicket(ctx, tx, id)
	if err != nil {
		return err
	}
	if t.Level != 1 || !t.Status.Open() {
		return nil
	}
	now := s.now()
	return s.plan(ctx, tx, id, clockProgress, now, now.Add(s.cfg.SLA.ProgressEvery))
}

// deadlines lists the clocks of a ticket.
func (s *Service) deadlines(ctx context.Context, q querier, id int64) ([]Deadline, error) {
	rows, err := q.QueryContext(ctx, `SELECT kind, start_at, due_at, warn_at, warned, escalations, met_at
		FROM ticket_deadlines WHERE ticket_id = ? ORDER BY due_at, kind`, id)
	if err != nil {
		return nil, fmt.Errorf("ticket %d clocks: %w", id, err)
	}
	defer rows.Close()
	out := []Deadline{}
	for rows.Next() {
		var d Deadline
		var start, due, warn int64
		var met sql.NullInt64
		if err := rows.Scan(&d.Clock, &start, &due, &warn, &d.Warned, &d.Escalations, &met); err != nil {
			return nil, fmt.Errorf("ticket %d clocks: %w", id, err)
		}
		d.StartAt, d.DueAt, d.WarnAt, d.MetAt = fromMS(start), fromMS(due), fromMS(warn), fromNullMS(met)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Run looks at the clocks every ClockInterval until ctx ends: warnings
// before a limit, escalations after it. The state is in the database, so
// a restart picks up where the last run stopped.
func (s *Service) Run(ctx context.Context) error {
	log := s.cfg.Logger.With("part", "sla-clock")
	tick := time.NewTicker(s.cfg.ClockInterval)
	defer tick.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			log.Error("clock tick failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// maxStepsPerTick bounds one Tick after a long stop.
const maxStepsPerTick = 10000

// Tick fires every warning and escalation due at the current time, one
// step per transaction, and sends the events after each commit; then it
// queues the pages of the escalation policy steps that have fallen due.
func (s *Service) Tick(ctx context.Context) error {
	for i := 0; i < maxStepsPerTick; i++ {
		ev, typ, err := s.tickOne(ctx)
		if err != nil {
			return err
		}
		if typ == "" {
			break
		}
		if ev != nil {
			s.cfg.Notifier.Notify(Event{Type: typ, Site: ev.Site, Data: *ev})
		}
	}
	if err := s.tickTriage(ctx); err != nil {
		return err
	}
	return s.tickPages(ctx)
}

type dueClock struct {
	id                     int64
	clock                  string
	start, due, warn, next int64
	warned                 bool
	escalations            int
	number, site, building string
	level                  int
	status                 Status
	assignee               string
}

// tickOne takes the step of the clock due first. typ "" means nothing was
// due; ev nil with typ set means a silent step (a warning overtaken by the
// deadline itself).
func (s *Service) tickOne(ctx context.Context) (ev *ClockEvent, typ string, err error) {
	now := s.now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		ev, typ = nil, ""
		var c dueClock
		err := tx.QueryRowContext(ctx, `SELECT d.ticket_id, d.kind, d.start_at, d.due_at, d.warn_at, d.next_at, d.warned,
				d.escalations, coalesce(t.number, ''), t.site, t.building, t.level, t.status, t.assignee
			FROM ticket_deadlines d JOIN tickets t ON t.id = d.ticket_id
			WHERE d.met_at IS NULL AND ((d.warned = 0 AND d.warn_at <= ?1) OR d.next_at <= ?1)
			ORDER BY CASE WHEN d.warned = 0 AND d.warn_at < d.next_at THEN d.warn_at ELSE d.next_at END, d.ticket_id, d.kind LIMIT 1`,
			ms(now)).Scan(&c.id, &c.clock, &c.start, &c.due, &c.warn, &c.next, &c.warned, &c.escalations,
			&c.number, &c.site, &c.building, &c.level, &c.status, &c.assignee)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("due clocks: %w", err)
		}
		base := ClockEvent{TicketID: c.id, Number: c.number, Site: c.site, Building: c.building, Level: c.level,
			Status: c.status, Assignee: c.assignee, Clock: c.clock, DueAt: fromMS(c.due)}
		switch {
		case !c.warned && c.warn <= ms(now):
			typ = EventTicketWarning
			if _, err := tx.ExecContext(ctx, "UPDATE ticket_deadlines SET warned = 1 WHERE ticket_id = ? AND kind = ?", c.id, c.clock); err != nil {
				return fmt.Errorf("ticket %d clock %s: %w", c.id, c.clock, err)
			}
			if c.due <= ms(now) {
				return nil // late already: the escalation says it
			}
			base.Message = fmt.Sprintf("%s limit of %s (L%d) is near: due %s", c.clock, c.number, c.level, s.formatTime(c.site, fromMS(c.due)))
			ev = &base
			return s.addHistory(ctx, tx, c.id, systemActor, "sla_warning", base.Message)
		case c.clock == clockProgress:
			typ = EventTicketWarning
			base.Message = fmt.Sprintf("no progress note on L1 ticket %s since %s", c.number, s.formatTime(c.site, fromMS(c.start)))
			ev = &base
			if err := s.plan(ctx, tx, c.id, clockProgress, fromMS(c.due), now.Add(s.cfg.SLA.ProgressEvery)); err != nil {
				return err
			}
			return s.addHistory(ctx, tx, c.id, systemActor, "progress_overdue", base.Message)
		default:
			typ = EventTicketEscalated
			chain := s.cfg.SLA.Chain
			step := s.firstStep(c.clock) + c.escalations
			if step >= len(chain) {
				step = len(chain) - 1
			}
			next := int64(never)
			if step+1 < len(chain) {
				next = c.due + int64(c.escalations+1)*s.cfg.SLA.EscalationStep.Milliseconds()
			}
			if _, err := tx.ExecContext(ctx, "UPDATE ticket_deadlines SET escalations = escalations + 1, next_at = ?, warned = 1 WHERE ticket_id = ? AND kind = ?",
				next, c.id, c.clock); err != nil {
				return fmt.Errorf("ticket %d clock %s: %w", c.id, c.clock, err)
			}
			base.To, base.Step = chain[step], c.escalations+1
			base.Message = fmt.Sprintf("%s limit of %s (L%d) missed (due %s): escalated to %s",
				c.clock, c.number, c.level, s.formatTime(c.site, fromMS(c.due)), chain[step])
			ev = &base
			if err := s.addHistory(ctx, tx, c.id, systemActor, "escalated", base.Message); err != nil {
				return err
			}
			return s.queueEscalation(ctx, tx, c.id, chain[step], c.clock)
		}
	})
	if err != nil {
		return nil, "", fmt.Errorf("sla clock: %w", err)
	}
	if typ == EventTicketEscalated && ev != nil && ev.Step == 1 && ev.Clock != clockProgress {
		s.metrics.breached(ev.Clock)
	}
	return ev, typ, nil
}

// firstStep is where a missed clock enters the chain: an unclaimed ticket
// goes straight to the supervisor (domain.md), everything else starts
// with the team lead.
func (s *Service) firstStep(clock string) int {
	if clock == clockClaim {
		if i := slices.Index(s.cfg.SLA.Chain, ChainSupervisor); i >= 0 {
			return i
		}
	}
	return 0
}

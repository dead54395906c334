package ticketing

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Bounds of the phone's time an offline step may carry (ClientTime): a
// step queued on a phone without signal is sent when the signal is back,
// and its clocks count when it was done, not when it arrived, as long
// as the phone's clock is plausible.
const (
	// MaxClientAhead is how far past the server's time a step's time may
	// be (clock skew); later is not taken.
	MaxClientAhead = 2 * time.Minute
	// MaxClientAge is how long a step may have waited on the phone.
	MaxClientAge = 24 * time.Hour
)

// clientTime is when the step of req was done: its ClientTime when within
// the bounds (never before the ticket was opened, never after now),
// else now. note says which, for the history. (Not before the ticket was
// opened; the steps of one phone come in the order they were taken.)
func clientTime(req ActionRequest, t Ticket, now time.Time) (time.Time, string) {
	if req.ClientTime == nil {
		return now, ""
	}
	at := req.ClientTime.UTC()
	switch {
	case at.After(now.Add(MaxClientAhead)) || at.Before(now.Add(-MaxClientAge)):
		return now, fmt.Sprintf("sent from a phone offline; its time %s is out of bounds, the server's taken", at.Format(time.RFC3339))
	case at.After(now):
		at = now
	case at.Before(t.CreatedAt):
		at = t.CreatedAt
	}
	return at, "done offline at " + at.Format(time.RFC3339) + " (the phone's time), received " + now.Format(time.RFC3339)
}

// backdate moves the clocks the step met (in this transaction, at server
// time from or after now) to when it was done.
func (s *Service) backdate(ctx context.Context, tx *sql.Tx, id int64, now, at time.Time) error {
	if !at.Before(now) {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "UPDATE ticket_deadlines SET met_at = ? WHERE ticket_id = ? AND met_at >= ?", ms(at), id, ms(now)); err != nil {
		return fmt.Errorf("ticket %d clocks at the phone's time: %w", id, err)
	}
	return nil
}

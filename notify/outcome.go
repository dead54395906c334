package notify

import (
	"context"
	"strings"
	"time"
)

// Delivery states, as the outbox records them.
const (
	StateQueued = "queued" // waiting for its first or next attempt
	StateSent   = "sent"   // the channel took it (2xx, SMTP 250, robot errcode 0)
	StateFailed = "failed" // permanent error, or not sent within max_age
)

// Outcome is what one attempt leaves for the outbox row of a page.
type Outcome struct {
	State    string    // StateSent, StateQueued (try again at NextAt) or StateFailed
	Attempts int       // attempts so far, this one included
	Result   Result    // the channel's answer, for the record
	Error    string    // why it is not sent, for the record; never a secret
	NextAt   time.Time // when to try again (StateQueued)
	At       time.Time // when this attempt ended
}

// Attempt makes one attempt of a page and decides what becomes of it: sent;
// failed when the error is permanent or the page, queued at queuedAt, has
// reached maxAge; else queued again after the retry delay. attempts counts
// the earlier attempts. The outbox worker calls it for each due row and
// writes the outcome back; a crash between Send and that write repeats the
// send with the same delivery id (at least once, with an id).
func Attempt(ctx context.Context, ch Channel, m Message, attempts int, queuedAt time.Time, now func() time.Time, retry Retry, maxAge time.Duration) Outcome {
	res, err := ch.Send(ctx, m)
	res.Body = redactEcho(res.Body, m)
	o := Outcome{Attempts: attempts + 1, Result: res, At: now()}
	switch {
	case err == nil:
		o.State = StateSent
	case IsPermanent(err):
		o.State, o.Error = StateFailed, err.Error()
	default:
		o.Error = err.Error()
		next := o.At.Add(retry.Delay(o.Attempts))
		if Expired(queuedAt, next, maxAge) {
			o.State = StateFailed
			o.Error += " (not delivered within max_age " + maxAge.String() + ")"
		} else {
			o.State, o.NextAt = StateQueued, next
		}
	}
	return o
}

// redactEcho hides in a receiver's answer (any channel's) what it may
// echo of the message and that the record (shown to operators) must not
// keep: the recipient's phone, all but its last 4 digits, and a
// reporter's verification code.
func redactEcho(answer string, m Message) string {
	if p := strings.TrimSpace(m.Recipient.Phone); len(p) > 4 {
		masked := strings.Repeat("*", len(p)-4) + p[len(p)-4:]
		answer = strings.ReplaceAll(answer, p, masked)
		if bare := strings.TrimLeft(p, "+"); bare != p && len(bare) > 4 {
			answer = strings.ReplaceAll(answer, bare, masked[len(p)-len(bare):])
		}
	}
	if c := m.Incident.Code; c != "" {
		answer = strings.ReplaceAll(answer, c, strings.Repeat("*", len(c)))
	}
	return answer
}

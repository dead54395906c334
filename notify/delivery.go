package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// DeliveryID is the id of one page: the same for a ticket (and the moment
// its escalation started), step, recipient and channel, so every retry,
// and a resend after a crash between sending and recording, carries the
// same id and the receiver can drop the copy (at least once, with an id).
func DeliveryID(ticketID int64, openedAt time.Time, step, recipient, channel string) string {
	h := sha256.New()
	for _, part := range []string{
		strconv.FormatInt(ticketID, 10), strconv.FormatInt(openedAt.UnixMilli(), 10), step, recipient, channel,
	} {
		h.Write([]byte(strconv.Itoa(len(part))))
		h.Write([]byte{':'})
		h.Write([]byte(part))
	}
	return "d-" + strconv.FormatInt(ticketID, 10) + "-" + hex.EncodeToString(h.Sum(nil)[:10])
}

// Retry is the schedule of attempts of one page: the pause before attempt
// n+1 doubles from Min up to Max, and is drawn in [d/2, d] by Jitter, a
// source of numbers in [0, 1) (math/rand's Float64 of a seeded source;
// nil: no jitter, always d).
type Retry struct {
	Min, Max time.Duration
	Jitter   func() float64
}

// RetryFrom is the schedule of the notify settings (defaults filled in).
func RetryFrom(s Settings, jitter func() float64) Retry {
	s = s.withDefaults()
	return Retry{Min: s.RetryMin.Std(), Max: s.RetryMax.Std(), Jitter: jitter}
}

// Delay is the pause after the given failed attempt (1 for the first).
func (r Retry) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := float64(r.Min) * math.Pow(2, float64(attempt-1))
	if d > float64(r.Max) || math.IsInf(d, 0) {
		d = float64(r.Max)
	}
	if r.Jitter != nil {
		d = d/2 + d/2*r.Jitter()
	}
	return time.Duration(d)
}

// Expired tells whether a page queued at queuedAt has outlived maxAge at
// now: it is then failed, not tried again.
func Expired(queuedAt, now time.Time, maxAge time.Duration) bool {
	return now.Sub(queuedAt) >= maxAge
}

// Permanent wraps an error retrying will not cure (the recipient has no
// address for the channel, the channel is unknown): the page is failed at
// once.
type Permanent struct{ Err error }

func (e *Permanent) Error() string { return e.Err.Error() }
func (e *Permanent) Unwrap() error { return e.Err }

// IsPermanent tells whether err is a Permanent error.
func IsPermanent(err error) bool {
	var p *Permanent
	return errors.As(err, &p)
}

// excerpt keeps the start of a receiver's answer for the record.
func excerpt(b []byte) string {
	const max = 512
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

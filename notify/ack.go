package notify

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/internal/sealed"
)

// Errors of AckSigner.Verify.
var (
	ErrAckInvalid = errors.New("ack link is not valid")
	ErrAckExpired = errors.New("ack link has expired")
)

// AckClaim is what an ack_url token binds: this person may acknowledge
// this ticket, and nothing else, until Expires.
type AckClaim struct {
	TicketID int64
	Person   string
	Expires  time.Time
}

// AckSigner makes and checks the short-lived tokens of ack_url links: an
// HMAC-SHA256 over the ticket id, the person and the expiry, with a key
// that never leaves the server.
type AckSigner struct {
	key sealed.Key
	ttl time.Duration
	now func() time.Time
	// The key's domain separates the kinds of link made with one secret:
	// a token of one kind never verifies as another. path is where URL
	// puts them.
	path string
}

type ackPayload struct {
	T int64  `json:"t"`
	P string `json:"p"`
	E int64  `json:"e"` // unix seconds
}

const ackDomain = "caretaker-ack-v1."

// NewAckSigner takes a key of at least 32 characters, the lifetime of a
// link and a clock (nil: time.Now).
func NewAckSigner(key string, ttl time.Duration, now func() time.Time) (*AckSigner, error) {
	if len(key) < minAckSecret {
		return nil, fmt.Errorf("ack key shorter than %d characters", minAckSecret)
	}
	if ttl <= 0 {
		return nil, errors.New("ack link lifetime must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &AckSigner{key: sealed.NewKey(key, ackDomain, sha256.Size), ttl: ttl, now: now, path: "/ack/"}, nil
}

// Sign returns a token for the person and ticket, valid for the signer's
// lifetime from now.
func (s *AckSigner) Sign(ticketID int64, person string) string {
	return s.key.Seal(ackPayload{T: ticketID, P: person, E: s.now().Add(s.ttl).Unix()})
}

// URL is the link under base (notify.public_url): base/ack/<token> for
// an ack link, base/ack/r/<token> for a reporter's link.
func (s *AckSigner) URL(base string, ticketID int64, person string) string {
	return strings.TrimRight(base, "/") + s.path + url.PathEscape(s.Sign(ticketID, person))
}

// Verify checks a token: ErrAckInvalid when it was not made with this key
// or was changed, ErrAckExpired when its time is up.
func (s *AckSigner) Verify(token string) (AckClaim, error) {
	var p ackPayload
	if s.key.Open(token, &p) != nil || p.T <= 0 || p.P == "" {
		return AckClaim{}, ErrAckInvalid
	}
	c := AckClaim{TicketID: p.T, Person: p.P, Expires: time.Unix(p.E, 0)}
	if !s.now().Before(c.Expires) {
		return c, ErrAckExpired
	}
	return c, nil
}

package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
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
	key []byte
	ttl time.Duration
	now func() time.Time
	// domain separates the kinds of link made with one key: a token of
	// one kind never verifies as another. path is where URL puts them.
	domain, path string
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
	return &AckSigner{key: []byte(key), ttl: ttl, now: now, domain: ackDomain, path: "/ack/"}, nil
}

// Sign returns a token for the person and ticket, valid for the signer's
// lifetime from now.
func (s *AckSigner) Sign(ticketID int64, person string) string {
	p, _ := json.Marshal(ackPayload{T: ticketID, P: person, E: s.now().Add(s.ttl).Unix()})
	body := base64.RawURLEncoding.EncodeToString(p)
	return body + "." + base64.RawURLEncoding.EncodeToString(s.mac(body))
}

// URL is the link under base (notify.public_url): base/ack/<token> for
// an ack link, base/ack/r/<token> for a reporter's link.
func (s *AckSigner) URL(base string, ticketID int64, person string) string {
	return strings.TrimRight(base, "/") + s.path + url.PathEscape(s.Sign(ticketID, person))
}

// Verify checks a token: ErrAckInvalid when it was not made with this key
// or was changed, ErrAckExpired when its time is up.
func (s *AckSigner) Verify(token string) (AckClaim, error) {
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return AckClaim{}, ErrAckInvalid
	}
	// Strict: a token is valid in one spelling only (no spare bits).
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(body)) {
		return AckClaim{}, ErrAckInvalid
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return AckClaim{}, ErrAckInvalid
	}
	var p ackPayload
	if err := json.Unmarshal(raw, &p); err != nil || p.T <= 0 || p.P == "" {
		return AckClaim{}, ErrAckInvalid
	}
	c := AckClaim{TicketID: p.T, Person: p.P, Expires: time.Unix(p.E, 0)}
	if !s.now().Before(c.Expires) {
		return c, ErrAckExpired
	}
	return c, nil
}

func (s *AckSigner) mac(body string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(s.domain + body))
	return m.Sum(nil)
}

package notify

import (
	"crypto/sha256"
	"time"

	"github.com/caretaker-iot/caretaker/internal/sealed"
)

// ReporterPerson is the person a reporter's link is bound to: the
// reporter of its ticket, whoever that is.
const ReporterPerson = "reporter"

const reporterDomain = "caretaker-reporter-v1."

// NewReporterSigner makes the links of the reporter's "work done"
// message (base/ack/r/<token>): signed like ack links, with the same key,
// but in a domain of their own, so that an ack link never opens the
// reporter's page nor the other way round. Sign them for ReporterPerson;
// a link lets the reporter of its ticket confirm or dispute the work and
// leave the callback score, and nothing else.
func NewReporterSigner(key string, ttl time.Duration, now func() time.Time) (*AckSigner, error) {
	s, err := NewAckSigner(key, ttl, now)
	if err != nil {
		return nil, err
	}
	s.key, s.path = sealed.NewKey(key, reporterDomain, sha256.Size), "/ack/r/"
	return s, nil
}

package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Reasons a relayed event is dropped; they label
// caretaker_events_relay_rejected_total.
const (
	RelayRejectedSignature = "signature" // unsigned, or signed with another key, or altered
	RelayRejectedStale     = "stale"     // sent longer ago (or further ahead) than the relay's MaxAge
	RelayRejectedReplay    = "replay"    // a nonce seen already
	RelayRejectedMalformed = "malformed" // not an event of another instance
)

// sign stamps m (sent now, a fresh nonce) and signs it for topic: the
// HMAC-SHA256 under the cluster key of the topic and the message's JSON
// without its signature.
func sign(key []byte, topic string, m BusMessage, now time.Time) ([]byte, error) {
	n := make([]byte, 16)
	if _, err := rand.Read(n); err != nil {
		return nil, err
	}
	m.Sent, m.Nonce, m.Sig = now.UnixMilli(), hex.EncodeToString(n), ""
	body, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	m.Sig = hex.EncodeToString(mac(key, topic, body))
	return json.Marshal(m)
}

// verified tells whether m, received on topic, carries the signature the
// cluster key gives it.
func verified(key []byte, topic string, m BusMessage) bool {
	got, err := hex.DecodeString(m.Sig)
	if err != nil || len(got) != sha256.Size || len(key) == 0 {
		return false
	}
	m.Sig = ""
	body, err := json.Marshal(m)
	if err != nil {
		return false
	}
	return hmac.Equal(got, mac(key, topic, body))
}

func mac(key []byte, topic string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(topic))
	h.Write([]byte{'\n'})
	h.Write(body)
	return h.Sum(nil)
}

// nonces remembers the nonces of the events taken within the relay's
// MaxAge, so a captured event cannot be shown twice.
type nonces struct {
	seen map[string]time.Time // nonce -> when it may be forgotten
	max  int
}

// add records nonce until expiry and tells whether it was new; expired
// nonces are forgotten first. Past max entries the new one is refused
// (a flood of fresh signed events cannot come from a well-behaved peer).
func (n *nonces) add(nonce string, now, expiry time.Time) bool {
	if _, dup := n.seen[nonce]; dup {
		return false
	}
	if len(n.seen) >= n.max {
		for k, until := range n.seen {
			if now.After(until) {
				delete(n.seen, k)
			}
		}
		if len(n.seen) >= n.max {
			return false
		}
	}
	n.seen[nonce] = expiry
	return true
}

package sealed

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// ErrInvalid is a token not made with this key and domain, changed, or
// malformed.
var ErrInvalid = errors.New("token is not valid")

// Key signs and checks the tokens of one kind.
type Key struct {
	key    []byte
	domain string
	macLen int
}

// NewKey takes the secret, the domain of the tokens' kind (such as
// "caretaker-ack-v1.") and how many bytes of the MAC a token keeps
// (from 16, for short URLs and QR codes, to 32).
func NewKey(secret, domain string, macLen int) Key {
	macLen = min(max(macLen, 16), sha256.Size)
	return Key{key: []byte(secret), domain: domain, macLen: macLen}
}

// Seal returns the token of v (JSON-encoded).
func (k Key) Seal(v any) string {
	raw, _ := json.Marshal(v)
	body := base64.RawURLEncoding.EncodeToString(raw)
	return body + "." + base64.RawURLEncoding.EncodeToString(k.mac(body))
}

// Open checks a token and decodes its payload into v; ErrInvalid when it
// does not verify or does not decode. Strict base64: a token is valid in
// one spelling only (no spare bits).
func (k Key) Open(token string, v any) error {
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return ErrInvalid
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(got, k.mac(body)) {
		return ErrInvalid
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return ErrInvalid
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return ErrInvalid
	}
	return nil
}

// ID is a short name of a token for limiters and logs: its signature,
// which says nothing of the key.
func ID(token string) string {
	_, sig, _ := strings.Cut(token, ".")
	return sig
}

func (k Key) mac(body string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(k.domain + body))
	return m.Sum(nil)[:k.macLen]
}

package placecode

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/caretaker-iot/caretaker/devices"
)

// ErrInvalid is a token not made with this key, changed, or malformed.
var ErrInvalid = errors.New("place code is not valid")

// MinKey is the shortest signing key taken (characters).
const MinKey = 32

// Place is what a code is bound to: a place of a site and, for a code
// stuck on a device, the device.
type Place struct {
	Site     string `json:"s"`
	Building string `json:"b"`
	Floor    string `json:"f,omitempty"`
	Location string `json:"l,omitempty"`
	Device   string `json:"d,omitempty"`
}

// Check says what is missing or wrong in a place a code is made for; the
// message names the field.
func (p Place) Check() error {
	switch {
	case !devices.ValidID(p.Site):
		return fmt.Errorf("site: %q is not a valid site id", p.Site)
	case strings.TrimSpace(p.Building) == "":
		return errors.New("building: required")
	case p.Device == "" && strings.TrimSpace(p.Location) == "":
		return errors.New("location: required for a place without a device")
	case p.Device != "" && !devices.ValidID(p.Device):
		return fmt.Errorf("device: %q is not a valid device id", p.Device)
	}
	return nil
}

// macLen is how much of the HMAC-SHA256 a token keeps: 128 bits, so the
// URL (and the QR code) stays small.
const macLen = 16

const domain = "caretaker-place-v1."

// Signer makes and checks the tokens of place codes: base64url(JSON of the
// place) "." base64url(HMAC-SHA256(key, domain+body)[:16]).
type Signer struct {
	key []byte
}

// NewSigner takes a key of at least MinKey characters.
func NewSigner(key string) (*Signer, error) {
	if len(key) < MinKey {
		return nil, fmt.Errorf("place code key shorter than %d characters", MinKey)
	}
	return &Signer{key: []byte(key)}, nil
}

// Sign returns the token of place p.
func (s *Signer) Sign(p Place) string {
	raw, _ := json.Marshal(p)
	body := base64.RawURLEncoding.EncodeToString(raw)
	return body + "." + base64.RawURLEncoding.EncodeToString(s.mac(body))
}

// Verify returns the place of a token, or ErrInvalid.
func (s *Signer) Verify(token string) (Place, error) {
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return Place{}, ErrInvalid
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(body)) {
		return Place{}, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return Place{}, ErrInvalid
	}
	var p Place
	if err := json.Unmarshal(raw, &p); err != nil || p.Check() != nil {
		return Place{}, ErrInvalid
	}
	return p, nil
}

// CodeID is a short name of a token for the limiter and for logs: its
// signature, which says nothing of the key.
func CodeID(token string) string {
	_, sig, _ := strings.Cut(token, ".")
	return sig
}

func (s *Signer) mac(body string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(domain + body))
	return m.Sum(nil)[:macLen]
}

package placecode

import (
	"errors"
	"fmt"
	"strings"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/sealed"
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

// Signer makes and checks the tokens of place codes (package sealed):
// the place's JSON and 16 bytes of its HMAC-SHA256.
type Signer struct {
	key sealed.Key
}

// NewSigner takes a key of at least MinKey characters.
func NewSigner(key string) (*Signer, error) {
	if len(key) < MinKey {
		return nil, fmt.Errorf("place code key shorter than %d characters", MinKey)
	}
	return &Signer{key: sealed.NewKey(key, domain, macLen)}, nil
}

// Sign returns the token of place p.
func (s *Signer) Sign(p Place) string { return s.key.Seal(p) }

// Verify returns the place of a token, or ErrInvalid.
func (s *Signer) Verify(token string) (Place, error) {
	var p Place
	if s.key.Open(token, &p) != nil || p.Check() != nil {
		return Place{}, ErrInvalid
	}
	return p, nil
}

// CodeID is a short name of a token for the limiter and for logs: its
// signature, which says nothing of the key.
func CodeID(token string) string { return sealed.ID(token) }

package notify

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const ackKey = "0123456789abcdef0123456789abcdef"

func TestAckSigner(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 31, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := NewAckSigner(ackKey, 2*time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	tok := s.Sign(42, "tech1")
	c, err := s.Verify(tok)
	if err != nil || c.TicketID != 42 || c.Person != "tech1" || !c.Expires.Equal(now.Add(2*time.Hour)) {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if u := s.URL("https://ct.example.com/", 42, "tech1"); u != "https://ct.example.com/ack/"+tok {
		t.Errorf("URL = %s", u)
	}

	other, _ := NewAckSigner(strings.Repeat("k", 32), 2*time.Hour, clock)
	body, sig, _ := strings.Cut(tok, ".")
	tampered := []struct{ name, tok string }{
		{"other key", other.Sign(42, "tech1")},
		{"other ticket's body with this signature", strings.SplitN(s.Sign(43, "tech1"), ".", 2)[0] + "." + sig},
		{"flipped signature", body + "." + flip(sig)},
		{"flipped body", flip(body) + "." + sig},
		{"no signature", body},
		{"empty", ""},
		{"garbage", "a.b.c"},
		{"the signature spelled with its spare bits set", body + "." + spareBits(sig)},
	}
	for _, tc := range tampered {
		if _, err := s.Verify(tc.tok); !errors.Is(err, ErrAckInvalid) {
			t.Errorf("%s: Verify err = %v, want ErrAckInvalid", tc.name, err)
		}
	}

	now = now.Add(2*time.Hour - time.Second)
	if _, err := s.Verify(tok); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := s.Verify(tok); !errors.Is(err, ErrAckExpired) {
		t.Errorf("at expiry: err = %v, want ErrAckExpired", err)
	}
	if _, err := NewAckSigner("tiny-key", time.Hour, nil); err == nil || strings.Contains(err.Error(), "tiny-key") {
		t.Errorf("short key: %v", err)
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

// spareBits sets the unused low bits of the last character of an
// unpadded base64url string of 32 bytes (43 characters, 2 spare bits):
// the same bytes in another spelling.
func spareBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|3])
}

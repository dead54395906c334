package notify

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A reporter's link and an ack link made with the same key are of
// different kinds: neither verifies as the other, and each has its path.
func TestReporterSignerIsApartFromAckLinks(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	key := strings.Repeat("k", 32)
	ack, err := NewAckSigner(key, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := NewReporterSigner(key, 24*time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewReporterSigner("short", time.Hour, clock); err == nil {
		t.Error("short key accepted")
	}
	if u := rep.URL("https://ct.example/", 7, ReporterPerson); !strings.HasPrefix(u, "https://ct.example/ack/r/") {
		t.Errorf("reporter URL %s", u)
	}
	if u := ack.URL("https://ct.example", 7, "tech1"); strings.HasPrefix(u, "https://ct.example/ack/r/") || !strings.HasPrefix(u, "https://ct.example/ack/") {
		t.Errorf("ack URL %s", u)
	}
	tests := []struct {
		name   string
		signer *AckSigner
		token  string
		want   error
	}{
		{"reporter token", rep, rep.Sign(7, ReporterPerson), nil},
		{"ack token as reporter's", rep, ack.Sign(7, ReporterPerson), ErrAckInvalid},
		{"reporter token as ack", ack, rep.Sign(7, ReporterPerson), ErrAckInvalid},
		{"changed", rep, flip(rep.Sign(7, ReporterPerson)), ErrAckInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.signer.Verify(tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("verify: %v, want %v", err, tc.want)
			}
			if tc.want == nil && (c.TicketID != 7 || c.Person != ReporterPerson || !c.Expires.Equal(now.Add(24*time.Hour))) {
				t.Errorf("claim %+v", c)
			}
		})
	}
	tok := rep.Sign(7, ReporterPerson)
	now = now.Add(24 * time.Hour)
	if _, err := rep.Verify(tok); !errors.Is(err, ErrAckExpired) {
		t.Errorf("after its lifetime: %v, want expired", err)
	}
}

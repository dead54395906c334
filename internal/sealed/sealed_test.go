package sealed

import (
	"strings"
	"testing"
)

type claim struct {
	T int64  `json:"t"`
	P string `json:"p"`
}

func TestSealOpen(t *testing.T) {
	k := NewKey(strings.Repeat("s", 32), "caretaker-test-v1.", 16)
	tok := k.Seal(claim{T: 7, P: "wang"})
	var got claim
	if err := k.Open(tok, &got); err != nil || got != (claim{T: 7, P: "wang"}) {
		t.Fatalf("Open(Seal) = %+v, %v", got, err)
	}
	body, sig, _ := strings.Cut(tok, ".")
	other := NewKey(strings.Repeat("s", 32), "caretaker-other-v1.", 16)
	otherKey := NewKey(strings.Repeat("x", 32), "caretaker-test-v1.", 16)
	for _, tc := range []struct {
		name, token string
		key         Key
	}{
		{"another domain", tok, other},
		{"another key", tok, otherKey},
		{"no dot", body + sig, k},
		{"body changed", k.Seal(claim{T: 8, P: "wang"})[:len(body)] + "." + sig, k},
		{"signature cut", body + "." + sig[:len(sig)-2], k},
		{"spare bits", body + "." + sig[:len(sig)-1] + string(sig[len(sig)-1]^1), k},
		{"not json", "bm90IGpzb24." + sig, k},
	} {
		if err := tc.key.Open(tc.token, &got); err != ErrInvalid {
			t.Errorf("%s: Open = %v, want ErrInvalid", tc.name, err)
		}
	}
	if ID(tok) != sig {
		t.Errorf("ID = %q, want the signature %q", ID(tok), sig)
	}
	if full := NewKey("k", "d.", 99).Seal(1); len(ID(full)) != 43 {
		t.Errorf("a 32-byte MAC is %d base64 characters, want 43", len(ID(full)))
	}
}

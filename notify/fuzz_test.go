package notify

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseShift: any text either is refused or gives a shift whose times
// are in range and whose Covers does not panic.
func FuzzParseShift(f *testing.F) {
	for _, s := range []string{"mon-fri 08:00-20:00", "mon-sun 00:00-24:00", "fri-mon 20:00-08:00", "08:00-09:00", "sat,sun 24:00-01:00", "x"} {
		f.Add(s)
	}
	at := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		sh, err := ParseShift(s)
		if err != nil {
			return
		}
		if sh.Start < 0 || sh.Start >= 1440 || sh.End <= 0 || sh.End > 1440 || sh.Start == sh.End {
			t.Fatalf("%q gives %+v", s, sh)
		}
		for h := 0; h < 48; h++ {
			sh.Covers(at.Add(time.Duration(h)*time.Hour), time.UTC)
		}
	})
}

// FuzzFillJSON: whatever a value holds, a JSON body template stays JSON
// and the value comes back unchanged.
func FuzzFillJSON(f *testing.F) {
	for _, s := range []string{`plain`, `"quoted" \ back`, "line\nbreak", `{{phone}}`, "\u2028", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if !utf8.ValidString(v) {
			return // Go strings from config and tickets are UTF-8; json.Marshal replaces the rest
		}
		out := fill(`{"t":"{{text}}","p":"{{phone}}"}`, map[string]string{"text": v, "phone": "+86"}, jsonInner)
		var got map[string]string
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("value %q makes %q: %v", v, out, err)
		}
		if got["t"] != v || got["p"] != "+86" {
			t.Fatalf("value %q came back as %q", v, got)
		}
	})
}

package devices

import (
	"regexp"
	"strings"
	"testing"
)

// idPattern is what ValidID checks, as the regular expression it was.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// FuzzValidIDMatchesPattern: the byte-by-byte ValidID accepts exactly
// what the regular expression accepts.
func FuzzValidIDMatchesPattern(f *testing.F) {
	for _, s := range []string{"", "a", "gas-b2-07", "-a", ".a", "a.b_c-d", "a/b", "a b", "+", "#", "é", "a\xff",
		strings.Repeat("a", 64), strings.Repeat("a", 65), "A" + strings.Repeat("_", 63), "Z9", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidID(s), idPattern.MatchString(s); got != want {
			t.Fatalf("ValidID(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

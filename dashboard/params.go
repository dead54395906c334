package dashboard

import (
	"fmt"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/caretaker-iot/caretaker/devices"
)

// parseTimeParam reads an RFC 3339 query parameter, or def when absent.
func parseTimeParam(q url.Values, name string, def time.Time) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %s is not an RFC 3339 time such as 2026-11-23T01:00:00Z", name, quoteShort(v))
	}
	return t, nil
}

// parseLocalTimeParam reads an RFC 3339 time, or a date ("2026-11-01") or
// a time without offset ("2026-11-01T08:00") as wall-clock time in loc.
func parseLocalTimeParam(q url.Values, name string, def time.Time, loc *time.Location) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, ok := devices.LocalDate(v, loc); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s: %s is not a date (2026-11-01, local), a local time (2026-11-01T08:00) or an RFC 3339 time", name, quoteShort(v))
}

// parseIntParam reads an integer query parameter within [lo, hi], or def.
func parseIntParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: %s is not a whole number from %d to %d", name, quoteShort(v), lo, hi)
	}
	return n, nil
}

// quoteShort quotes user input for an error message, cut to a sane length.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

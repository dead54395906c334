package sqldb

import (
	"regexp"
	"strconv"
	"strings"
)

// eachCode calls f on every part of q that is SQL code, not a string
// literal, a quoted name or a comment, and returns q with those parts
// replaced by what f returned.
func eachCode(q string, f func(code string) string) string {
	var b strings.Builder
	start := 0
	flush := func(end int) {
		b.WriteString(f(q[start:end]))
	}
	for i := 0; i < len(q); {
		var end int
		switch {
		case q[i] == '\'' || q[i] == '"':
			end = closing(q, i+1, q[i])
		case strings.HasPrefix(q[i:], "--"):
			end = strings.IndexByte(q[i:], '\n')
			if end < 0 {
				end = len(q)
			} else {
				end += i
			}
		case strings.HasPrefix(q[i:], "/*"):
			end = strings.Index(q[i+2:], "*/")
			if end < 0 {
				end = len(q)
			} else {
				end += i + 4
			}
		default:
			i++
			continue
		}
		flush(i)
		b.WriteString(q[i:end])
		start, i = end, end
	}
	flush(len(q))
	return b.String()
}

// closing returns the index just past the quote that closes the literal
// opened before i (” or "" inside is an escaped quote).
func closing(q string, i int, quote byte) int {
	for i < len(q) {
		if q[i] == quote {
			if i+1 < len(q) && q[i+1] == quote {
				i += 2
				continue
			}
			return i + 1
		}
		i++
	}
	return len(q)
}

// Rebind turns SQLite's placeholders into PostgreSQL's: ?N is $N and a
// bare ? is one more than the highest number so far (SQLite's rule), so
// "a = ? AND b = ?" is "a = $1 AND b = $2". A ? in a string literal or a
// comment stays.
func Rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	highest := 0
	return eachCode(q, func(code string) string {
		if !strings.Contains(code, "?") {
			return code
		}
		var b strings.Builder
		for i := 0; i < len(code); i++ {
			if code[i] != '?' {
				b.WriteByte(code[i])
				continue
			}
			j := i + 1
			for j < len(code) && code[j] >= '0' && code[j] <= '9' {
				j++
			}
			n := highest + 1
			if j > i+1 {
				n, _ = strconv.Atoi(code[i+1 : j])
			}
			highest = max(highest, n)
			b.WriteString("$" + strconv.Itoa(n))
			i = j - 1
		}
		return b.String()
	})
}

// pgTypes are SQLite's column types as PostgreSQL spells them. SQLite's
// INTEGER holds 64 bits (unix milliseconds), PostgreSQL's only 32; an
// INTEGER PRIMARY KEY is SQLite's row id, numbered by the database.
var pgTypes = []struct {
	re  *regexp.Regexp
	new string
}{
	{regexp.MustCompile(`(?i)\bINTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b`), "BIGSERIAL PRIMARY KEY"},
	{regexp.MustCompile(`(?i)\bINTEGER\b`), "BIGINT"},
	{regexp.MustCompile(`(?i)\bREAL\b`), "DOUBLE PRECISION"},
	{regexp.MustCompile(`(?i)\bBLOB\b`), "BYTEA"},
}

// Translate returns migration m as engine e runs it: unchanged on SQLite;
// on PostgreSQL with its column types (pgTypes). The rest of a migration
// must be SQL both engines run alike.
func Translate(e Engine, m string) string {
	if e != PostgreSQL {
		return m
	}
	return eachCode(m, func(code string) string {
		for _, t := range pgTypes {
			code = t.re.ReplaceAllString(code, t.new)
		}
		return code
	})
}

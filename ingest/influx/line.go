package influx

import (
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Line protocol, written straight into a byte buffer: the same text as
// influxdb-client-go's write.NewPoint + write.PointToLineProtocol at
// millisecond precision, without the trailing newline, but without a Point,
// tag and field maps and slices, a 1 KiB builder and fmt for every field.
// TestLineMatchesClientPoint compares the two.

// lineTag is one tag of a point. Tags are given sorted by key, as the
// client sorts them.
type lineTag struct{ key, value string }

// lineField is one field: a float, or a bool when isBool.
type lineField struct {
	key    string
	num    float64
	flag   bool
	isBool bool
}

// maxStackFields is how many fields a point sorts without allocating.
const maxStackFields = 16

// encodeLine returns the line of one point; fields are sorted here.
func encodeLine(measurement string, tags []lineTag, fields []lineField, ts time.Time) string {
	slices.SortFunc(fields, func(a, b lineField) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	var stack [256]byte
	b := appendEscaped(stack[:0], measurement, false)
	b = append(b, ',')
	for i, t := range tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEscaped(b, t.key, true)
		b = append(b, '=')
		b = appendEscaped(b, t.value, true)
	}
	b = append(b, ' ')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEscaped(b, f.key, true)
		b = append(b, '=')
		if f.isBool {
			b = strconv.AppendBool(b, f.flag)
		} else {
			b = appendFloat(b, f.num)
		}
	}
	if !ts.IsZero() {
		b = append(b, ' ')
		b = strconv.AppendInt(b, ts.UnixNano()/int64(time.Millisecond), 10)
	}
	return string(b)
}

// appendFloat writes f as fmt's %v does.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendEscaped escapes a measurement, tag key or value, or field key as
// the client does: space and comma (and = when escapeEqual) get a
// backslash, newline, carriage return and tab become \\n, \\r and \\t, and
// bytes that are not UTF-8 become U+FFFD.
func appendEscaped(b []byte, s string, escapeEqual bool) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf, c == ' ', c == ',', c == '=', c == '\n', c == '\r', c == '\t':
			plain = false
		}
	}
	if plain {
		return append(b, s...)
	}
	for _, r := range s {
		switch r {
		case '\n':
			b = append(b, `\\n`...)
			continue
		case '\r':
			b = append(b, `\\r`...)
			continue
		case '\t':
			b = append(b, `\\t`...)
			continue
		case ' ', ',':
			b = append(b, '\\')
		case '=':
			if escapeEqual {
				b = append(b, '\\')
			}
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

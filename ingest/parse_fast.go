package ingest

import (
	"strconv"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// The fast path of ParseTelemetry. Nearly every telemetry payload has the
// same plain shape:
//
//	{"ts": 1795395600123, "metrics": {"lel_pct": 12.5, "fault": false}}
//
// parseTelemetryFast reads that shape in one pass over the bytes, without
// encoding/json's three levels of maps of json.RawMessage. It takes a
// payload only when it understands all of it and the result is a success:
// an object whose keys and strings are plain printable ASCII without
// escapes; "ts" absent, null, an integer of milliseconds or an RFC 3339
// string, within range; "metrics" an object of numbers, true and false,
// each name once and not empty; other top-level keys with a number, a
// string, true, false or null; no key twice. Anything else (escapes, other
// bytes, nested values, a fraction or exponent in ts, duplicate keys, a
// number out of range, any error at all) returns ok false, and the general
// parser decides: the result, or the reason and message of the refusal,
// is the general parser's (FuzzParseTelemetryFastPath checks it).

// knownMetricNames interns the catalogue's metric names, so that a reading
// of a known kind allocates no string for its metric names.
var knownMetricNames = func() map[string]string {
	m := make(map[string]string)
	for _, k := range devices.Kinds() {
		spec, _ := devices.SpecOf(k)
		for _, ms := range spec.Metrics {
			m[ms.Name] = ms.Name
		}
	}
	return m
}()

func parseTelemetryFast(payload []byte, received time.Time) (ts time.Time, values map[string]devices.Value, ok bool) {
	s := scanner{b: payload}
	s.space()
	if !s.eat('{') {
		return time.Time{}, nil, false
	}
	var tsRaw []byte
	seenTS, seenMetrics := false, false
	for {
		s.space()
		key, ok := s.plainString()
		if !ok {
			return time.Time{}, nil, false
		}
		s.space()
		if !s.eat(':') {
			return time.Time{}, nil, false
		}
		s.space()
		switch string(key) {
		case "ts":
			if seenTS {
				return time.Time{}, nil, false
			}
			seenTS = true
			if tsRaw, ok = s.scalar(); !ok {
				return time.Time{}, nil, false
			}
		case "metrics":
			if seenMetrics {
				return time.Time{}, nil, false
			}
			seenMetrics = true
			if values, ok = s.metrics(); !ok {
				return time.Time{}, nil, false
			}
		default:
			// Another key may come twice: the last one would win, and
			// it is ignored either way.
			if _, ok = s.scalar(); !ok {
				return time.Time{}, nil, false
			}
		}
		s.space()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			break
		}
		return time.Time{}, nil, false
	}
	s.space()
	if s.i != len(s.b) || !seenMetrics {
		return time.Time{}, nil, false
	}
	if ts, ok = fastTS(tsRaw, received); !ok {
		return time.Time{}, nil, false
	}
	return ts, values, true
}

// fastTS reads ts when it is missing, null, an integer or a plain string,
// and accepts it only within range; parseTS says why otherwise.
func fastTS(raw []byte, received time.Time) (time.Time, bool) {
	var ts time.Time
	switch {
	case raw == nil || string(raw) == "null":
		return received, true
	case raw[0] == '"':
		t, err := time.Parse(time.RFC3339Nano, string(raw[1:len(raw)-1]))
		if err != nil {
			return time.Time{}, false
		}
		ts = t
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		for _, c := range raw[1:] {
			if c < '0' || c > '9' {
				return time.Time{}, false // fraction or exponent: the general path
			}
		}
		ms, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		ts = time.UnixMilli(ms)
	default:
		return time.Time{}, false
	}
	if ts.Before(minTime) || ts.After(received.Add(maxFuture)) {
		return time.Time{}, false
	}
	return ts, true
}

// scanner reads JSON from b at i. Every method returns false on anything it
// does not handle, leaving the payload to the general parser.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// plainString reads a string of printable ASCII without escapes and
// returns its content.
func (s *scanner) plainString() ([]byte, bool) {
	if !s.eat('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// scalar reads a plain string, a number, true, false or null and returns
// its text (a string with its quotes).
func (s *scanner) scalar() ([]byte, bool) {
	start := s.i
	if s.i >= len(s.b) {
		return nil, false
	}
	var ok bool
	switch c := s.b[s.i]; {
	case c == '"':
		_, ok = s.plainString()
	case c == '-' || (c >= '0' && c <= '9'):
		ok = s.number()
	case c == 't':
		ok = s.word("true")
	case c == 'f':
		ok = s.word("false")
	case c == 'n':
		ok = s.word("null")
	}
	if !ok {
		return nil, false
	}
	return s.b[start:s.i], true
}

func (s *scanner) word(w string) bool {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return false
	}
	s.i += len(w)
	return true
}

// number reads a number of JSON's grammar exactly:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	s.eat('-')
	switch {
	case s.eat('0'):
	case s.i < len(s.b) && s.b[s.i] >= '1' && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.eat('.') && !s.digits() {
		return false
	}
	if s.eat('e') || s.eat('E') {
		if !s.eat('+') {
			s.eat('-')
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits reads one or more decimal digits.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// metrics reads the "metrics" object: at least one metric, each a
// non-empty name once, with a finite number, true or false.
func (s *scanner) metrics() (map[string]devices.Value, bool) {
	if !s.eat('{') {
		return nil, false
	}
	values := make(map[string]devices.Value, 8)
	for {
		s.space()
		name, ok := s.plainString()
		if !ok || len(name) == 0 {
			return nil, false
		}
		if _, dup := values[string(name)]; dup {
			return nil, false
		}
		s.space()
		if !s.eat(':') {
			return nil, false
		}
		s.space()
		var v devices.Value
		start := s.i
		switch {
		case s.word("true"):
			v = devices.FlagValue(true)
		case s.word("false"):
			v = devices.FlagValue(false)
		case s.number():
			f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
			if err != nil {
				return nil, false // out of range
			}
			v = devices.Num(f)
		default:
			return nil, false
		}
		key, known := knownMetricNames[string(name)]
		if !known {
			key = string(name)
		}
		values[key] = v
		s.space()
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return values, true
		}
		return nil, false
	}
}

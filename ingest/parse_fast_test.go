package ingest

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// The fast path must give exactly what the general parser gives. These
// tables say which payloads it takes itself (so that it cannot quietly
// fall back on everything) and which it must leave to the general parser;
// every one of them, and every fuzzed input, gets the same result either
// way (sameTelemetryResult).

var fastPathTaken = []string{
	`{"ts": 1795395600123, "metrics": {"lel_pct": 12.5, "fault": false}}`,
	`{"metrics":{"lel_pct":12.5},"ts":1795395600123}`, // any key order
	" \t\r\n{ \"ts\" :\n1795395600123 , \"metrics\" : { \"a\" : -1.5e2 , \"b\" : true } } \n",
	`{"ts": "2026-11-23T09:00:00.5+08:00", "metrics": {"co_ppm": 3}}`,
	`{"ts": "2026-11-23T00:59:00Z", "metrics": {"x": 0}}`,
	`{"metrics": {"leak": true}}`,                  // no ts: receive time
	`{"ts": null, "metrics": {"battery_pct": 80}}`, // null ts: receive time
	`{"fw": "1.2", "seq": 17, "ok": true, "x": null, "fw": "1.3", "metrics": {"a": 1}}`,
	`{"metrics": {"a": -0, "b": 0.0, "c": 1E+2, "d": 1e-2, "e": -0.000001, "f": 1e-400}}`,
	`{"metrics": {"big": 123456789012345678901234567890, "max": 1.7976931348623157e308}}`,
	`{"metrics": {"voltage_v": 230.1, "current_a": 12.5, "power_kw": 2.8, "frequency_hz": 50, "power_factor": 0.97, "energy_kwh": 123456.7, "not_in_catalogue": 1}}`,
	`{"metrics": {"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10}}`,
	`{"ts": 1795482000000, "metrics": {"a": 1}}`, // exactly 24 h ahead
	`{"ts": 946684800000, "metrics": {"a": 1}}`,  // exactly 2000-01-01
}

var fastPathLeft = []string{
	// Refused by the general parser: reason and message are its own.
	`{"metrics": {"a": 1}`, `[1,2]`, `null`, ``, `12.5`, `{}`, `{"ts": 1795395600123}`,
	`{"metrics": {}}`, `{"metrics": null}`, `{"metrics": [1]}`, `{"metrics": {"": 1}}`,
	`{"metrics": {"a": "1"}}`, `{"metrics": {"a": null}}`, `{"metrics": {"a": [1]}}`, `{"metrics": {"a": {"v": 1}}}`,
	`{"metrics": {"a": 1e999}}`, `{"metrics": {"a": -1e999}}`, `{"metrics": {"a": NaN}}`, `{"metrics": {"a": Infinity}}`,
	`{"metrics": {"a": 01}}`, `{"metrics": {"a": 1.}}`, `{"metrics": {"a": .5}}`, `{"metrics": {"a": +1}}`,
	`{"metrics": {"a": 0x10}}`, `{"metrics": {"a": 1_000}}`, `{"metrics": {"a": 1e}}`, `{"metrics": {"a": -}}`,
	`{"metrics": {"a": tru}}`, `{"metrics": {"a": truex}}`, `{"metrics": {"a": 1,}}`, `{"metrics": {"a": 1}}x`,
	`{"metrics": {"a": 1}} {}`, `{"metrics": {"a": 1},}`, `{"metrics" {"a": 1}}`, "\ufeff{\"metrics\": {\"a\": 1}}",
	`{"ts": 1795395600, "metrics": {"a": 1}}`, `{"ts": 1795482000001, "metrics": {"a": 1}}`,
	`{"ts": "yesterday", "metrics": {"a": 1}}`, `{"ts": true, "metrics": {"a": 1}}`, `{"ts": 1e300, "metrics": {"a": 1}}`,
	`{"ts": -0, "metrics": {"a": 1}}`, `{"ts": 9223372036854775808, "metrics": {"a": 1}}`,
	`{"ts": "2026-11-24T01:00:01Z", "metrics": {"a": 1}}`,
	// Accepted by the general parser, in ways the fast path leaves to it.
	`{"ts": 1.7953956001235e12, "metrics": {"a": 1}}`, // ts with a fraction or exponent
	`{"ts": 1795395600123.0, "metrics": {"a": 1}}`,
	`{"ts": 1795395600123, "ts": 1795395600124, "metrics": {"a": 1}}`, // ts twice: the last wins
	`{"metrics": {"a": 1}, "metrics": {"b": true}}`,                   // metrics twice
	`{"metrics": {"a": 1, "a": true}}`,                                // a metric twice
	`{"t\u0073": 1795395600123, "metrics": {"a": 1}}`,                 // escaped key
	`{"metrics": {"a\"b": 1}}`, `{"metrics": {"caf\u00e9": 1}}`,       // escapes in a name
	`{"metrics": {"café": 1}}`, "{\"metrics\": {\"a\xff\": 1}}", // non-ASCII, invalid UTF-8
	`{"ts": "2026-11-23T00:59:00\u005a", "metrics": {"a": 1}}`,                    // escape in ts
	`{"fw": {"v": 1}, "metrics": {"a": 1}}`, `{"tags": [1], "metrics": {"a": 1}}`, // nested values
	`{"fw": "1\n2", "metrics": {"a": 1}}`,
}

func TestParseTelemetryFastPathTakes(t *testing.T) {
	for _, p := range fastPathTaken {
		if _, _, ok := parseTelemetryFast([]byte(p), received); !ok {
			t.Errorf("%q: fast path left it to the general parser", p)
		}
		sameTelemetryResult(t, []byte(p), received)
	}
}

func TestParseTelemetryFastPathLeaves(t *testing.T) {
	for _, p := range fastPathLeft {
		if _, _, ok := parseTelemetryFast([]byte(p), received); ok {
			t.Errorf("%q: fast path took it", p)
		}
		sameTelemetryResult(t, []byte(p), received)
	}
}

// TestParseTelemetryFastPathValues spells out a few results, so that the
// two parsers cannot agree on something wrong.
func TestParseTelemetryFastPathValues(t *testing.T) {
	ts, values, ok := parseTelemetryFast([]byte(`{"metrics": {"a": -0, "b": 1e-400, "c": true, "lel_pct": 2.5e1}, "ts": "2026-11-23T09:00:00.5+08:00"}`), received)
	if !ok {
		t.Fatal("fast path did not take it")
	}
	if want := received.Add(500 * time.Millisecond); !ts.Equal(want) {
		t.Errorf("ts = %s, want %s", ts, want)
	}
	if _, off := ts.Zone(); off != 8*3600 {
		t.Errorf("ts zone offset = %d, want +8h", off)
	}
	if a := values["a"]; a.IsFlag || !math.Signbit(a.Number) || a.Number != 0 {
		t.Errorf("a = %+v, want -0", a)
	}
	if b := values["b"]; b.IsFlag || b.Number != 0 {
		t.Errorf("b = %+v, want 0 (underflow)", b)
	}
	if c := values["c"]; c != devices.FlagValue(true) {
		t.Errorf("c = %+v, want true", c)
	}
	if l := values["lel_pct"]; l != devices.Num(25) {
		t.Errorf("lel_pct = %+v, want 25", l)
	}
	if len(values) != 4 {
		t.Errorf("values = %v, want 4 of them", values)
	}
}

// sameTelemetryResult fails unless ParseTelemetry and the general parser
// give the same result for payload (values to the bit, timestamps with
// their zone, the same reason and message), and unless what the fast path
// takes the general parser takes the same way.
func sameTelemetryResult(t *testing.T, payload []byte, received time.Time) {
	t.Helper()
	gts, gvals, gerr := parseTelemetryGeneral(payload, received)
	if fts, fvals, ok := parseTelemetryFast(payload, received); ok {
		if gerr != nil {
			t.Fatalf("%q: fast path took it, the general parser refuses it: %v", payload, gerr)
		}
		sameReading(t, payload, "fast path", fts, fvals, gts, gvals)
	}
	ts, vals, err := ParseTelemetry(payload, received)
	if (err == nil) != (gerr == nil) || (err != nil && (reasonOf(err) != reasonOf(gerr) || !generalMessage(payload, received, err.Error()))) {
		t.Fatalf("%q: ParseTelemetry error %v, general parser %v", payload, err, gerr)
	}
	if err == nil {
		sameReading(t, payload, "ParseTelemetry", ts, vals, gts, gvals)
	}
}

// generalMessage tells whether the general parser refuses payload with
// msg. With several bad metrics it names the first it meets in map order,
// which varies: it is asked again until it says msg, or 100 times.
func generalMessage(payload []byte, received time.Time, msg string) bool {
	for range 100 {
		if _, _, err := parseTelemetryGeneral(payload, received); err != nil && err.Error() == msg {
			return true
		}
	}
	return false
}

func sameReading(t *testing.T, payload []byte, who string, ts time.Time, vals map[string]devices.Value, gts time.Time, gvals map[string]devices.Value) {
	t.Helper()
	name, off := ts.Zone()
	gname, goff := gts.Zone()
	if !ts.Equal(gts) || name != gname || off != goff {
		t.Fatalf("%q: %s ts %s, general parser %s", payload, who, ts, gts)
	}
	if len(vals) != len(gvals) {
		t.Fatalf("%q: %s values %v, general parser %v", payload, who, vals, gvals)
	}
	for k, g := range gvals {
		v, ok := vals[k]
		if !ok || v.IsFlag != g.IsFlag || v.Flag != g.Flag || math.Float64bits(v.Number) != math.Float64bits(g.Number) {
			t.Fatalf("%q: %s %s = %+v, general parser %+v", payload, who, k, v, g)
		}
	}
}

// FuzzParseTelemetryFastPath: for any payload, the fast path's result is
// the general parser's, and so is ParseTelemetry's, refusals included.
//
//	go test -run '^$' -fuzz '^FuzzParseTelemetryFastPath$' -fuzztime 5m ./ingest
func FuzzParseTelemetryFastPath(f *testing.F) {
	for _, seeds := range [][]string{telemetrySeeds, fastPathTaken, fastPathLeft} {
		for _, s := range seeds {
			f.Add([]byte(s))
		}
	}
	f.Add([]byte(`{"metrics": {"a": ` + strings.Repeat("9", 400) + `}}`))
	f.Add([]byte(`{"metrics": {"a": 0.` + strings.Repeat("0", 400) + `1}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		sameTelemetryResult(t, payload, received)
	})
}

// BenchmarkParseTelemetryGeneral: BenchmarkParseTelemetry's payload through
// the general parser only, to compare with the fast path.
func BenchmarkParseTelemetryGeneral(b *testing.B) {
	payload := []byte(`{"ts": 1795395500123, "metrics": {"voltage_v": 230.1, "current_a": 12.5, "power_kw": 2.8, "frequency_hz": 50, "power_factor": 0.97, "energy_kwh": 123456.7}}`)
	now := time.UnixMilli(1795395500200)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if _, _, err := parseTelemetryGeneral(payload, now); err != nil {
			b.Fatal(err)
		}
	}
}

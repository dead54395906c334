package influx

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
)

// clientLine is how points were encoded before line.go: the
// client's Point and PointToLineProtocol, at millisecond precision.
func clientLine(measurement string, tags map[string]string, fields map[string]any, ts time.Time) string {
	return strings.TrimSuffix(write.PointToLineProtocol(write.NewPoint(measurement, tags, fields, ts), time.Millisecond), "\n")
}

// pendingLines runs write against an Influx that never sends (nothing is
// due before Close) and returns the lines it queued.
func pendingLines(t *testing.T, write func(in *Store)) []string {
	t.Helper()
	in, err := Open(Config{URL: "http://127.0.0.1:1", BatchSize: 1000, FlushInterval: time.Hour, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	write(in)
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.pending...)
}

func TestLineMatchesClientPoint(t *testing.T) {
	ts := time.UnixMilli(1795395600123)
	odd := []string{"B2", "", "a b", "a,b", "a=b", "a\nb", "a\r\tb", `a\b`, `a"b`, "大楼", "a\xffb", "=,  ,="}
	for _, s := range odd {
		r := devices.Reading{Device: "gas-" + s, Kind: devices.Kind("gas" + s), Site: "s1" + s, Building: s, Time: ts,
			Values: map[string]devices.Value{"lel_pct": devices.Num(12.5), "fault": devices.FlagValue(true), "m" + s: devices.Num(-0.0)}}
		e := devices.Event{Device: r.Device, Site: r.Site, Building: s, Time: ts, Name: "door" + s, Active: s == ""}
		implausible := map[string]float64{"volts" + s: 1e21, "amps": math.NaN()}
		got := pendingLines(t, func(in *Store) {
			ctx := context.Background()
			if err := in.WriteReading(ctx, r); err != nil {
				t.Fatal(err)
			}
			if err := in.WriteEvent(ctx, e); err != nil {
				t.Fatal(err)
			}
			if err := in.WriteImplausible(ctx, r, implausible); err != nil {
				t.Fatal(err)
			}
		})
		tags := func(extraKey, extraValue string) map[string]string {
			m := map[string]string{"site": r.Site, "device": r.Device}
			if s != "" {
				m["building"] = s
			}
			if extraKey != "" {
				m[extraKey] = extraValue
			}
			return m
		}
		readingFields := map[string]any{}
		for k, v := range r.Values {
			if v.IsFlag {
				readingFields[k] = v.Flag
			} else {
				readingFields[k] = v.Number
			}
		}
		implausibleFields := map[string]any{}
		for k, v := range implausible {
			implausibleFields[k] = v
		}
		want := []string{
			clientLine(string(r.Kind), tags("", ""), readingFields, ts),
			clientLine(EventMeasurement, tags("event", e.Name), map[string]any{"active": e.Active}, ts),
			clientLine(ImplausibleMeasurement, tags("kind", string(r.Kind)), implausibleFields, ts),
		}
		if len(got) != len(want) {
			t.Fatalf("%q: queued %q, want %q", s, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%q: line %d\n got %q\nwant %q", s, i, got[i], want[i])
			}
		}
	}
}

// TestLineFloatsMatchClient: fields of every sort of float, and a zero time
// (no timestamp), as the client writes them.
func TestLineFloatsMatchClient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e6, 999999, 1e-5, 1e-4, 123456.7, 1234567.8, 1e21, 1e20,
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN()}
	for range 20000 {
		floats = append(floats, math.Float64frombits(rng.Uint64()), rng.NormFloat64()*math.Pow(10, float64(rng.IntN(40)-20)))
	}
	for _, f := range floats {
		fields := []lineField{{key: "v", num: f}}
		got := encodeLine("m", []lineTag{{"device", "d"}}, fields, time.Time{})
		want := clientLine("m", map[string]string{"device": "d"}, map[string]any{"v": f}, time.Time{})
		if got != want {
			t.Fatalf("%v (%x): got %q, want %q", f, math.Float64bits(f), got, want)
		}
	}
}

// FuzzLineMatchesClientPoint: any names, values and times encode as the
// client encodes them.
func FuzzLineMatchesClientPoint(f *testing.F) {
	f.Add("gas", "B2", "gas-b2-07", "lel_pct", 12.5, true, int64(1795395600123))
	f.Add("a b,c", "x=y", "d\n\r\t", "k=,  v", math.Inf(-1), false, int64(-1))
	f.Add("\xff大", "", "\\\"", "", -0.0, true, int64(0))
	f.Fuzz(func(t *testing.T, measurement, building, device, field string, num float64, flag bool, ms int64) {
		tags := map[string]string{"device": device, "site": "s1"}
		ltags := []lineTag{{"device", device}, {"site", "s1"}}
		if building != "" {
			tags["building"] = building
			ltags = append([]lineTag{{"building", building}}, ltags...)
		}
		fields := map[string]any{"flag": flag, field: num}
		lfields := []lineField{{key: "flag", flag: flag, isBool: true}, {key: field, num: num}}
		if field == "flag" {
			lfields = lfields[1:]
		}
		ts := time.UnixMilli(ms)
		if got, want := encodeLine(measurement, ltags, lfields, ts), clientLine(measurement, tags, fields, ts); got != want {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
	})
}

// BenchmarkEncodeReading: one power-meter reading to line protocol, with
// the client's Point as before (client-point) and with encodeLine (line).
func BenchmarkEncodeReading(b *testing.B) {
	r := devices.Reading{Device: "pm-b1-01", Kind: devices.KindPower, Site: "s1", Building: "B1", Time: time.UnixMilli(1795395500123),
		Values: map[string]devices.Value{"voltage_v": devices.Num(230.1), "current_a": devices.Num(12.5), "power_kw": devices.Num(2.8),
			"frequency_hz": devices.Num(50), "power_factor": devices.Num(0.97), "energy_kwh": devices.Num(123456.7)}}
	b.Run("client-point", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			fields := make(map[string]any, len(r.Values))
			for name, v := range r.Values {
				fields[name] = v.Number
			}
			tags := map[string]string{"site": r.Site, "device": r.Device, "building": r.Building}
			_ = clientLine(string(r.Kind), tags, fields, r.Time)
		}
	})
	b.Run("line", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var stack [maxStackFields]lineField
			fields := stack[:0]
			for name, v := range r.Values {
				fields = append(fields, lineField{key: name, num: v.Number, flag: v.Flag, isBool: v.IsFlag})
			}
			var t [4]lineTag
			_ = encodeLine(string(r.Kind), tags(t[:0], r.Site, r.Building, r.Device, "", ""), fields, r.Time)
		}
	})
}

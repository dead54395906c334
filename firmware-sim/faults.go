package firmwaresim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// MQTTFaults makes devices misbehave as real firmware does, each at a rate
// per telemetry message (0 never, 1 always). They test that Caretaker
// counts and drops bad input instead of failing on it.
type MQTTFaults struct {
	Malformed  float64 // truncated JSON
	WrongType  float64 // numbers as strings, flags as "yes"
	NaN        float64 // a bare NaN where a number belongs (invalid JSON many firmwares send)
	FutureTS   float64 // a timestamp a day ahead (a device with a wrong clock)
	Duplicate  float64 // the same message twice
	OutOfOrder float64 // held back and sent after the next one
	Disconnect float64 // a clean disconnect (so no will), silence for 3 intervals, then back online
	Seed       uint64  // of the fault dice; the signals keep their own seed
}

// Validate names the field at fault.
func (f MQTTFaults) Validate() error {
	for name, r := range f.rates() {
		if r < 0 || r > 1 {
			return fmt.Errorf("faults %s: %g is not between 0 and 1", name, r)
		}
	}
	return nil
}

func (f MQTTFaults) rates() map[string]float64 {
	return map[string]float64{"malformed": f.Malformed, "wrong_type": f.WrongType, "nan": f.NaN,
		"future_ts": f.FutureTS, "duplicate": f.Duplicate, "out_of_order": f.OutOfOrder, "disconnect": f.Disconnect}
}

// Any tells whether some fault is on.
func (f MQTTFaults) Any() bool {
	for _, r := range f.rates() {
		if r > 0 {
			return true
		}
	}
	return false
}

// ParseFaults reads "malformed=0.01,nan=0.005,modbus_exception=0.1" into
// MQTT and Modbus faults; the error names the key.
func ParseFaults(spec string) (MQTTFaults, ModbusFaults, error) {
	var m MQTTFaults
	var b ModbusFaults
	if strings.TrimSpace(spec) == "" {
		return m, b, nil
	}
	fields := map[string]*float64{"malformed": &m.Malformed, "wrong_type": &m.WrongType, "nan": &m.NaN,
		"future_ts": &m.FutureTS, "duplicate": &m.Duplicate, "out_of_order": &m.OutOfOrder, "disconnect": &m.Disconnect,
		"modbus_exception": &b.ExceptionRate, "modbus_slow": &b.SlowRate, "modbus_drop": &b.DropRate}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		p, known := fields[k]
		if !ok || !known {
			keys := make([]string, 0, len(fields))
			for k := range fields {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return m, b, fmt.Errorf("%q: want name=rate with name one of %s", kv, strings.Join(keys, ", "))
		}
		var r float64
		if _, err := fmt.Sscanf(v, "%g", &r); err != nil || r < 0 || r > 1 {
			return m, b, fmt.Errorf("%s: %q is not a rate from 0 to 1", k, v)
		}
		*p = r
	}
	return m, b, nil
}

// faulter applies MQTTFaults to one device's stream of telemetry.
type faulter struct {
	cfg  MQTTFaults
	rng  *rand.Rand
	held []byte // an out-of-order message waiting for the next one
}

func newFaulter(cfg MQTTFaults, device string) *faulter {
	return &faulter{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, hashID(device)^0x5eed))}
}

func (f *faulter) roll(rate float64) bool { return rate > 0 && f.rng.Float64() < rate }

// next turns one telemetry message into what the device actually sends
// now, in order, and whether it then drops off the broker.
func (f *faulter) next(ts time.Time, vals map[string]devices.Value) (out [][]byte, disconnect bool) {
	if f == nil {
		return [][]byte{Telemetry(ts, vals)}, false
	}
	if f.roll(f.cfg.FutureTS) {
		ts = ts.Add(24 * time.Hour)
	}
	p := Telemetry(ts, vals)
	switch {
	case f.roll(f.cfg.Malformed):
		p = p[:len(p)/2]
	case f.roll(f.cfg.WrongType):
		p = wrongTypes(ts, vals)
	case f.roll(f.cfg.NaN):
		p = withNaN(p, vals)
	}
	if f.roll(f.cfg.OutOfOrder) && f.held == nil {
		f.held = p
		return nil, f.roll(f.cfg.Disconnect)
	}
	out = append(out, p)
	if f.roll(f.cfg.Duplicate) {
		out = append(out, p)
	}
	if f.held != nil {
		out = append(out, f.held)
		f.held = nil
	}
	return out, f.roll(f.cfg.Disconnect)
}

// wrongTypes writes every number as a string and every flag as "yes"/"no".
func wrongTypes(ts time.Time, vals map[string]devices.Value) []byte {
	keys := sortedKeys(vals)
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"ts":%d,"metrics":{`, ts.UnixMilli())
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		v := vals[k]
		s := v.String()
		if v.IsFlag {
			s = map[bool]string{true: "yes", false: "no"}[v.Flag]
		}
		fmt.Fprintf(&b, "%q:%q", k, s)
	}
	b.WriteString("}}")
	return b.Bytes()
}

// withNaN replaces the first numeric metric's value with a bare NaN.
func withNaN(p []byte, vals map[string]devices.Value) []byte {
	for _, k := range sortedKeys(vals) {
		if vals[k].IsFlag {
			continue
		}
		key := []byte(fmt.Sprintf("%q:", k))
		i := bytes.Index(p, key)
		if i < 0 {
			continue
		}
		start := i + len(key)
		end := start
		for end < len(p) && p[end] != ',' && p[end] != '}' {
			end++
		}
		return append(append(append([]byte{}, p[:start]...), "NaN"...), p[end:]...)
	}
	return p
}

func sortedKeys(m map[string]devices.Value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

package firmwaresim

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

var faultVals = map[string]devices.Value{"lel_pct": devices.Num(1.5), "co_ppm": devices.Num(2), "fault": devices.FlagValue(false)}

func TestFaultsEachKind(t *testing.T) {
	ts := time.UnixMilli(1732300000000)
	tests := []struct {
		name  string
		cfg   MQTTFaults
		check func(t *testing.T, out [][]byte, disconnect bool)
	}{
		{"none", MQTTFaults{}, func(t *testing.T, out [][]byte, _ bool) {
			if len(out) != 1 || !bytes.Equal(out[0], Telemetry(ts, faultVals)) {
				t.Fatalf("out = %q", out)
			}
		}},
		{"malformed", MQTTFaults{Malformed: 1}, func(t *testing.T, out [][]byte, _ bool) {
			if json.Valid(out[0]) {
				t.Fatalf("%s is valid JSON", out[0])
			}
		}},
		{"wrong type", MQTTFaults{WrongType: 1}, func(t *testing.T, out [][]byte, _ bool) {
			if string(out[0]) != `{"ts":1732300000000,"metrics":{"co_ppm":"2","fault":"no","lel_pct":"1.5"}}` {
				t.Fatalf("%s", out[0])
			}
		}},
		{"nan", MQTTFaults{NaN: 1}, func(t *testing.T, out [][]byte, _ bool) {
			if !strings.Contains(string(out[0]), `"co_ppm":NaN,`) {
				t.Fatalf("%s", out[0])
			}
		}},
		{"future", MQTTFaults{FutureTS: 1}, func(t *testing.T, out [][]byte, _ bool) {
			var m struct{ TS int64 }
			mustUnmarshal(t, out[0], &m)
			if m.TS != ts.Add(24*time.Hour).UnixMilli() {
				t.Fatalf("ts = %d", m.TS)
			}
		}},
		{"duplicate", MQTTFaults{Duplicate: 1}, func(t *testing.T, out [][]byte, _ bool) {
			if len(out) != 2 || !bytes.Equal(out[0], out[1]) {
				t.Fatalf("out = %q", out)
			}
		}},
		{"disconnect", MQTTFaults{Disconnect: 1}, func(t *testing.T, out [][]byte, d bool) {
			if !d || len(out) != 1 {
				t.Fatalf("disconnect %v, out %q", d, out)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, d := newFaulter(tc.cfg, "gas-1").next(ts, faultVals)
			tc.check(t, out, d)
		})
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// TestFaultsOutOfOrder: a held-back message comes after the next one.
func TestFaultsOutOfOrder(t *testing.T) {
	f := newFaulter(MQTTFaults{OutOfOrder: 1}, "gas-1")
	t1, t2 := time.UnixMilli(1000), time.UnixMilli(2000)
	out, _ := f.next(t1, faultVals)
	if len(out) != 0 {
		t.Fatalf("first message not held: %q", out)
	}
	f.cfg.OutOfOrder = 0
	out, _ = f.next(t2, faultVals)
	if len(out) != 2 || !bytes.Equal(out[0], Telemetry(t2, faultVals)) || !bytes.Equal(out[1], Telemetry(t1, faultVals)) {
		t.Fatalf("out = %q", out)
	}
}

// TestFaultRatesSeeded: 10% of each over 1000 messages, the exact counts
// for seed 5.
func TestFaultRatesSeeded(t *testing.T) {
	f := newFaulter(MQTTFaults{Malformed: 0.1, Duplicate: 0.1, Disconnect: 0.1, Seed: 5}, "gas-1")
	var msgs, invalid, drops int
	for i := range 1000 {
		out, d := f.next(time.UnixMilli(int64(i)), faultVals)
		msgs += len(out)
		for _, p := range out {
			if !json.Valid(p) {
				invalid++
			}
		}
		if d {
			drops++
		}
	}
	if msgs != 1088 || invalid != 117 || drops != 93 {
		t.Errorf("1000 messages became %d, %d malformed, %d disconnects; want 1088, 117, 93", msgs, invalid, drops)
	}
}

func TestParseFaults(t *testing.T) {
	m, b, err := ParseFaults("malformed=0.01, nan=0.5,modbus_drop=0.2,modbus_exception=1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Malformed != 0.01 || m.NaN != 0.5 || b.DropRate != 0.2 || b.ExceptionRate != 1 || !m.Any() {
		t.Fatalf("%+v %+v", m, b)
	}
	for _, bad := range []string{"malformed", "bogus=0.1", "nan=2", "nan=x"} {
		if _, _, err := ParseFaults(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if m, _, _ := ParseFaults(""); m.Any() {
		t.Error("empty spec has faults")
	}
}

package modbus

import (
	"fmt"
	"strings"
	"testing"

	"github.com/caretaker-iot/caretaker/devices"
)

func hr(metric string, addr uint16, typ string) devices.Register {
	return devices.Register{Metric: metric, Table: "holding", Address: addr, Type: typ}
}

// describe writes a plan as "table start+count[metric@offset ...]" lines.
func describe(reqs []Request) string {
	var parts []string
	for _, r := range reqs {
		var fs []string
		for _, f := range r.Fields {
			fs = append(fs, fmt.Sprintf("%s@%d", f.Register.Metric, f.Offset))
		}
		parts = append(parts, fmt.Sprintf("%s %d+%d[%s]", r.Table, r.Start, r.Count, strings.Join(fs, " ")))
	}
	return strings.Join(parts, "; ")
}

func TestPlan(t *testing.T) {
	many := make([]devices.Register, 0, 70)
	for i := 0; i < 70; i++ { // 70 float32 = 140 registers: two requests
		many = append(many, hr(fmt.Sprintf("m%d", i), uint16(2*i), "float32"))
	}
	coils := make([]devices.Register, 0, 2001)
	for i := 0; i < 2001; i++ {
		coils = append(coils, devices.Register{Metric: "c", Table: "coil", Address: uint16(i), Type: "bool"})
	}
	cases := []struct {
		name string
		regs []devices.Register
		opt  PlanOptions
		want string
	}{
		{"adjacent joined, sorted", []devices.Register{hr("b", 2, "float32"), hr("a", 0, "uint16"), hr("c", 1, "int16")}, PlanOptions{},
			"holding 0+4[a@0 c@1 b@2]"},
		{"gap not filled by default", []devices.Register{hr("a", 0, "uint16"), hr("b", 5, "uint16")}, PlanOptions{},
			"holding 0+1[a@0]; holding 5+1[b@0]"},
		{"gap filled up to MaxGap", []devices.Register{hr("a", 0, "uint16"), hr("b", 5, "uint16"), hr("c", 20, "uint16")}, PlanOptions{MaxGap: 4},
			"holding 0+6[a@0 b@5]; holding 20+1[c@0]"},
		{"negative MaxGap never joins", []devices.Register{hr("a", 0, "uint16"), hr("b", 1, "uint16")}, PlanOptions{MaxGap: -1},
			"holding 0+1[a@0]; holding 1+1[b@0]"},
		{"overlapping entries share the registers", []devices.Register{hr("whole", 10, "uint32"), hr("low", 11, "uint16")}, PlanOptions{},
			"holding 10+2[whole@0 low@1]"},
		{"tables apart", []devices.Register{hr("a", 0, "uint16"), {Metric: "i", Table: "input", Address: 1, Type: "uint16"},
			{Metric: "leak", Table: "coil", Address: 3, Type: "bool"}, {Metric: "run", Table: "discrete", Address: 0, Type: "bool"},
			{Metric: "door", Table: "coil", Address: 4, Type: "bool"}}, PlanOptions{},
			"holding 0+1[a@0]; input 1+1[i@0]; coil 3+2[leak@0 door@1]; discrete 0+1[run@0]"},
		{"device limit", []devices.Register{hr("a", 0, "uint16"), hr("b", 1, "uint16"), hr("c", 2, "uint16")}, PlanOptions{MaxRegisters: 2},
			"holding 0+2[a@0 b@1]; holding 2+1[c@0]"},
		{"a float64 is never split", []devices.Register{hr("a", 0, "uint16"), hr("b", 1, "float64")}, PlanOptions{MaxRegisters: 4},
			"holding 0+1[a@0]; holding 1+4[b@0]"},
		// The end of the address space: the last entry ends at register 65535.
		{"float32 fills 65534-65535", []devices.Register{hr("f", 65534, "float32")}, PlanOptions{},
			"holding 65534+2[f@0]"},
		{"uint16 at 65535", []devices.Register{hr("u", 65535, "uint16")}, PlanOptions{},
			"holding 65535+1[u@0]"},
		{"float64 fills 65532-65535", []devices.Register{hr("d", 65532, "float64")}, PlanOptions{},
			"holding 65532+4[d@0]"},
		{"joined up to the last register", []devices.Register{hr("f", 65534, "float32"), hr("u", 65533, "uint16")}, PlanOptions{},
			"holding 65533+3[u@0 f@1]"},
		{"gap filled up to the last register", []devices.Register{hr("a", 65500, "uint16"), hr("u", 65535, "uint16")}, PlanOptions{MaxGap: 40},
			"holding 65500+36[a@0 u@35]"},
		{"coil at 65535", []devices.Register{{Metric: "c", Table: "coil", Address: 65535, Type: "bool"},
			{Metric: "b", Table: "coil", Address: 65534, Type: "bool"}}, PlanOptions{},
			"coil 65534+2[b@0 c@1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := describe(Plan(tc.regs, tc.opt)); got != tc.want {
				t.Errorf("Plan =\n  %s\nwant\n  %s", got, tc.want)
			}
		})
	}

	t.Run("125 register limit", func(t *testing.T) {
		reqs := Plan(many, PlanOptions{})
		if len(reqs) != 2 || reqs[0].Count != 124 || reqs[1].Start != 124 || reqs[1].Count != 16 {
			t.Errorf("70 float32 planned as %s", describe(reqs)[:80])
		}
	})
	t.Run("2000 coil limit", func(t *testing.T) {
		reqs := Plan(coils, PlanOptions{})
		if len(reqs) != 2 || reqs[0].Count != 2000 || reqs[1].Start != 2000 || reqs[1].Count != 1 {
			t.Errorf("2001 coils planned as %d requests, first %d", len(reqs), reqs[0].Count)
		}
	})
}

func TestParseAddress(t *testing.T) {
	good := map[string]string{
		"tcp://127.0.0.1:5020":                   "tcp://127.0.0.1:5020",
		"tcp://[::1]:502":                        "tcp://[::1]:502",
		"rtu:///dev/ttyUSB0":                     "rtu:///dev/ttyUSB0",
		"rtu:///dev/ttyUSB0?baud=19200&parity=N": "rtu:///dev/ttyUSB0",
	}
	for s, key := range good {
		a, err := ParseAddress(s)
		if err != nil || a.key() != key {
			t.Errorf("ParseAddress(%q) = %v, %v; want key %s", s, a.key(), err, key)
		}
	}
	a, _ := ParseAddress("rtu:///dev/ttyUSB0?baud=19200&parity=N&stop_bits=2")
	if a.Serial.BaudRate != 19200 || a.Serial.Parity != "N" || a.Serial.StopBits != 2 || a.Serial.DataBits != 8 {
		t.Errorf("serial config = %+v", a.Serial)
	}
	for _, s := range []string{"", "127.0.0.1:502", "tcp://host", "udp://h:1", "rtu://host/dev/x", "rtu:///dev/x?baud=fast",
		"rtu:///dev/x?parity=X", "rtu:///dev/x?speed=9600", "tcp://h:1/path"} {
		if _, err := ParseAddress(s); err == nil {
			t.Errorf("ParseAddress(%q) accepted", s)
		}
	}
}

package modbus

import (
	"bytes"
	"math"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/caretaker-iot/caretaker/devices"
)

// registerFrames are wire bytes of known values in every type and order,
// written out by hand from the Modbus convention (register = two bytes,
// high byte first), not produced by encode.
var registerFrames = []struct {
	name string
	reg  devices.Register
	raw  []byte
	want float64
}{
	{"uint16 big", devices.Register{Type: "uint16"}, []byte{0x08, 0xFD}, 2301},
	{"uint16 little bytes", devices.Register{Type: "uint16", ByteOrder: "little"}, []byte{0xFD, 0x08}, 2301},
	{"int16 negative", devices.Register{Type: "int16"}, []byte{0xFF, 0xF6}, -10},
	{"int16 scaled", devices.Register{Type: "int16", Scale: 0.1}, []byte{0x00, 0xFB}, 25.1},
	{"scaled to an exact decimal", devices.Register{Type: "uint16", Scale: 0.1}, []byte{0x08, 0xFD}, 230.1},
	{"uint16 scale and offset", devices.Register{Type: "uint16", Scale: 0.5, Offset: -40}, []byte{0x00, 0x64}, 10},
	{"uint32 big/big", devices.Register{Type: "uint32"}, []byte{0x00, 0x01, 0x86, 0xA0}, 100000},
	{"uint32 word little", devices.Register{Type: "uint32", WordOrder: "little"}, []byte{0x86, 0xA0, 0x00, 0x01}, 100000},
	{"uint32 byte little", devices.Register{Type: "uint32", ByteOrder: "little"}, []byte{0x01, 0x00, 0xA0, 0x86}, 100000},
	{"uint32 both little", devices.Register{Type: "uint32", ByteOrder: "little", WordOrder: "little"}, []byte{0xA0, 0x86, 0x01, 0x00}, 100000},
	{"int32 negative", devices.Register{Type: "int32"}, []byte{0xFF, 0xFE, 0x79, 0x60}, -100000},
	{"float32 big/big", devices.Register{Type: "float32"}, []byte{0x42, 0x48, 0x00, 0x00}, 50},
	{"float32 word little", devices.Register{Type: "float32", WordOrder: "little"}, []byte{0x00, 0x00, 0x42, 0x48}, 50},
	{"float32 byte little", devices.Register{Type: "float32", ByteOrder: "little"}, []byte{0x48, 0x42, 0x00, 0x00}, 50},
	{"float32 both little", devices.Register{Type: "float32", ByteOrder: "little", WordOrder: "little"}, []byte{0x00, 0x00, 0x48, 0x42}, 50},
	{"float32 fraction", devices.Register{Type: "float32"}, []byte{0x43, 0x66, 0xE6, 0x66}, float64(float32(230.9))},
	{"int64", devices.Register{Type: "int64"}, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE}, -2},
	{"uint64 word little", devices.Register{Type: "uint64", WordOrder: "little"}, []byte{0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, 5},
	{"float64 big", devices.Register{Type: "float64"}, []byte{0x40, 0x9F, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00}, 2000},
	{"float64 both little", devices.Register{Type: "float64", ByteOrder: "little", WordOrder: "little"}, []byte{0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x9F, 0x40}, 2000},
	{"bool in a holding register", devices.Register{Type: "bool", Table: "holding"}, []byte{0x00, 0x01}, 1},
	{"real zero", devices.Register{Type: "float32"}, []byte{0, 0, 0, 0}, 0},
}

func TestDecodeRegisters(t *testing.T) {
	for _, tc := range registerFrames {
		t.Run(tc.name, func(t *testing.T) {
			reg := tc.reg
			reg.Metric = "m"
			if reg.Table == "" {
				reg.Table = "holding"
			}
			v, err := Decode(reg, tc.raw, 0)
			if err != nil {
				t.Fatal(err)
			}
			if v.Float() != tc.want {
				t.Errorf("Decode(% x) = %v, want %v", tc.raw, v.Float(), tc.want)
			}
			if reg.Type != "bool" {
				if got := encode(reg, tc.want); !bytes.Equal(got, tc.raw) {
					t.Errorf("encode(%v) = % x, want % x", tc.want, got, tc.raw)
				}
			}
		})
	}
}

func TestDecodeBits(t *testing.T) {
	raw := []byte{0b0000_0101, 0b1000_0000} // bits 0, 2 and 15 set
	for bit, want := range map[int]bool{0: true, 1: false, 2: true, 7: false, 8: false, 15: true} {
		for _, table := range []string{"coil", "discrete"} {
			v, err := Decode(devices.Register{Metric: "leak", Table: table, Type: "bool"}, raw, bit)
			if err != nil || !v.IsFlag || v.Flag != want {
				t.Errorf("%s bit %d = %v, %v; want %v", table, bit, v, err, want)
			}
		}
	}
	if _, err := Decode(devices.Register{Metric: "leak", Table: "coil", Type: "bool"}, raw, 16); err == nil {
		t.Error("bit 16 of a 2-byte answer decoded without error")
	}
}

func TestDecodeRefusesBadInput(t *testing.T) {
	cases := []struct {
		name string
		reg  devices.Register
		raw  []byte
	}{
		{"short answer", devices.Register{Table: "holding", Type: "float32"}, []byte{0x42, 0x48}},
		{"long answer", devices.Register{Table: "holding", Type: "uint16"}, []byte{0, 1, 2}},
		{"unknown type", devices.Register{Table: "holding", Type: "int128"}, []byte{0, 1}},
		{"NaN", devices.Register{Table: "holding", Type: "float32"}, []byte{0x7F, 0xC0, 0, 0}},
		{"Inf", devices.Register{Table: "holding", Type: "float64"}, []byte{0x7F, 0xF0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tc := range cases {
		if v, err := Decode(tc.reg, tc.raw, 0); err == nil {
			t.Errorf("%s: Decode = %v, want an error", tc.name, v)
		}
	}
}

// FuzzDecode: no input makes the decoder panic or hand out NaN or Inf.
func FuzzDecode(f *testing.F) {
	for _, tc := range registerFrames {
		f.Add(tc.raw, tc.reg.Type, tc.reg.ByteOrder == "little", tc.reg.WordOrder == "little", 0)
	}
	f.Add([]byte{0xFF}, "bool", false, false, 9)
	f.Fuzz(func(t *testing.T, raw []byte, typ string, byteLittle, wordLittle bool, bit int) {
		order := func(little bool) string {
			if little {
				return "little"
			}
			return "big"
		}
		for _, table := range []string{"holding", "coil"} {
			reg := devices.Register{Metric: "m", Table: table, Type: typ, ByteOrder: order(byteLittle), WordOrder: order(wordLittle)}
			v, err := Decode(reg, raw, bit)
			if err == nil && !v.IsFlag && (math.IsNaN(v.Number) || math.IsInf(v.Number, 0)) {
				t.Fatalf("Decode(%+v, % x) = %v", reg, raw, v)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	regs := []devices.Register{
		{Metric: "v", Table: "holding", Type: "uint16", Scale: 0.1},
		{Metric: "p", Table: "holding", Type: "float32", ByteOrder: "little", WordOrder: "little"},
		{Metric: "e", Table: "holding", Type: "uint64", WordOrder: "little"},
	}
	raws := make([][]byte, len(regs))
	for i, r := range regs {
		raws[i] = encode(r, 123)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, r := range regs {
			if _, err := Decode(r, raws[j], 0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestDecodeNeverReadsPastTheAnswer: an answer shorter than a request's
// entries gives a decode failure for the entry that does not fit, not a
// value made of the bytes behind the answer in its buffer (goburrow hands
// out slices of a larger frame buffer).
func TestDecodeNeverReadsPastTheAnswer(t *testing.T) {
	g := New(Config{})
	u := &unit{dev: devices.Device{ID: "pm"}, log: g.log}
	buf := []byte{0x00, 0x7B, 0x41, 0x48} // an answer of one register; a frame's bytes behind it
	req := Request{Table: "holding", Start: 65534, Count: 1, Fields: []Field{
		{Register: devices.Register{Metric: "a", Table: "holding", Type: "uint16"}, Offset: 0},
		{Register: devices.Register{Metric: "b", Table: "holding", Type: "float32"}, Offset: 0},
	}}
	values, implausible := map[string]devices.Value{}, map[string]float64{}
	(&line{g: g}).decode(u, req, buf[:2], values, implausible)
	if v, ok := values["a"]; !ok || v.Number != 123 {
		t.Errorf("a = %v, %v; want 123", v, ok)
	}
	if v, ok := values["b"]; ok {
		t.Errorf("b decoded as %v from bytes past the answer", v)
	}
	var m dto.Metric
	if err := g.metrics.failures.WithLabelValues("pm", "decode").Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
		t.Errorf("decode failures = %v (%v), want 1", m.GetCounter().GetValue(), err)
	}
}

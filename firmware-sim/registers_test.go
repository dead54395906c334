package firmwaresim

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/caretaker-iot/caretaker/devices"
)

// registerFixtures are raw frames a decoder must agree on: the same value
// in each byte and word order. A gateway's decoder can reuse the table.
var registerFixtures = []struct {
	reg   devices.Register
	value float64
	words []uint16
}{
	{devices.Register{Type: "float32"}, 123.456, []uint16{0x42F6, 0xE979}},                                           // ABCD
	{devices.Register{Type: "float32", WordOrder: "little"}, 123.456, []uint16{0xE979, 0x42F6}},                      // CDAB
	{devices.Register{Type: "float32", ByteOrder: "little"}, 123.456, []uint16{0xF642, 0x79E9}},                      // BADC
	{devices.Register{Type: "float32", ByteOrder: "little", WordOrder: "little"}, 123.456, []uint16{0x79E9, 0xF642}}, // DCBA
	{devices.Register{Type: "int16"}, -2, []uint16{0xFFFE}},
	{devices.Register{Type: "uint16", Scale: 0.1}, 230.5, []uint16{2305}},
	{devices.Register{Type: "uint16", ByteOrder: "little", Scale: 0.1}, 87.5, []uint16{0x6B03}}, // 875 = 0x036B
	{devices.Register{Type: "int16", Offset: -2}, -1, []uint16{1}},
	{devices.Register{Type: "int32", WordOrder: "little"}, -70000, []uint16{0xEE90, 0xFFFE}},
	{devices.Register{Type: "uint32", Scale: 0.1, WordOrder: "little"}, 12345.6, []uint16{0xE240, 0x0001}}, // 123456 = 0x0001E240
	{devices.Register{Type: "uint32"}, 100000, []uint16{0x0001, 0x86A0}},
	{devices.Register{Type: "int64"}, -1, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}},
	{devices.Register{Type: "uint64", WordOrder: "little"}, 1 << 32, []uint16{0, 0, 1, 0}},
	{devices.Register{Type: "float64"}, 1.5, []uint16{0x3FF8, 0, 0, 0}},
	{devices.Register{Type: "bool", Table: "coil"}, 1, []uint16{1}},
	{devices.Register{Type: "bool", Table: "holding", ByteOrder: "little"}, 1, []uint16{0x0100}},
}

func TestRegisterFixtures(t *testing.T) {
	for _, fx := range registerFixtures {
		name := fmt.Sprintf("%s/%s/%s/%g", fx.reg.Type, or(fx.reg.ByteOrder), or(fx.reg.WordOrder), fx.value)
		t.Run(name, func(t *testing.T) {
			v := devices.Num(fx.value)
			if fx.reg.Type == "bool" {
				v = devices.FlagValue(fx.value != 0)
			}
			got, err := EncodeRegister(fx.reg, v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, fx.words) {
				t.Fatalf("encode = %04X, want %04X", got, fx.words)
			}
			back, err := decodeRegister(fx.reg, fx.words)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(back.Float()-fx.value) > 1e-4*math.Max(1, math.Abs(fx.value)) {
				t.Fatalf("decode = %v, want %g", back, fx.value)
			}
		})
	}
}

func or(s string) string {
	if s == "" {
		return "big"
	}
	return s
}

// TestRegisterRoundTrip encodes and decodes values of every type in every
// byte and word order, with and without scale and offset.
func TestRegisterRoundTrip(t *testing.T) {
	types := []string{"int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"}
	values := []float64{0, 1, 42.5, 219.9, 12345.6, -3.2, -1000}
	for _, typ := range types {
		for _, bo := range []string{"", "big", "little"} {
			for _, wo := range []string{"", "big", "little"} {
				for _, so := range [][2]float64{{0, 0}, {0.1, 0}, {0.01, -40}} {
					r := devices.Register{Metric: "m", Table: "holding", Type: typ, ByteOrder: bo, WordOrder: wo, Scale: so[0], Offset: so[1]}
					for _, v := range values {
						words, err := EncodeRegister(r, devices.Num(v))
						if err != nil {
							t.Fatalf("%+v %g: %v", r, v, err)
						}
						if len(words) != devices.RegisterWidth(typ) {
							t.Fatalf("%+v: %d words", r, len(words))
						}
						got, err := decodeRegister(r, words)
						if err != nil {
							t.Fatal(err)
						}
						want := expectRoundTrip(r, v)
						if math.Abs(got.Number-want) > 1e-6*math.Max(1, math.Abs(want)) {
							t.Errorf("%s bo=%q wo=%q scale=%g offset=%g: %g -> %04X -> %g, want %g",
								typ, bo, wo, so[0], so[1], v, words, got.Number, want)
						}
					}
				}
			}
		}
	}
	for _, flag := range []bool{true, false} {
		for _, table := range []string{"coil", "discrete", "holding", "input"} {
			for _, bo := range []string{"big", "little"} {
				r := devices.Register{Metric: "leak", Table: table, Type: "bool", ByteOrder: bo}
				words, _ := EncodeRegister(r, devices.FlagValue(flag))
				got, _ := decodeRegister(r, words)
				if !got.IsFlag || got.Flag != flag {
					t.Errorf("bool %v in %s/%s: got %v", flag, table, bo, got)
				}
			}
		}
	}
}

// expectRoundTrip is what a register of that type can carry: integers are
// rounded to the scale step and clamped to the type's range.
func expectRoundTrip(r devices.Register, v float64) float64 {
	scale := r.Scale
	if scale == 0 {
		scale = 1
	}
	raw := (v - r.Offset) / scale
	switch r.Type {
	case "float32":
		return float64(float32(raw))*scale + r.Offset
	case "float64":
		return v
	}
	raw = math.Round(raw)
	bounds := map[string][2]float64{
		"int16": {math.MinInt16, math.MaxInt16}, "uint16": {0, math.MaxUint16},
		"int32": {math.MinInt32, math.MaxInt32}, "uint32": {0, math.MaxUint32},
		"int64": {math.MinInt64, math.MaxInt64}, "uint64": {0, math.MaxUint64},
	}[r.Type]
	lo, hi := bounds[0], bounds[1]
	return math.Max(lo, math.Min(hi, raw))*scale + r.Offset
}

func TestRegisterBadInput(t *testing.T) {
	if _, err := EncodeRegister(devices.Register{Type: "int12"}, devices.Num(1)); err == nil {
		t.Error("unknown type encoded")
	}
	if _, err := EncodeRegister(devices.Register{Type: "float32"}, devices.Num(math.NaN())); err == nil {
		t.Error("NaN encoded")
	}
	if _, err := decodeRegister(devices.Register{Type: "float32"}, []uint16{1}); err == nil {
		t.Error("short frame decoded")
	}
}

// decodeRegister reads the raw words of one register map entry back into
// a metric value: the reverse of EncodeRegister, and what a gateway does.
func decodeRegister(r devices.Register, words []uint16) (devices.Value, error) {
	width := devices.RegisterWidth(r.Type)
	if width == 0 {
		return devices.Value{}, fmt.Errorf("register %s: unknown type %q", r.Metric, r.Type)
	}
	if len(words) != width {
		return devices.Value{}, fmt.Errorf("register %s: %d words for a %s, want %d", r.Metric, len(words), r.Type, width)
	}
	if r.Type == "bool" {
		return devices.FlagValue(words[0] != 0), nil
	}
	buf := unorder(words, r)
	var raw float64
	switch r.Type {
	case "int16":
		raw = float64(int16(binary.BigEndian.Uint16(buf)))
	case "uint16":
		raw = float64(binary.BigEndian.Uint16(buf))
	case "int32":
		raw = float64(int32(binary.BigEndian.Uint32(buf)))
	case "uint32":
		raw = float64(binary.BigEndian.Uint32(buf))
	case "int64":
		raw = float64(int64(binary.BigEndian.Uint64(buf)))
	case "uint64":
		raw = float64(binary.BigEndian.Uint64(buf))
	case "float32":
		raw = float64(math.Float32frombits(binary.BigEndian.Uint32(buf)))
	case "float64":
		raw = math.Float64frombits(binary.BigEndian.Uint64(buf))
	}
	return devices.Num(raw*scaleOf(r) + r.Offset), nil
}

// unorder is the inverse of order.
func unorder(words []uint16, r devices.Register) []byte {
	n := len(words)
	buf := make([]byte, 2*n)
	for i := range n {
		j := i
		if r.WordOrder == "little" {
			j = n - 1 - i
		}
		hi, lo := byte(words[j]>>8), byte(words[j])
		if r.ByteOrder == "little" {
			hi, lo = lo, hi
		}
		buf[2*i], buf[2*i+1] = hi, lo
	}
	return buf
}

package modbus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/caretaker-iot/caretaker/devices"
)

// Decode turns the raw answer for one register entry into a value. For the
// holding and input tables raw is the registers as they came off the wire
// (two bytes each, RegisterWidth(reg.Type) of them); for coils and discrete
// inputs raw is the packed bit field of the request and bit the position of
// reg in it.
//
// byte_order little swaps the two bytes inside each register; word_order
// little puts the least significant register first. Scale (0 means 1) and
// offset apply to numbers: value*scale + offset.
func Decode(reg devices.Register, raw []byte, bit int) (devices.Value, error) {
	if reg.Table == "coil" || reg.Table == "discrete" {
		if bit < 0 || bit/8 >= len(raw) {
			return devices.Value{}, fmt.Errorf("%s: bit %d outside an answer of %d bytes", reg.Metric, bit, len(raw))
		}
		return devices.FlagValue(raw[bit/8]&(1<<(bit%8)) != 0), nil
	}
	width := devices.RegisterWidth(reg.Type)
	if width == 0 {
		return devices.Value{}, fmt.Errorf("%s: unknown type %q", reg.Metric, reg.Type)
	}
	if len(raw) != 2*width {
		return devices.Value{}, fmt.Errorf("%s: %s needs %d bytes, got %d", reg.Metric, reg.Type, 2*width, len(raw))
	}
	b := ordered(raw, reg.ByteOrder == "little", reg.WordOrder == "little")
	var v float64
	switch reg.Type {
	case "bool":
		return devices.FlagValue(binary.BigEndian.Uint16(b) != 0), nil
	case "int16":
		v = float64(int16(binary.BigEndian.Uint16(b)))
	case "uint16":
		v = float64(binary.BigEndian.Uint16(b))
	case "int32":
		v = float64(int32(binary.BigEndian.Uint32(b)))
	case "uint32":
		v = float64(binary.BigEndian.Uint32(b))
	case "int64":
		v = float64(int64(binary.BigEndian.Uint64(b)))
	case "uint64":
		v = float64(binary.BigEndian.Uint64(b))
	case "float32":
		v = float64(math.Float32frombits(binary.BigEndian.Uint32(b)))
	case "float64":
		v = math.Float64frombits(binary.BigEndian.Uint64(b))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return devices.Value{}, errNotANumber
	}
	if reg.Scale == 0 && reg.Offset == 0 {
		return devices.Num(v), nil
	}
	scale := reg.Scale
	if scale == 0 {
		scale = 1
	}
	return devices.Num(roundDecimal(v*scale + reg.Offset)), nil
}

// roundDecimal drops the binary noise scaling leaves (2301 * 0.1 is
// 230.10000000000002) by rounding to 15 significant digits, which every
// float64 holds exactly.
func roundDecimal(v float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 15, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// errNotANumber: a float register holds NaN or Inf, which devices use to say
// "no value" and which no store or rule can take.
var errNotANumber = errors.New("register holds NaN or Inf")

// ordered returns the bytes of raw rearranged into big-endian order.
func ordered(raw []byte, swapBytes, swapWords bool) []byte {
	if !swapBytes && !swapWords {
		return raw
	}
	n := len(raw) / 2
	out := make([]byte, len(raw))
	for i := 0; i < n; i++ {
		src := i
		if swapWords {
			src = n - 1 - i
		}
		hi, lo := raw[2*src], raw[2*src+1]
		if swapBytes {
			hi, lo = lo, hi
		}
		out[2*i], out[2*i+1] = hi, lo
	}
	return out
}

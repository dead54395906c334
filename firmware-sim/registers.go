package firmwaresim

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/caretaker-iot/caretaker/devices"
)

// EncodeRegister turns a metric value into the raw 16-bit words of one
// register map entry, as a device would hold them: the inverse of scale and
// offset (raw = (value - offset) / scale), integers rounded and clamped to
// their type's range, then laid out in the entry's byte and word order. A
// coil or discrete input is one word, 0 or 1.
func EncodeRegister(r devices.Register, v devices.Value) ([]uint16, error) {
	width := devices.RegisterWidth(r.Type)
	if width == 0 {
		return nil, fmt.Errorf("register %s: unknown type %q", r.Metric, r.Type)
	}
	if r.Type == "bool" {
		w := uint16(0)
		if v.Float() != 0 {
			w = 1
		}
		if r.Table == "holding" || r.Table == "input" {
			return order([]byte{byte(w >> 8), byte(w)}, r), nil
		}
		return []uint16{w}, nil
	}
	x := v.Float()
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil, fmt.Errorf("register %s: %g cannot be encoded", r.Metric, x)
	}
	raw := (x - r.Offset) / scaleOf(r)
	buf := make([]byte, 2*width)
	switch r.Type {
	case "int16":
		binary.BigEndian.PutUint16(buf, uint16(int16(clampRound(raw, math.MinInt16, math.MaxInt16))))
	case "uint16":
		binary.BigEndian.PutUint16(buf, uint16(clampRound(raw, 0, math.MaxUint16)))
	case "int32":
		binary.BigEndian.PutUint32(buf, uint32(int32(clampRound(raw, math.MinInt32, math.MaxInt32))))
	case "uint32":
		binary.BigEndian.PutUint32(buf, uint32(clampRound(raw, 0, math.MaxUint32)))
	case "int64":
		binary.BigEndian.PutUint64(buf, uint64(int64(clampRound(raw, math.MinInt64, maxInt64f))))
	case "uint64":
		binary.BigEndian.PutUint64(buf, uint64(clampRound(raw, 0, maxUint64f)))
	case "float32":
		binary.BigEndian.PutUint32(buf, math.Float32bits(float32(raw)))
	case "float64":
		binary.BigEndian.PutUint64(buf, math.Float64bits(raw))
	}
	return order(buf, r), nil
}

func scaleOf(r devices.Register) float64 {
	if r.Scale == 0 {
		return 1
	}
	return r.Scale
}

// The largest float64 values that still convert to int64 and uint64.
var (
	maxInt64f  = math.Nextafter(0x1p63, 0)
	maxUint64f = math.Nextafter(0x1p64, 0)
)

func clampRound(x, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, math.Round(x)))
}

// order splits big-endian bytes into words, then applies the entry's word
// order (little: lowest word first) and byte order (little: low byte first
// inside each word).
func order(buf []byte, r devices.Register) []uint16 {
	n := len(buf) / 2
	out := make([]uint16, n)
	for i := range n {
		hi, lo := buf[2*i], buf[2*i+1]
		if r.ByteOrder == "little" {
			hi, lo = lo, hi
		}
		j := i
		if r.WordOrder == "little" {
			j = n - 1 - i
		}
		out[j] = uint16(hi)<<8 | uint16(lo)
	}
	return out
}

package modbus

import (
	"encoding/binary"
	"math"

	"github.com/caretaker-iot/caretaker/devices"
)

// encode is Decode's inverse, for the tests: the wire bytes of v
// as reg stores it (scale and offset undone). Bools give 0 or 1.
func encode(reg devices.Register, v float64) []byte {
	scale := reg.Scale
	if scale == 0 {
		scale = 1
	}
	x := (v - reg.Offset) / scale
	width := devices.RegisterWidth(reg.Type)
	b := make([]byte, 2*width)
	switch reg.Type {
	case "bool", "uint16":
		binary.BigEndian.PutUint16(b, uint16(math.Round(x)))
	case "int16":
		binary.BigEndian.PutUint16(b, uint16(int16(math.Round(x))))
	case "int32":
		binary.BigEndian.PutUint32(b, uint32(int32(math.Round(x))))
	case "uint32":
		binary.BigEndian.PutUint32(b, uint32(math.Round(x)))
	case "int64":
		binary.BigEndian.PutUint64(b, uint64(int64(math.Round(x))))
	case "uint64":
		binary.BigEndian.PutUint64(b, uint64(math.Round(x)))
	case "float32":
		binary.BigEndian.PutUint32(b, math.Float32bits(float32(x)))
	case "float64":
		binary.BigEndian.PutUint64(b, math.Float64bits(x))
	}
	// ordered is its own inverse for both swaps.
	return ordered(b, reg.ByteOrder == "little", reg.WordOrder == "little")
}

package tsdb

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// sample is one value of one series.
type sample struct {
	ms int64
	v  float64
}

// A chunk holds the values of one series, ordered by time, in a blob:
//
//	byte 1 (format), then deflate of:
//	uvarint n, varint t0, varint t1-t0, then zigzag varints of each
//	delta of delta of the times;
//	byte k: 0..maxDigits: every value is an integer count of 10^-k
//	(checked bit for bit, -0 being 0), stored as varint v0 then varint deltas;
//	xorMode: float64 bits, each XORed with the one before, stored as
//	byte trailing zeros and uvarint of what is left (64: equal).
//
// Sensor values are decimals of few digits, mostly flat or counting, sent
// at a steady pace: most deltas fit a byte, and deflate takes the runs.
const (
	chunkFormat = 1
	maxDigits   = 6
	xorMode     = 0xFF
)

var pow10 = [maxDigits + 1]float64{1, 10, 100, 1e3, 1e4, 1e5, 1e6}

// encoder encodes chunks, reusing its buffers; not for concurrent use.
type encoder struct {
	raw []byte
	out bytes.Buffer
	zw  *flate.Writer
}

// encode returns the chunk blob of samples (ordered by time); the slice is
// the encoder's until the next call.
func (e *encoder) encode(ss []sample) ([]byte, error) {
	b := e.raw[:0]
	b = binary.AppendUvarint(b, uint64(len(ss)))
	var prevT, prevD int64
	for i, s := range ss {
		switch i {
		case 0:
			b = binary.AppendVarint(b, s.ms)
		case 1:
			prevD = s.ms - prevT
			b = binary.AppendVarint(b, prevD)
		default:
			d := s.ms - prevT
			b = binary.AppendVarint(b, d-prevD)
			prevD = d
		}
		prevT = s.ms
	}
	if k, ok := decimalDigits(ss); ok {
		b = append(b, byte(k))
		var prev int64
		for _, s := range ss {
			n := int64(math.Round(s.v * pow10[k]))
			b = binary.AppendVarint(b, n-prev)
			prev = n
		}
	} else {
		b = append(b, xorMode)
		var prev uint64
		for _, s := range ss {
			x := math.Float64bits(s.v) ^ prev
			tz := bits.TrailingZeros64(x)
			b = append(b, byte(tz))
			if tz < 64 {
				b = binary.AppendUvarint(b, x>>tz)
			}
			prev = math.Float64bits(s.v)
		}
	}
	e.raw = b
	e.out.Reset()
	e.out.WriteByte(chunkFormat)
	if e.zw == nil {
		zw, err := flate.NewWriter(&e.out, flate.DefaultCompression)
		if err != nil {
			return nil, err
		}
		e.zw = zw
	} else {
		e.zw.Reset(&e.out)
	}
	if _, err := e.zw.Write(b); err != nil {
		return nil, err
	}
	if err := e.zw.Close(); err != nil {
		return nil, err
	}
	return e.out.Bytes(), nil
}

// decimalDigits is the fewest decimal digits k such that every value is
// an integer count of 10^-k that reads back bit for bit, but for -0 that
// reads back as 0 (as SQLite gave it back before). NaN, infinities and
// values past 2^53 units make it false.
func decimalDigits(ss []sample) (int, bool) {
next:
	for k := 0; k <= maxDigits; k++ {
		for _, s := range ss {
			n := math.Round(s.v * pow10[k])
			if !(math.Abs(n) < 1<<53) || float64(int64(n))/pow10[k] != s.v {
				continue next
			}
		}
		return k, true
	}
	return 0, false
}

// decoder decodes chunks, reusing its buffers; not for concurrent use.
type decoder struct {
	zr  io.ReadCloser
	raw bytes.Buffer
}

var errChunk = errors.New("embedded store: corrupt chunk")

// decode appends the samples of blob to dst.
func (d *decoder) decode(dst []sample, blob []byte) ([]sample, error) {
	if len(blob) == 0 || blob[0] != chunkFormat {
		return dst, errChunk
	}
	src := bytes.NewReader(blob[1:])
	if d.zr == nil {
		d.zr = flate.NewReader(src)
	} else if err := d.zr.(flate.Resetter).Reset(src, nil); err != nil {
		return dst, err
	}
	d.raw.Reset()
	if _, err := d.raw.ReadFrom(d.zr); err != nil {
		return dst, fmt.Errorf("%w: %v", errChunk, err)
	}
	b := d.raw.Bytes()
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return dst, errChunk
	}
	b = b[k:]
	start := len(dst)
	var prevT, prevD int64
	for i := uint64(0); i < n; i++ {
		x, k := binary.Varint(b)
		if k <= 0 {
			return dst[:start], errChunk
		}
		b = b[k:]
		switch i {
		case 0:
			prevT = x
		case 1:
			prevD = x
			prevT += x
		default:
			prevD += x
			prevT += prevD
		}
		dst = append(dst, sample{ms: prevT})
	}
	if len(b) == 0 {
		return dst[:start], errChunk
	}
	mode := b[0]
	b = b[1:]
	out := dst[start:]
	switch {
	case mode <= maxDigits:
		var prev int64
		for i := range out {
			x, k := binary.Varint(b)
			if k <= 0 {
				return dst[:start], errChunk
			}
			b = b[k:]
			prev += x
			out[i].v = float64(prev) / pow10[mode]
		}
	case mode == xorMode:
		var prev uint64
		for i := range out {
			if len(b) == 0 {
				return dst[:start], errChunk
			}
			tz := b[0]
			b = b[1:]
			if tz < 64 {
				x, k := binary.Uvarint(b)
				if k <= 0 {
					return dst[:start], errChunk
				}
				b = b[k:]
				prev ^= x << tz
			}
			out[i].v = math.Float64frombits(prev)
		}
	default:
		return dst[:start], errChunk
	}
	return dst, nil
}

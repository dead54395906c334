package modbus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/caretaker-iot/caretaker/devices"
)

// Errors of Write, for errors.Is.
var (
	// ErrNotPolled: this gateway does not poll the device (not a Modbus
	// device, or in a cluster a site of a partition another instance
	// leads), so it does not own the connection a write must go through.
	ErrNotPolled = errors.New("not polled by this gateway")
	// ErrNotWritable: the model has no writable entry for the metric, or
	// the value is outside what the entry takes.
	ErrNotWritable = errors.New("not writable")
	// ErrNotRunning: the gateway is not (or no longer) polling.
	ErrNotRunning = errors.New("modbus gateway not running")
)

// writeReq is one write handed to the poll loop that owns the connection.
type writeReq struct {
	u     *unit
	reg   devices.Register
	words []uint16
	done  chan writeResult
}

type writeResult struct {
	v   devices.Value
	err error
}

// Write sets metric of device to value through the connection the poll
// loop of its address owns (between two polls, with the unit's timeout),
// then reads the same entry back and returns what it holds. Only an entry
// the model declares writable (a coil or a holding register) is written;
// a value out of its min/max, or one its type cannot hold once scale and
// offset are undone, is refused before anything is sent. A read-back
// different from value is no error: the caller decides what it means.
func (g *Gateway) Write(ctx context.Context, device, metric string, value float64) (devices.Value, error) {
	select {
	case <-g.ready:
	default:
		return devices.Value{}, fmt.Errorf("modbus write %s %s: %w", device, metric, ErrNotRunning)
	}
	u, l := g.units[device], g.byDevice[device]
	if u == nil {
		return devices.Value{}, fmt.Errorf("modbus write %s %s: device %w", device, metric, ErrNotPolled)
	}
	model, _ := g.cfg.Registry.Model(u.dev.Model)
	reg, err := writableRegister(model, metric)
	if err != nil {
		return devices.Value{}, fmt.Errorf("modbus write %s: %w", device, err)
	}
	words, err := EncodeWrite(reg, value)
	if err != nil {
		return devices.Value{}, fmt.Errorf("modbus write %s: %w", device, err)
	}
	req := writeReq{u: u, reg: reg, words: words, done: make(chan writeResult, 1)}
	select {
	case l.writes <- req:
	case <-ctx.Done():
		return devices.Value{}, ctx.Err()
	case <-g.done:
		return devices.Value{}, fmt.Errorf("modbus write %s %s: %w", device, metric, ErrNotRunning)
	}
	select {
	case r := <-req.done:
		if r.err != nil {
			return devices.Value{}, fmt.Errorf("modbus write %s %s: %w", device, metric, r.err)
		}
		return r.v, nil
	case <-ctx.Done():
		return devices.Value{}, ctx.Err()
	}
}

// writableRegister is the model's entry for metric, if it may be written.
func writableRegister(m devices.Model, metric string) (devices.Register, error) {
	for _, r := range m.Registers {
		if r.Metric != metric {
			continue
		}
		switch {
		case r.Table != "coil" && r.Table != "holding":
			return r, fmt.Errorf("%s is a %s entry, read-only: %w", metric, r.Table, ErrNotWritable)
		case !r.Writable:
			return r, fmt.Errorf("%s is not declared writable in the model: %w", metric, ErrNotWritable)
		}
		return r, nil
	}
	return devices.Register{}, fmt.Errorf("%s is not in the model's register map: %w", metric, ErrNotWritable)
}

// EncodeWrite is Decode's inverse for a write: the words that make reg
// read value (for a coil one word, 0 or 1). It refuses a value outside
// reg's min/max, one that is not a whole number of the register's steps
// where the type is an integer, and one the type cannot hold.
func EncodeWrite(reg devices.Register, value float64) ([]uint16, error) {
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return nil, fmt.Errorf("%s: %g: %w", reg.Metric, value, ErrNotWritable)
	}
	if !plausible(reg, value) {
		return nil, fmt.Errorf("%s: %g is outside the register's range [%s, %s]: %w", reg.Metric, value, bound(reg.Min), bound(reg.Max), ErrNotWritable)
	}
	if reg.Table == "coil" || reg.Type == "bool" {
		if value != 0 && value != 1 {
			return nil, fmt.Errorf("%s: a %s %s takes 0 or 1, not %g: %w", reg.Metric, reg.Table, reg.Type, value, ErrNotWritable)
		}
		return []uint16{uint16(value)}, nil
	}
	scale := reg.Scale
	if scale == 0 {
		scale = 1
	}
	raw := (value - reg.Offset) / scale
	width := devices.RegisterWidth(reg.Type)
	b := make([]byte, 2*width)
	isInt := reg.Type != "float32" && reg.Type != "float64"
	if isInt {
		r := math.Round(raw)
		if math.Abs(r-raw) > 1e-6*math.Max(1, math.Abs(raw)) {
			return nil, fmt.Errorf("%s: %g is not a multiple of the register's scale %g: %w", reg.Metric, value, scale, ErrNotWritable)
		}
		raw = r
	}
	lo, hi := typeRange(reg.Type)
	if raw < lo || raw > hi {
		return nil, fmt.Errorf("%s: %g does not fit a %s register (raw %g): %w", reg.Metric, value, reg.Type, raw, ErrNotWritable)
	}
	switch reg.Type {
	case "int16":
		binary.BigEndian.PutUint16(b, uint16(int16(raw)))
	case "uint16":
		binary.BigEndian.PutUint16(b, uint16(raw))
	case "int32":
		binary.BigEndian.PutUint32(b, uint32(int32(raw)))
	case "uint32":
		binary.BigEndian.PutUint32(b, uint32(raw))
	case "int64":
		binary.BigEndian.PutUint64(b, uint64(int64(raw)))
	case "uint64":
		binary.BigEndian.PutUint64(b, uint64(raw))
	case "float32":
		binary.BigEndian.PutUint32(b, math.Float32bits(float32(raw)))
	case "float64":
		binary.BigEndian.PutUint64(b, math.Float64bits(raw))
	default:
		return nil, fmt.Errorf("%s: unknown type %q: %w", reg.Metric, reg.Type, ErrNotWritable)
	}
	// ordered swaps bytes and words; the swap is its own inverse.
	wire := ordered(b, reg.ByteOrder == "little", reg.WordOrder == "little")
	words := make([]uint16, width)
	for i := range words {
		words[i] = binary.BigEndian.Uint16(wire[2*i:])
	}
	return words, nil
}

func typeRange(typ string) (lo, hi float64) {
	switch typ {
	case "int16":
		return math.MinInt16, math.MaxInt16
	case "uint16":
		return 0, math.MaxUint16
	case "int32":
		return math.MinInt32, math.MaxInt32
	case "uint32":
		return 0, math.MaxUint32
	case "int64":
		return math.MinInt64, math.Nextafter(0x1p63, 0)
	case "uint64":
		return 0, math.Nextafter(0x1p64, 0)
	case "float32":
		return -math.MaxFloat32, math.MaxFloat32
	}
	return -math.MaxFloat64, math.MaxFloat64
}

func bound(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprint(*p)
}

// serveWrite carries out one write on the line's connection, then reads
// the entry back.
func (l *line) serveWrite(w writeReq) {
	w.done <- l.write(w)
}

func (l *line) write(w writeReq) writeResult {
	u := w.u
	if l.conn == nil {
		c, err := l.g.cfg.dial(l.addr)
		if err != nil {
			return writeResult{err: err}
		}
		l.conn = c
	}
	if err := l.conn.write(u.dev.Modbus.Unit, u.timeout, w.reg.Table, w.reg.Address, w.words); err != nil {
		if _, ok := isException(err); !ok {
			l.conn.reset()
		}
		l.g.metrics.failures.WithLabelValues(u.dev.ID, failureReason(err)).Inc()
		return writeResult{err: fmt.Errorf("write %s %d: %w", w.reg.Table, w.reg.Address, err)}
	}
	u.log.Info("modbus write", "metric", w.reg.Metric, "table", w.reg.Table, "register", w.reg.Address, "words", w.words)
	req := Request{Table: w.reg.Table, Start: w.reg.Address, Count: uint16(width(w.reg)), Fields: []Field{{Register: w.reg}}}
	raw, err := l.read(u, req)
	if err != nil {
		l.g.metrics.failures.WithLabelValues(u.dev.ID, failureReason(err)).Inc()
		return writeResult{err: fmt.Errorf("read back: %w", err)}
	}
	v, err := Decode(w.reg, raw, 0)
	if err != nil {
		return writeResult{err: fmt.Errorf("read back: %w", err)}
	}
	return writeResult{v: v}
}

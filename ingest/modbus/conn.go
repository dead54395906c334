package modbus

import (
	"errors"
	"fmt"
	"time"

	gb "github.com/goburrow/modbus"
)

// conn is one connection to a Modbus address: a TCP socket (to a device or
// a TCP gateway) or a serial line. It is used by one goroutine at a time.
type conn interface {
	// read performs one read request for unit with its own timeout and
	// returns the raw data of the answer.
	read(unit byte, timeout time.Duration, req Request) ([]byte, error)
	// reset drops the connection; the next read opens it again.
	reset()
	close() error
}

// dialer makes the connection for an address; tests may replace it.
type dialer func(Address) (conn, error)

// goburrowConn is a conn through github.com/goburrow/modbus. Its handler's
// slave id and timeout are set before each request; requests on it are
// serialised by the poll loop that owns it.
type goburrowConn struct {
	setUnit    func(byte)
	setTimeout func(time.Duration)
	closer     interface{ Close() error }
	client     gb.Client
}

func dialGoburrow(a Address) (conn, error) {
	switch a.Scheme {
	case "tcp":
		h := gb.NewTCPClientHandler(a.Host)
		return &goburrowConn{
			setUnit:    func(u byte) { h.SlaveId = u },
			setTimeout: func(d time.Duration) { h.Timeout = d },
			closer:     h,
			client:     gb.NewClient(h),
		}, nil
	case "rtu":
		h := gb.NewRTUClientHandler(a.Serial.Address)
		h.BaudRate, h.DataBits, h.StopBits, h.Parity = a.Serial.BaudRate, a.Serial.DataBits, a.Serial.StopBits, a.Serial.Parity
		return &goburrowConn{
			setUnit:    func(u byte) { h.SlaveId = u },
			setTimeout: func(d time.Duration) { h.Timeout = d },
			closer:     h,
			client:     gb.NewClient(h),
		}, nil
	}
	return nil, fmt.Errorf("modbus: unsupported scheme %q", a.Scheme)
}

func (c *goburrowConn) read(unit byte, timeout time.Duration, req Request) ([]byte, error) {
	c.setUnit(unit)
	c.setTimeout(timeout)
	var (
		b   []byte
		err error
	)
	switch req.Table {
	case "holding":
		b, err = c.client.ReadHoldingRegisters(req.Start, req.Count)
	case "input":
		b, err = c.client.ReadInputRegisters(req.Start, req.Count)
	case "coil":
		b, err = c.client.ReadCoils(req.Start, req.Count)
	case "discrete":
		b, err = c.client.ReadDiscreteInputs(req.Start, req.Count)
	default:
		return nil, fmt.Errorf("modbus: unknown table %q", req.Table)
	}
	if err != nil {
		return nil, err
	}
	want := 2 * int(req.Count)
	if req.Table == "coil" || req.Table == "discrete" {
		want = (int(req.Count) + 7) / 8
	}
	if len(b) != want {
		return nil, fmt.Errorf("modbus: answer of %d bytes to a read of %d %s, want %d", len(b), req.Count, req.Table, want)
	}
	return b, nil
}

func (c *goburrowConn) reset()       { _ = c.closer.Close() }
func (c *goburrowConn) close() error { return c.closer.Close() }

// isException tells whether err is a Modbus exception answer: the device
// answered, so the connection is fine and only this request failed.
func isException(err error) (code byte, ok bool) {
	var me *gb.ModbusError
	if errors.As(err, &me) {
		return me.ExceptionCode, true
	}
	return 0, false
}

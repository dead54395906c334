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
	// write sets one coil (words[0] 0 or 1) or holding registers from
	// addr for unit, with its own timeout.
	write(unit byte, timeout time.Duration, table string, addr uint16, words []uint16) error
	// reset drops the connection; the next read opens it again.
	reset()
	close() error
}

// dialer makes the connection for an address; tests may replace it.
type dialer func(Address) (conn, error)

// goburrowConn is a conn through github.com/goburrow/modbus. Its handler's
// slave id and timeout are set before each request (prepare); requests on
// it are serialised by the poll loop that owns it.
type goburrowConn struct {
	prepare func(unit byte, timeout time.Duration) error
	closer  interface{ Close() error }
	client  gb.Client
	opened  bool // rtu: the serial port is open
}

func dialGoburrow(a Address) (conn, error) {
	switch a.Scheme {
	case "tcp":
		h := gb.NewTCPClientHandler(a.Host)
		return &goburrowConn{
			// The TCP transport sets its deadline from Timeout on every request.
			prepare: func(u byte, d time.Duration) error { h.SlaveId, h.Timeout = u, d; return nil },
			closer:  h,
			client:  gb.NewClient(h),
		}, nil
	case "rtu":
		h := gb.NewRTUClientHandler(a.Serial.Address)
		h.BaudRate, h.DataBits, h.StopBits, h.Parity = a.Serial.BaudRate, a.Serial.DataBits, a.Serial.StopBits, a.Serial.Parity
		// The poll loop opens and closes the port; goburrow's idle timer
		// would close it from another goroutine while a request runs.
		h.IdleTimeout = 0
		c := &goburrowConn{closer: h, client: gb.NewClient(h)}
		c.prepare = func(u byte, d time.Duration) error {
			h.SlaveId = u
			// goburrow/serial copies Timeout into the port when it opens it
			// and never reads it again, so a unit whose timeout differs from
			// the one the port was opened with gets the port reopened.
			if c.opened && h.Timeout == d {
				return nil
			}
			if c.opened {
				_ = h.Close()
				c.opened = false
			}
			h.Timeout = d
			if err := h.Connect(); err != nil {
				return fmt.Errorf("open %s: %w", a.Serial.Address, err)
			}
			c.opened = true
			return nil
		}
		return c, nil
	}
	return nil, fmt.Errorf("modbus: unsupported scheme %q", a.Scheme)
}

func (c *goburrowConn) read(unit byte, timeout time.Duration, req Request) ([]byte, error) {
	if err := c.prepare(unit, timeout); err != nil {
		return nil, err
	}
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

func (c *goburrowConn) write(unit byte, timeout time.Duration, table string, addr uint16, words []uint16) error {
	if err := c.prepare(unit, timeout); err != nil {
		return err
	}
	var err error
	switch {
	case table == "coil" && len(words) == 1:
		v := uint16(0x0000)
		if words[0] != 0 {
			v = 0xFF00
		}
		_, err = c.client.WriteSingleCoil(addr, v)
	case table == "holding" && len(words) == 1:
		_, err = c.client.WriteSingleRegister(addr, words[0])
	case table == "holding" && len(words) > 1:
		b := make([]byte, 2*len(words))
		for i, w := range words {
			b[2*i], b[2*i+1] = byte(w>>8), byte(w)
		}
		_, err = c.client.WriteMultipleRegisters(addr, uint16(len(words)), b)
	default:
		return fmt.Errorf("modbus: %d words cannot be written to a %s", len(words), table)
	}
	return err
}

func (c *goburrowConn) reset() { _ = c.close() }
func (c *goburrowConn) close() error {
	c.opened = false
	return c.closer.Close()
}

// isException tells whether err is a Modbus exception answer: the device
// answered, so the connection is fine and only this request failed.
func isException(err error) (code byte, ok bool) {
	var me *gb.ModbusError
	if errors.As(err, &me) {
		return me.ExceptionCode, true
	}
	return 0, false
}

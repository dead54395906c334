package modbus

import (
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/goburrow/serial"
)

// Address is a parsed device address: tcp://host:port or
// rtu:///dev/ttyUSB0?baud=9600&data_bits=8&parity=N&stop_bits=1.
type Address struct {
	Scheme string // tcp or rtu
	Host   string // tcp: host:port
	Serial serial.Config
}

// ParseAddress checks a device's modbus.address; the error says what is
// wrong with it.
func ParseAddress(s string) (Address, error) {
	u, err := url.Parse(s)
	if err != nil {
		return Address{}, fmt.Errorf("%q: %v", s, err)
	}
	switch u.Scheme {
	case "tcp":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			return Address{}, fmt.Errorf("%q: want tcp://host:port", s)
		}
		if u.Path != "" && u.Path != "/" {
			return Address{}, fmt.Errorf("%q: a tcp address has no path", s)
		}
		return Address{Scheme: "tcp", Host: u.Host}, nil
	case "rtu":
		if u.Host != "" || u.Path == "" {
			return Address{}, fmt.Errorf("%q: want rtu:///dev/ttyX?baud=9600", s)
		}
		cfg := serial.Config{Address: u.Path, BaudRate: 9600, DataBits: 8, StopBits: 1, Parity: "E"}
		q := u.Query()
		for key, dst := range map[string]*int{"baud": &cfg.BaudRate, "data_bits": &cfg.DataBits, "stop_bits": &cfg.StopBits} {
			if v := q.Get(key); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 {
					return Address{}, fmt.Errorf("%q: %s=%q is not a positive number", s, key, v)
				}
				*dst = n
			}
		}
		if p := q.Get("parity"); p != "" {
			if p != "N" && p != "E" && p != "O" {
				return Address{}, fmt.Errorf("%q: parity=%q is not N, E or O", s, p)
			}
			cfg.Parity = p
		}
		for key := range q {
			switch key {
			case "baud", "data_bits", "stop_bits", "parity":
			default:
				return Address{}, fmt.Errorf("%q: unknown option %q (baud, data_bits, stop_bits, parity)", s, key)
			}
		}
		return Address{Scheme: "rtu", Serial: cfg}, nil
	default:
		return Address{}, fmt.Errorf("%q: scheme must be tcp:// or rtu://", s)
	}
}

// key identifies the connection an address needs: devices with the same
// key share it.
func (a Address) key() string {
	if a.Scheme == "rtu" {
		return "rtu://" + a.Serial.Address
	}
	return "tcp://" + a.Host
}

package firmwaresim

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
)

// dropProxy sits in front of a Modbus TCP server and, per request, may
// close the client's connection instead of passing the request on: the
// "dropped connection" fault of a flaky gateway or a cellular link.
type dropProxy struct {
	l    net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	open map[net.Conn]bool
}

// startDropProxy listens on listen and forwards to backend; drop is asked
// once per request whether to cut the connection instead.
func startDropProxy(listen, backend string, drop func() bool, log *slog.Logger) (*dropProxy, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &dropProxy{l: l, open: map[net.Conn]bool{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(c, backend, drop, log)
			}()
		}
	}()
	return p, nil
}

func (p *dropProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.open[c] = true
	} else {
		delete(p.open, c)
	}
}

func (p *dropProxy) serve(client net.Conn, backend string, drop func() bool, log *slog.Logger) {
	defer client.Close()
	p.track(client, true)
	defer p.track(client, false)
	up, err := net.Dial("tcp", backend)
	if err != nil {
		log.Warn("modbus proxy: backend unreachable", "err", err)
		return
	}
	defer up.Close()
	p.track(up, true)
	defer p.track(up, false)
	go func() { _, _ = io.Copy(client, up); client.Close() }()
	hdr := make([]byte, 7) // MBAP: transaction, protocol, length, unit
	for {
		if _, err := io.ReadFull(client, hdr); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[4:6]))
		if n < 1 || n > 254 {
			return
		}
		body := make([]byte, n-1)
		if _, err := io.ReadFull(client, body); err != nil {
			return
		}
		if drop() {
			log.Debug("modbus fault: dropping connection", "client", client.RemoteAddr().String())
			return
		}
		if _, err := up.Write(append(append([]byte{}, hdr...), body...)); err != nil {
			return
		}
	}
}

func (p *dropProxy) stop() {
	p.l.Close()
	p.mu.Lock()
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

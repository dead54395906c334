package mqtt

import (
	"bufio"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// bufferedReads gives the paho client a plain TCP connection whose reads
// go through a 64 KiB buffer and whose writes are coalesced. paho reads
// each packet with several small reads straight from the socket (the
// fixed header byte, the length bytes, then the body): three or four read
// system calls per message. Through the buffer, one system call takes in
// a whole backlog of messages. paho also writes every packet with a write
// of its own; acknowledgements come in bursts (all the messages of one
// store commit at once), and through coalescedWriter a burst leaves in a
// few writes instead of one per PUBACK.
//
// Only tcp:// and mqtt:// without a proxy in the environment are dialled
// here; TLS, WebSocket and proxied connections keep paho's own dialling.
func bufferedReads(opts *paho.ClientOptions, broker string, dialled func(*bufferedConn)) {
	u, err := url.Parse(broker)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "mqtt") {
		return
	}
	for _, v := range []string{"all_proxy", "ALL_PROXY"} {
		if os.Getenv(v) != "" {
			return
		}
	}
	opts.SetCustomOpenConnectionFn(func(uri *url.URL, o paho.ClientOptions) (net.Conn, error) {
		d := o.Dialer
		if d == nil {
			d = &net.Dialer{Timeout: o.ConnectTimeout}
		}
		c, err := d.Dial("tcp", uri.Host)
		if err != nil {
			return nil, err
		}
		bc := newBufferedConn(c)
		if dialled != nil {
			dialled(bc)
		}
		return bc, nil
	})
}

// maxCoalesced is how many bytes Write keeps before it writes them itself.
const maxCoalesced = 256 << 10

// bufferedConn is a net.Conn whose reads are buffered and whose writes
// are coalesced: Write appends to a buffer and wakes a flusher goroutine,
// which sends whatever has gathered by the time it runs with one write.
// The order of bytes is kept. A failed write fails every Write after it
// (and closes the connection, so paho's reader sees it too). Close sends
// what is buffered first (paho's DISCONNECT).
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	wmu    sync.Mutex // held while bytes are written to the socket, so they keep their order
	mu     sync.Mutex
	buf    []byte // written, not yet sent
	spare  []byte
	err    error
	wake   chan struct{}
	closed chan struct{}
	once   sync.Once
}

// newBufferedConn wraps c and starts its flusher, which ends with Close.
func newBufferedConn(c net.Conn) *bufferedConn {
	bc := &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10), wake: make(chan struct{}, 1), closed: make(chan struct{})}
	go bc.flusher()
	return bc
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write queues p for the flusher; past maxCoalesced bytes it sends them
// itself, so a broker that stops reading holds the writer back.
func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	c.buf = append(c.buf, p...)
	full := len(c.buf) >= maxCoalesced
	c.mu.Unlock()
	if full {
		if err := c.flush(); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// puback queues the PUBACK of a QoS 1 message received on this
// connection. paho writes every packet with a single Write, so packets
// from here and from paho never interleave. On a connection that has
// ended it does nothing: the broker sends the message again on the next.
func (c *bufferedConn) puback(id uint16) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.buf = append(c.buf, 0x40, 0x02, byte(id>>8), byte(id))
	full := len(c.buf) >= maxCoalesced
	c.mu.Unlock()
	if full {
		_ = c.flush()
		return
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *bufferedConn) flusher() {
	for {
		select {
		case <-c.wake:
		case <-c.closed:
			return
		}
		_ = c.flush()
	}
}

// flush sends what is buffered.
func (c *bufferedConn) flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	b := c.buf
	c.buf, c.spare = c.spare[:0], nil
	err := c.err
	c.mu.Unlock()
	if err != nil || len(b) == 0 {
		c.mu.Lock()
		c.spare = b
		c.mu.Unlock()
		return err
	}
	_, err = c.Conn.Write(b)
	c.mu.Lock()
	if err != nil && c.err == nil {
		c.err = err
	}
	if cap(b) <= maxCoalesced {
		c.spare = b[:0]
	}
	c.mu.Unlock()
	if err != nil {
		_ = c.Conn.Close()
	}
	return err
}

// Close sends what is buffered, stops the flusher and closes the socket.
func (c *bufferedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.flush()
	c.mu.Lock()
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

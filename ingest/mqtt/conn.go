package mqtt

import (
	"bufio"
	"net"
	"net/url"
	"os"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// bufferedReads gives the paho client a plain TCP connection whose reads
// go through a 64 KiB buffer. paho reads each packet with several small
// reads straight from the socket (the fixed header byte, the length bytes,
// then the body): three or four read system calls per message. Through
// the buffer, one system call takes in a whole backlog of messages. Writes
// are untouched (a PUBACK still leaves at once).
//
// Only tcp:// and mqtt:// without a proxy in the environment are dialled
// here; TLS, WebSocket and proxied connections keep paho's own dialling.
func bufferedReads(opts *paho.ClientOptions, broker string) {
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
		return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10)}, nil
	})
}

// bufferedConn is a net.Conn whose reads are buffered.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

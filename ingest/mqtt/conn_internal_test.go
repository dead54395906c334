package mqtt

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// countingConn counts the writes that reach the socket; the first one
// waits until release is closed, as a socket the peer is slow to read.
type countingConn struct {
	net.Conn
	release chan struct{}
	mu      sync.Mutex
	writes  int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	first := c.writes == 1
	c.mu.Unlock()
	if first {
		<-c.release
	}
	return c.Conn.Write(p)
}

func (c *countingConn) Writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// TestBufferedConnCoalescesWrites: 1 000 small packets (PUBACKs) written
// while one write is on its way leave in one more write, in order, and
// Close sends what is still buffered.
func TestBufferedConnCoalescesWrites(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(c)
		got <- b
	}()
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: raw, release: make(chan struct{})}
	bc := newBufferedConn(cc)
	var want bytes.Buffer
	write := func(i int) {
		p := []byte{0x40, 0x02, byte(i >> 8), byte(i)} // a PUBACK
		want.Write(p)
		if _, err := bc.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	testkit.Eventually(t, 10*time.Second, "the first write under way", func() bool { return cc.Writes() == 1 })
	for i := 1; i <= 1000; i++ {
		write(i)
	}
	close(cc.release)
	testkit.Eventually(t, 10*time.Second, "the rest written", func() bool { return cc.Writes() == 2 })
	bc.puback(1001) // as the gateway acknowledges: the same bytes as a PUBACK paho writes
	want.Write([]byte{0x40, 0x02, 0x03, 0xe9})
	if err := bc.Close(); err != nil {
		t.Fatal(err)
	}
	b := <-got
	if !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("the peer read %d bytes, want the %d written, in order", len(b), want.Len())
	}
	if n := cc.Writes(); n > 3 {
		t.Errorf("%d writes to the socket for 1 002 packets, want at most 3", n)
	}
	if _, err := bc.Write([]byte{0}); err == nil {
		t.Error("Write after Close succeeded")
	}
	bc.puback(7) // an acknowledgement for an ended connection is dropped
	if n := cc.Writes(); n > 3 {
		t.Errorf("a PUBACK after Close reached the socket (%d writes)", n)
	}
}

package dashboard

import (
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// A client that opened /ws?batch=true gets every message as a JSON array
// of events (each the object an unbatched client gets): what waits in its
// outbox when its writer is ready, up to these caps, in one frame. Nothing
// waits to fill a frame: a client that keeps up gets arrays of one.
const (
	maxFrameBytes  = 64 << 10
	maxFrameEvents = 1000
)

// wireMsg is one encoded event as the hub shares it between the clients
// that want it: its JSON (body), framed once as a message of its own for
// unbatched clients (pm, made by the hub under its lock when the first of
// them wants it), and framed once as an array of one for batched clients
// (alone, made by the first writer that sends it so).
type wireMsg struct {
	body []byte
	pm   *websocket.PreparedMessage

	once   sync.Once
	one    *websocket.PreparedMessage
	oneErr error
}

// alone is the event framed as an array of one.
func (w *wireMsg) alone() (*websocket.PreparedMessage, error) {
	w.once.Do(func() {
		b := make([]byte, 0, len(w.body)+2)
		b = append(append(append(b, '['), w.body...), ']')
		w.one, w.oneErr = websocket.NewPreparedMessage(websocket.TextMessage, b)
	})
	return w.one, w.oneErr
}

// frameCount is how many of the events from the first on go in one
// array frame: at least one, then as many as fit the caps.
func frameCount(n int, body func(int) []byte) int {
	k, size := 1, len(body(0))+2
	for k < n && k < maxFrameEvents && size+1+len(body(k)) <= maxFrameBytes {
		size += 1 + len(body(k))
		k++
	}
	return k
}

// framePool holds the buffers array frames are joined in.
type framePool struct{ p sync.Pool }

// write sends bodies as one JSON array, the bodies joined with commas
// (each is encoded once, by the hub; nothing is encoded again here).
func (f *framePool) write(conn *websocket.Conn, bodies func(int) []byte, n int) error {
	bp, _ := f.p.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := append((*bp)[:0], '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, bodies(i)...)
	}
	b = append(b, ']')
	err := conn.WriteMessage(websocket.TextMessage, b)
	if cap(b) <= 2*maxFrameBytes { // one oversized event is not kept
		*bp = b
		f.p.Put(bp)
	}
	return err
}

// sendFirst writes the snapshot or the replayed events; wait is the
// deadline of each write.
func (c *client) sendFirst(msgs [][]byte, wait time.Duration) error {
	if !c.batch {
		for _, msg := range msgs {
			_ = c.conn.SetWriteDeadline(time.Now().Add(wait))
			if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				return err
			}
			c.wrote()
		}
		return nil
	}
	for len(msgs) > 0 {
		body := func(i int) []byte { return msgs[i] }
		k := frameCount(len(msgs), body)
		_ = c.conn.SetWriteDeadline(time.Now().Add(wait))
		if err := c.hub.frames.write(c.conn, body, k); err != nil {
			return err
		}
		c.wrote()
		msgs = msgs[k:]
	}
	return nil
}

// send writes entries taken from the outbox: each as its shared prepared
// message, or for a batched client as few array frames as the caps allow
// (an array of one as its shared prepared message too).
func (c *client) send(entries []outEntry, wait time.Duration) error {
	if !c.batch {
		for _, e := range entries {
			_ = c.conn.SetWriteDeadline(time.Now().Add(wait))
			if err := c.conn.WritePreparedMessage(e.msg.pm); err != nil {
				return err
			}
			c.wrote()
		}
		return nil
	}
	for len(entries) > 0 {
		body := func(i int) []byte { return entries[i].msg.body }
		k := frameCount(len(entries), body)
		_ = c.conn.SetWriteDeadline(time.Now().Add(wait))
		if k == 1 {
			pm, err := entries[0].msg.alone()
			if err != nil {
				return fmt.Errorf("framing an event: %w", err)
			}
			if err := c.conn.WritePreparedMessage(pm); err != nil {
				return err
			}
		} else if err := c.hub.frames.write(c.conn, body, k); err != nil {
			return err
		}
		c.wrote()
		entries = entries[k:]
	}
	return nil
}

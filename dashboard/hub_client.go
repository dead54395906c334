package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/gorilla/websocket"
)

// maxClientMessage caps what a client may send (a subscribe message).
const (
	maxClientMessage = 16 << 10
	maxSubscribeIDs  = 1000
)

// client is one WebSocket connection: a reader goroutine for subscribe
// messages and pongs, one writer goroutine, and a bounded send queue that
// only the hub fills (under its mutex) and only the hub closes.
type client struct {
	hub  *Hub
	conn *websocket.Conn
	send chan []byte

	// scope are the sites the token may see (nil: every site); events of
	// other sites, and those of no site, never reach it. Set once.
	scope map[string]bool
	// who is the identity of the token it was opened with (principal's
	// identity), so that a token reload can close it. Set once.
	who string

	// Guarded by hub.mu.
	sites    map[string]bool // nil: every site
	readings map[string]bool // devices whose readings the client wants
	gone     bool
}

// wants applies the client's filters: the site filter to events that name
// a site, and readings only for subscribed devices.
func (c *client) wants(ev storedEvent) bool {
	if c.scope != nil && !c.scope[ev.site] {
		return false
	}
	if ev.typ == EventReading && !c.readings[ev.device] {
		return false
	}
	if ev.site != "" && c.sites != nil && !c.sites[ev.site] {
		return false
	}
	return true
}

// subscribeMessage is what a client may send.
type subscribeMessage struct {
	Type     string   `json:"type"`
	Sites    []string `json:"sites"`
	Readings []string `json:"readings"`
}

// serve runs one connection until it ends: the first message is a snapshot
// (or the replay of the events missed since since, of epoch epoch), then
// the live events.
func (h *Hub) serve(ctx context.Context, conn *websocket.Conn, since *uint64, epoch string, p principal, snapshot func(context.Context) (any, error)) {
	c, replay, snapSeq, needSnapshot, ok := h.attach(conn, since, epoch, p)
	if !ok {
		h.closeConn(conn, websocket.CloseGoingAway, "server shutting down")
		return
	}
	go c.readPump()
	first := replay
	if needSnapshot {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		data, err := snapshot(sctx)
		cancel()
		var msg []byte
		if err == nil {
			msg, err = h.envelope(snapSeq, EventSnapshot, data)
		}
		if err != nil {
			h.log.Error("websocket snapshot failed", "err", err)
			h.remove(c)
			h.closeConn(conn, websocket.CloseInternalServerErr, "snapshot failed")
			return
		}
		first = [][]byte{msg}
	}
	c.writePump(first)
}

func (h *Hub) closeConn(conn *websocket.Conn, code int, text string) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(h.cfg.WriteWait))
	_ = conn.Close()
}

// writePump is the only writer of the connection.
func (c *client) writePump(first [][]byte) {
	cfg := &c.hub.cfg
	ticker := time.NewTicker(cfg.PingEvery)
	defer func() {
		ticker.Stop()
		_ = c.conn.Close()
	}()
	write := func(msg []byte) error {
		_ = c.conn.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
		return c.conn.WriteMessage(websocket.TextMessage, msg)
	}
	for _, msg := range first {
		if write(msg) != nil {
			c.hub.remove(c)
			return
		}
	}
	for {
		select {
		case msg, ok := <-c.send:
			if !ok { // detached by the hub: shutdown, or the reader ended
				c.hub.closeConn(c.conn, websocket.CloseGoingAway, "")
				return
			}
			if write(msg) != nil {
				c.hub.remove(c)
				return
			}
		case <-ticker.C:
			_ = c.conn.SetWriteDeadline(time.Now().Add(cfg.WriteWait))
			if c.conn.WriteMessage(websocket.PingMessage, nil) != nil {
				c.hub.remove(c)
				return
			}
		}
	}
}

// readPump reads subscribe messages and pongs; the connection ends when
// the client goes away or stays silent past PongWait.
func (c *client) readPump() {
	cfg := &c.hub.cfg
	defer func() {
		c.hub.remove(c)
		_ = c.conn.Close()
	}()
	c.conn.SetReadLimit(maxClientMessage)
	_ = c.conn.SetReadDeadline(time.Now().Add(cfg.PongWait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(cfg.PongWait))
	})
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			if websocket.IsUnexpectedCloseError(err, websocket.CloseGoingAway, websocket.CloseNormalClosure, websocket.CloseNoStatusReceived) &&
				!errors.Is(err, websocket.ErrReadLimit) {
				c.hub.log.Debug("websocket read ended", "err", err)
			}
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(cfg.PongWait))
		var m subscribeMessage
		if err := json.Unmarshal(data, &m); err != nil || m.Type != "subscribe" {
			continue // unknown messages are ignored
		}
		if len(m.Sites) > maxSubscribeIDs || len(m.Readings) > maxSubscribeIDs {
			continue
		}
		c.hub.subscribe(c, m.Sites, m.Readings)
	}
}

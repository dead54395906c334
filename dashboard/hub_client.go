package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// maxClientMessage caps what a client may send (a subscribe message).
const (
	maxClientMessage = 16 << 10
	maxSubscribeIDs  = 1000
)

// client is one WebSocket connection: a reader goroutine for subscribe
// messages and pongs, one writer goroutine, and an outbox that only the
// hub fills (under its mutex) and the writer empties: messages in the
// order they came, except that a reading of a device whose previous
// reading still waits takes that one's place (conflation: a client that
// falls behind gets the latest reading of each device, and every other
// event). done is closed by the hub when it detaches the client.
type client struct {
	hub  *Hub
	conn *websocket.Conn
	done chan struct{}
	wake chan struct{} // the outbox has something; capacity 1

	mu       sync.Mutex
	out      []outEntry
	waiting  map[string]int // device -> index in out of its waiting reading
	events   int            // entries of out that are not readings
	progress time.Time      // last write done, or the outbox filling from empty

	// scope are the sites the token may see (nil: every site); events of
	// other sites, and those of no site, never reach it. Set once.
	scope map[string]bool
	// who is the identity of the token it was opened with (principal's
	// identity), so that a token reload can close it. Set once.
	who string
	// viewer is who opened it, whose role and name say whether the
	// reporters' phones reach it (phones.go). Set once.
	viewer principal
	// batch: the client asked for arrays of events (?batch=true,
	// hub_frames.go). Set once.
	batch bool

	// Guarded by hub.mu.
	sites    map[string]bool // nil: every site
	readings map[string]bool // devices whose readings the client wants
	gone     bool
}

// outEntry is a waiting message; device is set for a reading.
type outEntry struct {
	msg    *wireMsg
	device string
}

func newClient(h *Hub, conn *websocket.Conn) *client {
	return &client{hub: h, conn: conn, done: make(chan struct{}), wake: make(chan struct{}, 1),
		waiting: map[string]int{}, progress: time.Now()}
}

type pushResult int

const (
	pushed pushResult = iota
	pushStalled
	pushFull
)

// push queues a message (a reading when device is set). It reports a
// client that has had messages waiting and written none for stall, or
// whose waiting events other than readings fill maxEvents.
func (c *client) push(msg *wireMsg, device string, now time.Time, stall time.Duration, maxEvents int) pushResult {
	c.mu.Lock()
	if len(c.out) == 0 {
		c.progress = now
	} else if now.Sub(c.progress) > stall {
		c.mu.Unlock()
		return pushStalled
	}
	switch i, ok := c.waiting[device]; {
	case device != "" && ok:
		c.out[i].msg = msg
	case device != "":
		c.waiting[device] = len(c.out)
		c.out = append(c.out, outEntry{msg: msg, device: device})
	case c.events >= maxEvents:
		c.mu.Unlock()
		return pushFull
	default:
		c.events++
		c.out = append(c.out, outEntry{msg: msg})
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return pushed
}

// take empties the outbox.
func (c *client) take() []outEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.out
	c.out = nil
	c.events = 0
	clear(c.waiting)
	return out
}

// wrote records progress: a message left.
func (c *client) wrote() {
	c.mu.Lock()
	c.progress = time.Now()
	c.mu.Unlock()
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
func (h *Hub) serve(ctx context.Context, conn *websocket.Conn, since *uint64, epoch string, batch bool, p principal, snapshot func(context.Context) (any, error)) {
	c, replay, snapSeq, needSnapshot, ok := h.attach(conn, since, epoch, batch, p)
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

// writePump is the only writer of the connection. A write may take up to
// StallTimeout (a client on a slow link is not cut off sooner).
func (c *client) writePump(first [][]byte) {
	cfg := &c.hub.cfg
	ticker := time.NewTicker(cfg.PingEvery)
	defer func() {
		ticker.Stop()
		_ = c.conn.Close()
	}()
	if c.sendFirst(first, cfg.StallTimeout) != nil {
		c.hub.remove(c)
		return
	}
	for {
		select {
		case <-c.done: // detached by the hub: shutdown, a drop, or the reader ended
			_ = c.send(c.take(), cfg.WriteWait) // what was queued before (fails at once after a drop)
			c.hub.closeConn(c.conn, websocket.CloseGoingAway, "")
			return
		case <-c.wake:
			if c.send(c.take(), cfg.StallTimeout) != nil {
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

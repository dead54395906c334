package dashboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// Event types the dashboard itself emits; the others (alarm.*, ticket.*)
// come from ticketing through Notify.
const (
	EventSnapshot     = "snapshot"
	EventDeviceStatus = "device.status"
	EventReading      = "reading"
)

// Message is one server-to-client WebSocket message. Epoch names the life
// of the hub that numbered it: seq starts again at 0 when the process
// restarts, and differs between instances, so a seq means something only
// together with its epoch. (Events relayed between instances carry none.)
type Message struct {
	Seq   uint64          `json:"seq"`
	Epoch string          `json:"epoch,omitempty"`
	Type  string          `json:"type"`
	Time  time.Time       `json:"ts"`
	Data  json.RawMessage `json:"data"`
}

// HubConfig tunes the hub; zero values take the defaults.
type HubConfig struct {
	Replay int    // events kept for ?since= replay; default 1024
	Epoch  string // names this life of the hub in every message; default random, new at each start
	// SendQueue is how many events other than readings may wait for one
	// connection; past it the client is dropped. Default 4096. Readings
	// never count: a client that falls behind gets the latest reading of
	// each device it follows (conflated), not every one.
	SendQueue int
	// StallTimeout: a client with messages waiting that has taken none
	// for this long is dropped (http.ws_stall_timeout). Default 30s.
	StallTimeout time.Duration
	PingEvery    time.Duration // keepalive ping; default 30s
	PongWait     time.Duration // a connection silent this long is closed; default 60s
	WriteWait    time.Duration // limit for a control message (ping, close); default 10s
	Now          func() time.Time
	Logger       *slog.Logger
	Registerer   prometheus.Registerer // optional: connection gauges and drop counter
}

func (c *HubConfig) setDefaults() {
	if c.Replay <= 0 {
		c.Replay = 1024
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 4096
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = 30 * time.Second
	}
	if c.PingEvery <= 0 {
		c.PingEvery = 30 * time.Second
	}
	if c.PongWait <= 0 {
		c.PongWait = 60 * time.Second
	}
	if c.PongWait <= c.PingEvery {
		c.PongWait = 2 * c.PingEvery
	}
	if c.WriteWait <= 0 {
		c.WriteWait = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Epoch == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
		c.Epoch = hex.EncodeToString(b)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Hub fans events out to WebSocket clients. It numbers every event, keeps
// the last ones for clients that reconnect with ?since=&epoch=, and never
// waits for a client. Each event is encoded once and framed once
// (websocket.PreparedMessage) for every client that wants it; a client
// that asked for batches gets what waits for it as one JSON array, the
// events' encodings joined (hub_frames.go). A client that falls behind
// keeps every alarm, ticket and status event, and only the latest waiting
// reading of each device; it is dropped (and must reconnect) only when it
// has taken nothing for StallTimeout, or SendQueue events other than
// readings wait for it. The numbers are those of one life of the hub (its epoch): a
// client that resumes from another life, or names none, gets a snapshot.
//
// One mutex guards the client set, the sequence and the replay ring, so
// every client sees events in sequence order and a new client misses none
// between its snapshot and its first event.
type Hub struct {
	cfg HubConfig
	log *slog.Logger

	mu      sync.Mutex
	seq     uint64
	ring    []storedEvent // circular, len cfg.Replay
	head    int           // index of the oldest stored event
	n       int           // stored events
	clients map[*client]struct{}
	closed  bool
	// share, when a Relay is attached, hands every numbered event on to
	// the other instances; it must not block.
	share func(eventType string, at time.Time, data json.RawMessage)

	dropped prometheus.Counter
	frames  framePool // buffers of batched clients' frames
}

// storedEvent is an encoded event with what the client filters look at.
type storedEvent struct {
	seq    uint64
	typ    string
	site   string
	device string
	msg    []byte
	// hidden is msg without the reporters' phones (nil: it has none),
	// for clients that may not read them of a ticket of assignee's.
	hidden   []byte
	assignee string
}

// NewHub builds a hub; call Run to close its connections on shutdown.
func NewHub(cfg HubConfig) *Hub {
	cfg.setDefaults()
	h := &Hub{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "ws-hub"),
		ring:    make([]storedEvent, cfg.Replay),
		clients: make(map[*client]struct{}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caretaker_ws_clients_dropped_total",
			Help: "WebSocket clients dropped because they did not keep up.",
		}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{
			h.dropped,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "caretaker_ws_clients",
				Help: "Open WebSocket connections.",
			}, func() float64 { return float64(h.Clients()) }),
		} {
			if err := cfg.Registerer.Register(c); err != nil {
				h.log.Warn("registering hub metrics", "err", err)
			}
		}
	}
	return h
}

// Run waits for ctx to end, then closes every connection.
func (h *Hub) Run(ctx context.Context) error {
	<-ctx.Done()
	h.closeAll()
	return nil
}

// Clients is the number of open connections.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Seq is the number of the last event.
func (h *Hub) Seq() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seq
}

// Epoch names this life of the hub; every message carries it.
func (h *Hub) Epoch() string { return h.cfg.Epoch }

// Notify numbers an event, keeps it for replay and queues it for every
// interested client without blocking; a client whose queue is full is
// dropped. It implements ticketing.Notifier.
func (h *Hub) Notify(ev ticketing.Event) {
	raw, err := json.Marshal(ev.Data)
	if err != nil {
		h.log.Error("event not sent: cannot encode its data", "type", ev.Type, "err", err)
		return
	}
	h.deliver(ev.Type, time.Time{}, raw, place{ev.Site, ev.Device}, true)
}

// place is where an event happened: its site (screens follow sites) and,
// for readings, its device (screens subscribe to devices' readings).
type place struct{ site, device string }

// deliver numbers, keeps and fans out an encoded event; at zero means now.
// share is false for events that came from another instance.
func (h *Hub) deliver(eventType string, at time.Time, raw json.RawMessage, where place, share bool) {

	// Readings are live samples: they would flush alarms and tickets out of
	// the replay ring, so they are neither numbered nor kept. They carry
	// the number of the last event, which keeps ?since= exact.
	transient := eventType == EventReading
	// What clients that may not read the reporters' phones get instead
	// (phones.go), worked out before the lock.
	var assignee string
	var phoneless json.RawMessage
	if !transient {
		assignee, phoneless = eventPhones(raw)
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	if !transient {
		h.seq++
	}
	if at.IsZero() {
		at = h.cfg.Now()
	}
	msg, err := json.Marshal(Message{Seq: h.seq, Epoch: h.cfg.Epoch, Type: eventType, Time: at.UTC(), Data: raw})
	if err != nil { // cannot happen: raw is valid JSON
		h.log.Error("event not sent", "type", eventType, "err", err)
		return
	}
	ev := storedEvent{seq: h.seq, typ: eventType, site: where.site, device: where.device, msg: msg}
	if phoneless != nil {
		ev.assignee = assignee
		if ev.hidden, err = json.Marshal(Message{Seq: h.seq, Epoch: h.cfg.Epoch, Type: eventType, Time: at.UTC(), Data: phoneless}); err != nil {
			h.log.Error("event not sent", "type", eventType, "err", err)
			return
		}
	}
	if !transient {
		h.store(ev)
		if share && h.share != nil {
			h.share(eventType, at, raw)
		}
	}
	var full, hidden *wireMsg
	now := time.Now()
	for c := range h.clients {
		if !c.wants(ev) {
			continue
		}
		slot, body := &full, msg
		if ev.hidden != nil && !c.seesPhones(ev.assignee) {
			slot, body = &hidden, ev.hidden
		}
		if *slot == nil {
			*slot = &wireMsg{body: body}
		}
		w := *slot
		if !c.batch && w.pm == nil {
			if w.pm, err = websocket.NewPreparedMessage(websocket.TextMessage, body); err != nil {
				h.log.Error("event not sent", "type", eventType, "err", err)
				return
			}
		}
		var device string
		if transient {
			device = where.device
		}
		switch c.push(w, device, now, h.cfg.StallTimeout, h.cfg.SendQueue) {
		case pushStalled:
			h.dropLocked(c, "stalled: took nothing for "+h.cfg.StallTimeout.String())
		case pushFull:
			h.dropLocked(c, "send queue full")
		}
	}
}

// store puts ev in the replay ring, evicting the oldest when full.
func (h *Hub) store(ev storedEvent) {
	size := len(h.ring)
	if h.n < size {
		h.ring[(h.head+h.n)%size] = ev
		h.n++
		return
	}
	h.ring[h.head] = ev
	h.head = (h.head + 1) % size
}

// missedSince returns the stored events after since, and false when some
// of them are no longer stored, or since is from another life of the hub
// (another epoch, or none named). Called with mu held.
func (h *Hub) missedSince(since uint64, epoch string, c *client) ([][]byte, bool) {
	if epoch != h.cfg.Epoch || since > h.seq {
		return nil, false
	}
	oldest := h.seq + 1
	if h.n > 0 {
		oldest = h.ring[h.head].seq
	}
	if since+1 < oldest {
		return nil, false
	}
	var out [][]byte
	for i := 0; i < h.n; i++ {
		ev := h.ring[(h.head+i)%len(h.ring)]
		if ev.seq > since && c.wants(ev) {
			if ev.hidden != nil && !c.seesPhones(ev.assignee) {
				out = append(out, ev.hidden)
			} else {
				out = append(out, ev.msg)
			}
		}
	}
	return out, true
}

// attach registers a new connection. With since set, from this hub's
// epoch, and the missed events still stored, it returns them to be sent
// first; otherwise it says a snapshot is due and the sequence number it
// must carry.
func (h *Hub) attach(conn *websocket.Conn, since *uint64, epoch string, batch bool, p principal) (c *client, replay [][]byte, snapSeq uint64, needSnapshot bool, ok bool) {
	c = newClient(h, conn)
	c.scope, c.who, c.viewer, c.batch = p.Sites, p.identity(), p, batch
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, 0, false, false
	}
	h.clients[c] = struct{}{}
	if since != nil {
		if replay, ok := h.missedSince(*since, epoch, c); ok {
			return c, replay, 0, false, true
		}
	}
	return c, nil, h.seq, true, true
}

// remove detaches a client whose connection ended.
func (h *Hub) remove(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.detachLocked(c)
}

func (h *Hub) detachLocked(c *client) {
	if c.gone {
		return
	}
	c.gone = true
	delete(h.clients, c)
	close(c.done)
}

// dropLocked cuts off a client that does not keep up. Closing the socket
// also frees its writer if it is stuck in a write.
func (h *Hub) dropLocked(c *client, why string) {
	h.detachLocked(c)
	_ = c.conn.Close()
	h.dropped.Inc()
	h.log.Warn("websocket client dropped", "remote", c.conn.RemoteAddr().String(), "reason", why)
}

// subscribe replaces a client's filters.
func (h *Hub) subscribe(c *client, sites, readings []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.sites = toSet(sites)
	c.readings = toSet(readings)
}

// closeRevoked ends the connections opened with a token whose holder,
// role or sites are no longer among valid (identities), and tells how
// many.
func (h *Hub) closeRevoked(valid map[string]bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for c := range h.clients {
		if !valid[c.who] {
			h.detachLocked(c)
			n++
		}
	}
	return n
}

// closeAll ends every connection and refuses new ones.
func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for c := range h.clients {
		h.detachLocked(c)
	}
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

func (h *Hub) envelope(seq uint64, typ string, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Message{Seq: seq, Epoch: h.cfg.Epoch, Type: typ, Time: h.cfg.Now().UTC(), Data: raw})
}

func toSet(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

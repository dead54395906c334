package mqtt

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/internal/ratelog"
)

// BrokerConfig configures the embedded MQTT broker.
type BrokerConfig struct {
	Listen string // default "127.0.0.1:1883"; port 0 picks a free one
	// Users are the clients' credentials and rights (see User).
	Users []User
	// Username and Password are one credential shared by every device
	// (it may publish for any device; no admin rights). Prefer Users.
	Username string
	Password string
	// Anonymous lets clients in without credentials, with the rights of
	// the shared credential (caretaker demo only; logged as a warning).
	Anonymous bool
	// Devices, if set, pins a device's topics to its registered site.
	Devices DeviceSites
	// MaxPacketSize caps one MQTT packet in bytes (default 65536): a
	// larger one disconnects its client before it is read.
	MaxPacketSize int
	// MaxRetained caps the retained messages held (default 10000), and
	// MaxRetainedBytes one retained payload (default 1024).
	MaxRetained      int
	MaxRetainedBytes int
	// CertFile and KeyFile, both set, make the listener TLS.
	CertFile, KeyFile string
	// MaxInFlight caps the QoS 1 messages taken but not yet acknowledged
	// (waiting for the store); default 1000. Past it the connections'
	// read loops wait.
	MaxInFlight int
	Logger      *slog.Logger
	Now         func() time.Time // stamps each message as received; default time.Now
	// Registerer, if set, gets caretaker_mqtt_refused_total,
	// caretaker_mqtt_inflight_messages and caretaker_mqtt_inflight_limit.
	Registerer prometheus.Registerer
}

// Defaults of the embedded broker's bounds.
const (
	DefaultMaxPacketSize    = 64 << 10
	DefaultMaxRetained      = 10000
	DefaultMaxRetainedBytes = 1024
)

func (c BrokerConfig) withDefaults() BrokerConfig {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:1883"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 1000
	}
	if c.MaxPacketSize <= 0 {
		c.MaxPacketSize = DefaultMaxPacketSize
	}
	if c.MaxRetained <= 0 {
		c.MaxRetained = DefaultMaxRetained
	}
	if c.MaxRetainedBytes <= 0 {
		c.MaxRetainedBytes = DefaultMaxRetainedBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Broker is an MQTT broker inside caretaker: devices connect to it, and
// what they publish on device topics (their will messages included) goes
// to the Submitter (the pipeline) in-process through a broker hook. A QoS 1
// or 2 message is acknowledged only once what it carried is safe
// (ingest.Message.Done), as with Gateway. Other MQTT clients may subscribe to it as to any broker.
type Broker struct {
	cfg     BrokerConfig
	sub     Submitter
	log     *slog.Logger
	ready   chan struct{}
	refused *prometheus.CounterVec

	mu     sync.Mutex
	server *mochi.Server
	addr   string
}

// NewBroker prepares the broker; Run starts it.
func NewBroker(cfg BrokerConfig, sub Submitter) *Broker {
	cfg = cfg.withDefaults()
	b := &Broker{cfg: cfg, sub: sub, log: cfg.Logger.With("component", "mqtt-broker"), ready: make(chan struct{}), refused: newRefusedCounter()}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(b.refused); err != nil {
			b.log.Warn("registering mqtt broker metrics", "err", err)
		}
	}
	return b
}

// newAccess builds the access hook of the configured credentials.
func (b *Broker) newAccess() (*access, error) {
	h := &access{users: make(map[string]*account, len(b.cfg.Users)+1), sites: b.cfg.Devices,
		maxRetained: b.cfg.MaxRetained, maxRetainedBytes: b.cfg.MaxRetainedBytes, refused: b.refused,
		warn: ratelog.New(b.log, refusalLogInterval, time.Now)}
	for i, u := range b.cfg.Users {
		hash, err := parseHash(u.PasswordHash)
		if err != nil {
			return nil, fmt.Errorf("users[%d].password_hash: %w", i, err)
		}
		a := &account{name: u.Username, hash: hash, admin: u.Admin, devices: map[string]bool{}}
		ids := u.Devices
		if len(ids) == 0 {
			ids = []string{u.Username}
		}
		for _, id := range ids {
			a.devices[id] = true
		}
		h.users[u.Username] = a
	}
	if b.cfg.Username != "" {
		h.users[b.cfg.Username] = &account{name: b.cfg.Username, plain: []byte(b.cfg.Password)}
	}
	if b.cfg.Anonymous {
		h.anonymous = &account{}
	}
	return h, nil
}

// Ready is closed once the broker listens.
func (b *Broker) Ready() <-chan struct{} { return b.ready }

// Addr is the address the broker listens on, known once Ready is closed.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// Run serves until ctx ends, then closes the broker and returns nil.
func (b *Broker) Run(ctx context.Context) error {
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = uint32(b.cfg.MaxPacketSize)
	server := mochi.New(&mochi.Options{InlineClient: true, Logger: b.log, Capabilities: caps})
	acc, err := b.newAccess()
	if err != nil {
		return fmt.Errorf("mqtt broker: %w", err)
	}
	acc.server = server
	if err := server.AddHook(acc, nil); err != nil {
		return fmt.Errorf("mqtt broker access hook: %w", err)
	}
	// Messages the ingest hook takes over reach the subscribers through a
	// client of its own, which the hook lets pass.
	fwd := server.NewClient(nil, mochi.LocalListener, "caretaker-forward", true)
	slots := make(chan struct{}, b.cfg.MaxInFlight)
	registerInFlight(b.cfg.Registerer, slots)
	hook := &brokerIngest{ctx: ctx, sub: b.sub, now: b.cfg.Now, slots: slots,
		forward: func(pk packets.Packet) error {
			if !pk.FixedHeader.Retain {
				if subs := server.Topics.Subscribers(pk.TopicName); len(subs.Subscriptions)+len(subs.Shared)+len(subs.InlineSubscriptions) == 0 {
					return nil // nobody to forward to
				}
			}
			return server.InjectPacket(fwd, pk)
		}}
	if err := server.AddHook(hook, nil); err != nil {
		return fmt.Errorf("mqtt broker ingest hook: %w", err)
	}
	lc := listeners.Config{Type: listeners.TypeTCP, ID: "devices", Address: b.cfg.Listen}
	if b.cfg.CertFile != "" || b.cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(b.cfg.CertFile, b.cfg.KeyFile)
		if err != nil {
			return fmt.Errorf("mqtt broker tls: %w", err)
		}
		lc.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	tcp := listeners.NewTCP(lc)
	if err := server.AddListener(tcp); err != nil {
		return fmt.Errorf("mqtt broker listen on %s: %w", b.cfg.Listen, err)
	}
	if err := server.Serve(); err != nil {
		return fmt.Errorf("mqtt broker serve: %w", err)
	}
	b.mu.Lock()
	b.server = server
	b.addr = tcp.Address()
	b.mu.Unlock()
	close(b.ready)
	b.log.Info("embedded mqtt broker listening", "addr", tcp.Address(), "tls", lc.TLSConfig != nil,
		"users", len(b.cfg.Users), "anonymous", b.cfg.Anonymous, "max_packet_size", b.cfg.MaxPacketSize)
	if b.cfg.Anonymous {
		b.log.Warn("the embedded mqtt broker lets clients in without credentials (demo only): any client may publish for any device")
	}
	if b.cfg.Username != "" {
		b.log.Warn("mqtt.username is one credential shared by every device: any holder may publish for any device; give devices their own under mqtt.users")
	}

	<-ctx.Done()
	b.mu.Lock()
	b.server = nil
	b.mu.Unlock()
	if err := server.Close(); err != nil {
		return fmt.Errorf("mqtt broker close: %w", err)
	}
	return nil
}

// Publish sends a message from caretaker itself to the broker's
// subscribers (caretaker/events/...).
func (b *Broker) Publish(ctx context.Context, topic string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mqtt broker publish %s: %w", topic, err)
	}
	b.mu.Lock()
	server := b.server
	b.mu.Unlock()
	if server == nil {
		return errors.New("mqtt broker publish: broker not running")
	}
	if err := server.Publish(topic, payload, false, 1); err != nil {
		return fmt.Errorf("mqtt broker publish %s: %w", topic, err)
	}
	return nil
}

// brokerIngest hands device messages to the pipeline. OnPublish runs in
// the client's read loop before the broker acknowledges, so how a message
// is acknowledged depends on its QoS:
//
//   - QoS 1: the hook takes the message over from the broker (it returns
//     ErrRejectPacket, so mochi neither acknowledges nor distributes it),
//     hands it to the pipeline with a Done that writes the PUBACK, and
//     forwards it to the broker's subscribers through a client of its own.
//     The read loop goes on with the connection's next message, so many
//     messages of one connection wait for the store together and one
//     commit acknowledges them all; at most MaxInFlight wait, then the
//     read loops wait for a slot (backpressure, as with Gateway).
//   - QoS 2: the hook waits for Done before it returns, so mochi sends
//     PUBREC only once the message is durable (slower: one message per
//     connection per store commit; devices rarely use QoS 2).
//   - QoS 0: handed on, nothing to acknowledge.
//
// A message whose acknowledgement never went out (a crash, a connection
// closed meanwhile) is sent again by a device that keeps its session.
// Will messages ("offline") come through OnWillSent.
type brokerIngest struct {
	mochi.HookBase
	ctx   context.Context
	sub   Submitter
	now   func() time.Time
	slots chan struct{} // one per QoS 1 message taken and not yet acknowledged
	// forward injects taken-over messages for the subscribers; nil in
	// tests without a server.
	forward func(pk packets.Packet) error
}

func (h *brokerIngest) ID() string { return "caretaker-ingest" }

func (h *brokerIngest) Provides(b byte) bool {
	return b == mochi.OnPublish || b == mochi.OnWillSent
}

func (h *brokerIngest) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || !strings.HasPrefix(pk.TopicName, "sites/") {
		return pk, nil // caretaker's own events, forwarded messages, other traffic
	}
	switch pk.FixedHeader.Qos {
	case 0:
		h.submit(pk, nil)
		return pk, nil
	case 1:
		return pk, h.takeOver(cl, pk)
	default:
		done := make(chan struct{})
		if !h.submit(pk, func() { close(done) }) {
			return pk, packets.ErrRejectPacket // no PUBREC: the device sends it again
		}
		select {
		case <-done:
			return pk, nil
		case <-h.ctx.Done():
			return pk, packets.ErrRejectPacket
		}
	}
}

// takeOver handles a QoS 1 message in place of the broker: the PUBACK goes
// out once the pipeline says the message is safe, and the broker's
// subscribers get it now, as they would have. It always returns
// ErrRejectPacket, which tells mochi to do neither.
func (h *brokerIngest) takeOver(cl *mochi.Client, pk packets.Packet) error {
	select {
	case h.slots <- struct{}{}:
	case <-h.ctx.Done():
		return packets.ErrRejectPacket // not acknowledged: sent again after the restart
	}
	id := pk.PacketID
	done := func() {
		defer func() { <-h.slots }()
		ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: id, ReasonCode: packets.CodeSuccess.Code}
		if err := cl.WritePacket(ack); err != nil && !errors.Is(err, mochi.ErrConnectionClosed) {
			h.Log.Warn("puback not sent", "client", cl.ID, "packet_id", id, "error", err)
		}
	}
	if !h.submit(pk, done) {
		<-h.slots
		return packets.ErrRejectPacket
	}
	if h.forward != nil {
		fw := pk // a copy of the struct; the forwarding reads it only
		fw.FixedHeader.Dup = false
		fw.Properties.TopicAlias, fw.Properties.TopicAliasFlag = 0, false // resolved already
		if err := h.forward(fw); err != nil {
			h.Log.Warn("device message not forwarded to subscribers", "topic", pk.TopicName, "error", err)
		}
	}
	return packets.ErrRejectPacket
}

func (h *brokerIngest) OnWillSent(cl *mochi.Client, pk packets.Packet) {
	if strings.HasPrefix(pk.TopicName, "sites/") {
		h.submit(pk, nil)
	}
}

// submit queues a device message for the pipeline and tells whether it
// was taken; done, if set, is called once it is safe (Message.Done).
func (h *brokerIngest) submit(pk packets.Packet, done func()) bool {
	m := ingest.Message{Topic: pk.TopicName, Payload: append([]byte(nil), pk.Payload...), Received: h.now(), Done: done}
	if err := h.sub.Submit(h.ctx, m); err != nil {
		if h.ctx.Err() == nil { // else shutting down: the wills of clients being closed
			h.Log.Warn("device message not taken", "topic", pk.TopicName, "error", err)
		}
		return false
	}
	return true
}

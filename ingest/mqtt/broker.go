package mqtt

import (
	"context"
	"crypto/subtle"
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
)

// BrokerConfig configures the embedded MQTT broker.
type BrokerConfig struct {
	Listen   string // default "127.0.0.1:1883"; port 0 picks a free one
	Username string // empty: anonymous clients allowed
	Password string
	// MaxInFlight caps the QoS 1 messages taken but not yet acknowledged
	// (waiting for the store); default 1000. Past it the connections'
	// read loops wait.
	MaxInFlight int
	Logger      *slog.Logger
	Now         func() time.Time // stamps each message as received; default time.Now
	// Metrics, if set, gets caretaker_mqtt_inflight_messages and
	// caretaker_mqtt_inflight_limit.
	Metrics prometheus.Registerer
}

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
	cfg   BrokerConfig
	sub   Submitter
	log   *slog.Logger
	ready chan struct{}

	mu     sync.Mutex
	server *mochi.Server
	addr   string
}

// NewBroker prepares the broker; Run starts it.
func NewBroker(cfg BrokerConfig, sub Submitter) *Broker {
	cfg = cfg.withDefaults()
	return &Broker{cfg: cfg, sub: sub, log: cfg.Logger.With("component", "mqtt-broker"), ready: make(chan struct{})}
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
	server := mochi.New(&mochi.Options{InlineClient: true, Logger: b.log})
	if err := server.AddHook(&brokerAuth{username: b.cfg.Username, password: b.cfg.Password}, nil); err != nil {
		return fmt.Errorf("mqtt broker auth hook: %w", err)
	}
	// Messages the ingest hook takes over reach the subscribers through a
	// client of its own, which the hook lets pass.
	fwd := server.NewClient(nil, mochi.LocalListener, "caretaker-forward", true)
	slots := make(chan struct{}, b.cfg.MaxInFlight)
	registerInFlight(b.cfg.Metrics, slots)
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
	tcp := listeners.NewTCP(listeners.Config{Type: listeners.TypeTCP, ID: "devices", Address: b.cfg.Listen})
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
	b.log.Info("embedded mqtt broker listening", "addr", tcp.Address(), "anonymous", b.cfg.Username == "")

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

// brokerAuth lets a client in when no username is configured, or when it
// presents the configured username and password.
type brokerAuth struct {
	mochi.HookBase
	username, password string
}

func (h *brokerAuth) ID() string { return "caretaker-auth" }

func (h *brokerAuth) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *brokerAuth) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	if h.username == "" {
		return true
	}
	userOK := subtle.ConstantTimeCompare(pk.Connect.Username, []byte(h.username)) == 1
	passOK := subtle.ConstantTimeCompare(pk.Connect.Password, []byte(h.password)) == 1
	return userOK && passOK
}

func (h *brokerAuth) OnACLCheck(cl *mochi.Client, topic string, write bool) bool { return true }

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

package ingest

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// BrokerConfig configures the embedded MQTT broker.
type BrokerConfig struct {
	Listen   string // default "127.0.0.1:1883"; port 0 picks a free one
	Username string // empty: anonymous clients allowed
	Password string
	Logger   *slog.Logger
}

func (c BrokerConfig) withDefaults() BrokerConfig {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:1883"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Broker is an MQTT broker inside caretaker: devices connect to it, and
// what they publish on device topics (their will messages included) enters
// the pipeline in-process through a broker hook. Other MQTT clients may
// subscribe to it as to any broker.
type Broker struct {
	cfg   BrokerConfig
	p     *Pipeline
	log   *slog.Logger
	ready chan struct{}

	mu     sync.Mutex
	server *mqtt.Server
	addr   string
}

// NewBroker prepares the broker; Run starts it.
func NewBroker(cfg BrokerConfig, p *Pipeline) *Broker {
	cfg = cfg.withDefaults()
	return &Broker{cfg: cfg, p: p, log: cfg.Logger.With("component", "mqtt-broker"), ready: make(chan struct{})}
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
	server := mqtt.New(&mqtt.Options{InlineClient: true, Logger: b.log})
	if err := server.AddHook(&brokerAuth{username: b.cfg.Username, password: b.cfg.Password}, nil); err != nil {
		return fmt.Errorf("mqtt broker auth hook: %w", err)
	}
	if err := server.AddHook(&brokerIngest{ctx: ctx, p: b.p}, nil); err != nil {
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
	mqtt.HookBase
	username, password string
}

func (h *brokerAuth) ID() string { return "caretaker-auth" }

func (h *brokerAuth) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *brokerAuth) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if h.username == "" {
		return true
	}
	userOK := subtle.ConstantTimeCompare(pk.Connect.Username, []byte(h.username)) == 1
	passOK := subtle.ConstantTimeCompare(pk.Connect.Password, []byte(h.password)) == 1
	return userOK && passOK
}

func (h *brokerAuth) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool { return true }

// brokerIngest hands device messages to the pipeline. OnPublish runs
// before the broker acknowledges a QoS 1 message, so the device gets its
// PUBACK once the pipeline has queued the message (not once it is
// durable, unlike MQTTGateway); a full queue slows that device down. Will
// messages ("offline") come through OnWillSent.
//
// Why not wait for durable here: mochi reads a connection's packets one
// at a time and OnPublish runs in that loop, so waiting in it for the
// store (up to the writer's 20 ms durable wait plus the write) allows one
// message per connection per flush. Measured with the benchmark's load
// (4 connections, 500 QoS 1 messages in flight each): 200 000 readings
// did not get through in 10 minutes, against about 10 s when acknowledged
// on queueing. So a SIGKILL of Caretaker with the embedded broker can lose
// what was queued or buffered for the store (the pipeline queue and at
// most flush_interval of writes); docs/operations.md says so.
type brokerIngest struct {
	mqtt.HookBase
	ctx context.Context
	p   *Pipeline
}

func (h *brokerIngest) ID() string { return "caretaker-ingest" }

func (h *brokerIngest) Provides(b byte) bool {
	return bytes.IndexByte([]byte{mqtt.OnPublish, mqtt.OnWillSent}, b) >= 0
}

func (h *brokerIngest) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h.submit(pk)
	return pk, nil
}

func (h *brokerIngest) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	h.submit(pk)
}

func (h *brokerIngest) submit(pk packets.Packet) {
	if !strings.HasPrefix(pk.TopicName, "sites/") {
		return // caretaker's own events and other traffic
	}
	m := Message{Topic: pk.TopicName, Payload: append([]byte(nil), pk.Payload...), Received: h.p.cfg.Now()}
	if err := h.p.Submit(h.ctx, m); err != nil {
		if h.ctx.Err() != nil {
			return // shutting down: the wills of clients being closed
		}
		h.Log.Warn("device message not taken", "topic", pk.TopicName, "error", err)
	}
}

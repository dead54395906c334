package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/internal/config"
	"github.com/caretaker-iot/caretaker/internal/promreg"
)

// Submitter takes raw device messages; the ingest Pipeline is one. Submit
// waits while its queue is full (backpressure) and fails once it has
// stopped taking messages or ctx ends; a message it took is settled
// through Message.Done.
type Submitter interface {
	Submit(ctx context.Context, m ingest.Message) error
}

// DeviceTopics are the subscriptions that carry device data.
var DeviceTopics = []string{
	"sites/+/devices/+/telemetry",
	"sites/+/devices/+/event",
	"sites/+/devices/+/status",
}

// SiteTopics are the device subscriptions of the given sites only.
func SiteTopics(sites []string) []string {
	var out []string
	for _, s := range sites {
		for _, t := range DeviceTopics {
			out = append(out, "sites/"+s+strings.TrimPrefix(t, "sites/+"))
		}
	}
	return out
}

// Config configures the gateway to an external broker.
type Config struct {
	Broker      string // tcp://host:1883, ssl://host:8883, ws://...
	ClientID    string // stable, so the broker keeps the session while we are away
	Username    string
	Password    string
	CAFile      string // PEM; set for TLS with a private CA
	QoS         byte   // default 0 here; the config layer defaults to 1
	SharedGroup string // set: subscribe as $share/<group>/... so instances split the load
	// Topics are the device subscriptions; default DeviceTopics. A
	// partition of a cluster subscribes to its sites' topics only
	// (SiteTopics).
	Topics []string
	// EventsOnly: no device subscription at all; the connection carries
	// caretaker's own events (Publish, Subscribe) only.
	EventsOnly     bool
	Logger         *slog.Logger
	ConnectTimeout time.Duration // first connection; default 10s
	// MaxInFlight caps the messages taken but not yet acknowledged
	// (waiting for the store); default 1000. Keep the broker's window
	// (mosquitto max_inflight_messages, EMQX mqtt.max_inflight) at least
	// this large: the broker stops sending once its window is full, and
	// the writers flush early so acknowledgements keep it moving.
	MaxInFlight int
	// OnConnection, if set, hears when the broker connection comes up
	// (subscribed) or is lost: every MQTT device goes quiet together then,
	// and the rules raise one alarm for ingest instead of one per device.
	OnConnection func(up bool, reason string)
	// MayConnect, if set, is asked before every dial, the first included;
	// an error refuses that dial (Run fails on the first, and tries the
	// others again later; see Run for what changes with it). A partition's leader asks whether it still
	// holds the lease: woken from a pause, it must not take the session
	// back from the instance that leads now.
	MayConnect func(ctx context.Context) error
	// Now stamps each message as received; default time.Now.
	Now func() time.Time
	// Metrics, if set, gets caretaker_mqtt_inflight_messages and
	// caretaker_mqtt_inflight_limit.
	Metrics prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 1000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks the configuration; the *config.FieldError names the
// field.
func (c Config) Validate() error {
	if c.Broker == "" {
		return config.Errorf("broker", "missing")
	}
	if _, err := url.Parse(c.Broker); err != nil {
		return config.Under("broker", err)
	}
	if c.QoS > 2 {
		return config.Errorf("qos", "%d is not 0, 1 or 2", c.QoS)
	}
	return nil
}

// Gateway subscribes to device topics on an external broker and hands
// every message to the Submitter (the pipeline). A QoS 1 message is acknowledged only once
// what it carried is safe: the rules have seen it and the store has made
// it durable (Message.Done), or it was rejected. At most MaxInFlight
// messages wait for that; a full queue or a slow store slows the broker
// down rather than losing data, and a crash loses nothing the broker
// does not send again.
//
// One device's messages reach the pipeline in the order the broker
// delivered them (the rules ignore a value older than the last one seen,
// so a reordered spike would be lost): paho hands messages over in order,
// one at a time, and the gateway queues each on the pipeline before it
// takes the next. That costs no goroutine or channel hop per message; the
// pipeline's queue is larger than the in-flight window, so handing over
// does not wait on the rules or the store.
type Gateway struct {
	cfg   Config
	sub   Submitter
	log   *slog.Logger
	ready chan struct{}
	once  sync.Once
	slots chan struct{} // one per message taken and not yet acknowledged

	mu     sync.Mutex
	client paho.Client

	// conn is the connection Gateway dialled itself (tcp://), if any: the
	// handler acknowledges on it directly (see handler).
	conn atomic.Pointer[bufferedConn]
}

// NewGateway prepares a gateway; Run connects it.
func NewGateway(cfg Config, sub Submitter) *Gateway {
	cfg = cfg.withDefaults()
	g := &Gateway{
		cfg:   cfg,
		sub:   sub,
		log:   cfg.Logger.With("component", "mqtt", "broker", redactURL(cfg.Broker)),
		ready: make(chan struct{}),
		slots: make(chan struct{}, cfg.MaxInFlight),
	}
	registerInFlight(cfg.Metrics, g.slots)
	return g
}

// registerInFlight exposes how much of the in-flight window is in use:
// messages taken and not yet acknowledged, and the most there may be.
// Near the limit for long, the store's acknowledgements are what holds
// ingest back.
func registerInFlight(reg prometheus.Registerer, slots chan struct{}) {
	if reg == nil {
		return
	}
	promreg.Register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "caretaker_mqtt_inflight_messages",
		Help: "MQTT messages taken and not yet acknowledged (waiting for the store to make them durable).",
	}, func() float64 { return float64(len(slots)) }))
	promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "caretaker_mqtt_inflight_limit",
		Help: "MQTT messages that may be taken and not yet acknowledged at most (mqtt max in flight).",
	})).Set(float64(cap(slots)))
}

// Ready is closed once the gateway is connected and subscribed.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// Connected tells whether the connection to the broker is up (for /readyz).
func (g *Gateway) Connected() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.client != nil && g.client.IsConnectionOpen()
}

// Run connects, subscribes and hands messages on until ctx ends; then it
// disconnects and returns nil. It fails when the first connection does not
// succeed within the connect timeout. After a loss paho dials again, and a
// QoS 1 publish made meanwhile waits in its store; with MayConnect set,
// Run dials again itself instead (paho's reconnect cannot ask first):
// after 1 s, backing off to 30 s while connections keep dropping at once,
// each time only if MayConnect allows it, and a publish made while the
// connection is down fails at once.
func (g *Gateway) Run(ctx context.Context) error {
	if err := g.cfg.Validate(); err != nil {
		return err
	}
	lost := make(chan struct{}, 1)
	opts, err := g.options(ctx, lost)
	if err != nil {
		return err
	}
	client := paho.NewClient(opts)
	g.mu.Lock()
	g.client = client
	g.mu.Unlock()

	if err := g.connect(ctx, client); err != nil {
		client.Disconnect(0)
		return err
	}
	up, wait := time.Now(), time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			client.Disconnect(250)
			g.log.Info("mqtt disconnected")
			return nil
		case <-lost:
		}
		if g.cfg.MayConnect == nil {
			continue // paho dials again itself
		}
		// A connection that dropped right after it came up (another
		// client with our id, a broker refusing us) waits longer each
		// time, so two holders of one id do not take it in turns.
		if time.Since(up) < 3*time.Second {
			wait = min(max(2*wait, time.Second), maxRedialWait)
		} else {
			wait = time.Second
		}
		if !g.redial(ctx, client, wait) {
			continue // ctx ended
		}
		up = time.Now()
	}
}

// maxRedialWait is the longest wait between two dials.
const maxRedialWait = 30 * time.Second

// connect dials once, if MayConnect allows it, and waits for the answer.
func (g *Gateway) connect(ctx context.Context, client paho.Client) error {
	if g.cfg.MayConnect != nil {
		if err := g.cfg.MayConnect(ctx); err != nil {
			return fmt.Errorf("mqtt connect to %s not allowed: %w", redactURL(g.cfg.Broker), err)
		}
	}
	tok := client.Connect()
	if !tok.WaitTimeout(g.cfg.ConnectTimeout) {
		// paho gives up on its own after the same timeout; dialling again
		// before it has would be refused.
		select {
		case <-tok.Done():
		case <-ctx.Done():
		}
		return fmt.Errorf("mqtt connect to %s: no answer within %s", redactURL(g.cfg.Broker), g.cfg.ConnectTimeout)
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt connect to %s: %w", redactURL(g.cfg.Broker), err)
	}
	return nil
}

// redial dials after wait, and again with the wait doubled (at most
// maxRedialWait) until a dial succeeds (true) or ctx ends (false).
func (g *Gateway) redial(ctx context.Context, client paho.Client, wait time.Duration) bool {
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		err := g.connect(ctx, client)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		wait = min(2*wait, maxRedialWait)
		g.log.Warn("mqtt reconnect failed", "error", err, "next_try_in", wait)
	}
}

func (g *Gateway) options(ctx context.Context, lost chan<- struct{}) (*paho.ClientOptions, error) {
	opts := paho.NewClientOptions().
		AddBroker(g.cfg.Broker).
		SetClientID(g.cfg.ClientID).
		SetUsername(g.cfg.Username).
		SetPassword(g.cfg.Password).
		SetCleanSession(false).
		SetAutoReconnect(g.cfg.MayConnect == nil). // else Run dials again, asking first
		SetMaxReconnectInterval(maxRedialWait).
		SetConnectTimeout(g.cfg.ConnectTimeout).
		SetOrderMatters(true). // in order to handler, which only queues
		SetAutoAckDisabled(true).
		SetKeepAlive(30 * time.Second).
		SetStore(newSessionStore())
	bufferedReads(opts, g.cfg.Broker, g.conn.Store)
	if g.cfg.CAFile != "" {
		tc, err := TLSConfig(g.cfg.CAFile)
		if err != nil {
			return nil, err
		}
		opts.SetTLSConfig(tc)
	}
	handler := g.handler(ctx)
	// Messages of a resumed session may arrive before we subscribe again.
	opts.SetDefaultPublishHandler(handler)
	opts.SetOnConnectHandler(func(c paho.Client) {
		topics := g.cfg.Topics
		if len(topics) == 0 {
			topics = DeviceTopics
		}
		if g.cfg.EventsOnly {
			topics = nil
		}
		filters := make(map[string]byte, len(topics))
		for _, t := range topics {
			if g.cfg.SharedGroup != "" {
				t = "$share/" + g.cfg.SharedGroup + "/" + t
			}
			filters[t] = g.cfg.QoS
		}
		if len(filters) == 0 {
			g.log.Info("mqtt connected (events only)")
			g.once.Do(func() { close(g.ready) })
			return
		}
		// No callback: every message goes to the default handler, without
		// paho matching each topic against a route per filter.
		tok := c.SubscribeMultiple(filters, nil)
		if !tok.WaitTimeout(g.cfg.ConnectTimeout) || tok.Error() != nil {
			g.log.Error("mqtt subscribe failed", "error", tok.Error())
			return
		}
		if st, ok := tok.(*paho.SubscribeToken); ok {
			for filter, code := range st.Result() {
				if code > 2 { // 0x80: refused
					g.log.Error("mqtt subscription refused by the broker", "filter", filter, "code", code)
					return
				}
			}
		}
		g.log.Info("mqtt connected and subscribed", "qos", g.cfg.QoS, "shared_group", g.cfg.SharedGroup)
		g.once.Do(func() { close(g.ready) })
		if g.cfg.OnConnection != nil {
			g.cfg.OnConnection(true, "connected to the broker")
		}
	})
	opts.SetConnectionLostHandler(func(_ paho.Client, err error) {
		g.log.Warn("mqtt connection lost; reconnecting", "error", err)
		if g.cfg.OnConnection != nil {
			g.cfg.OnConnection(false, fmt.Sprintf("connection to the broker lost: %v", err))
		}
		select {
		case lost <- struct{}{}:
		default:
		}
	})
	return opts, nil
}

// handler takes messages from paho, one at a time in the order the broker
// delivered them, and hands each to the pipeline, which acknowledges it
// once it is safe (Message.Done). At most MaxInFlight messages wait for
// that: with the broker's window at least as large, taking a slot never
// waits; with a larger one, paho stops reading until a message is
// acknowledged, and the broker's queue holds the rest.
func (g *Gateway) handler(ctx context.Context) paho.MessageHandler {
	return func(_ paho.Client, msg paho.Message) {
		if g.sub == nil { // events only: nothing of a device is taken here
			msg.Ack()
			return
		}
		select {
		case g.slots <- struct{}{}:
		case <-ctx.Done():
			return // not acknowledged: the resumed session has it again
		}
		// A QoS 1 message that came over a connection the gateway dialled
		// is acknowledged by writing its PUBACK to that connection, not
		// through paho (a Once, two channel hops and a goroutine switch per
		// message). paho handles messages in the goroutine that reads them
		// and dials again only once it has ended, so conn is the one the
		// message came on; a PUBACK for an ended connection is dropped, as
		// paho drops it.
		done := func() {
			msg.Ack()
			<-g.slots
		}
		if bc := g.conn.Load(); bc != nil && msg.Qos() == 1 {
			id := msg.MessageID()
			done = func() {
				bc.puback(id)
				<-g.slots
			}
		}
		// paho gives every message a payload of its own: no copy.
		err := g.sub.Submit(ctx, ingest.Message{Topic: msg.Topic(), Payload: msg.Payload(), Received: g.cfg.Now(), Done: done})
		if err != nil {
			// Not acknowledged: the broker delivers it again to the
			// resumed session.
			<-g.slots
			g.log.Debug("mqtt message not taken", "topic", msg.Topic(), "error", err)
		}
	}
}

// Publish sends a message (caretaker/events/...) at the gateway's QoS and
// waits for the broker to take it or ctx to end.
func (g *Gateway) Publish(ctx context.Context, topic string, payload []byte) error {
	g.mu.Lock()
	c := g.client
	g.mu.Unlock()
	if c == nil {
		return errors.New("mqtt publish: gateway not running")
	}
	tok := c.Publish(topic, g.cfg.QoS, false, payload)
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt publish %s: %w", topic, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqtt publish %s: %w", topic, ctx.Err())
	}
}

// TLSConfig trusts the CA certificates of a PEM file (and only them), TLS
// 1.2 or later.
func TLSConfig(caFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("mqtt.tls.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("mqtt.tls.ca_file: %s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// redactURL drops a password from a broker URL so it can be logged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable broker url)"
	}
	return u.Redacted()
}

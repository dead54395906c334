package dashboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/internal/ratelog"
)

// EventBus carries events between caretaker instances: the MQTT broker,
// through the ingest gateway or the embedded broker. Subscribe may wait
// until the bus is connected; handle is called for every message on a
// topic matching filter and must not block for long.
type EventBus interface {
	Publish(ctx context.Context, topic string, payload []byte) error
	Subscribe(ctx context.Context, filter string, handle func(topic string, payload []byte)) error
}

// EventTopicPrefix is where caretaker publishes its events
// (contract.md, MQTT): caretaker/events/{type}.
const EventTopicPrefix = "caretaker/events/"

// BusMessage is an event on the bus: the WebSocket message (contract.md)
// plus the instance that sent it, so an instance can skip its own; and,
// with a cluster key, when it was sent, a nonce and the signature
// (relay_sign.go), so an instance shows only what another one signed.
type BusMessage struct {
	Message
	Instance string `json:"instance"`
	Sent     int64  `json:"sent,omitempty"` // unix ms
	Nonce    string `json:"nonce,omitempty"`
	Sig      string `json:"sig,omitempty"` // hex HMAC-SHA256
}

// RelayConfig configures a Relay; zero values take the defaults.
type RelayConfig struct {
	Hub      *Hub
	Bus      EventBus
	Instance string // unique per process; default: random
	// Receive shows the other instances' events here too. Set it when the
	// instances split the device traffic (MQTT shared subscriptions);
	// when each instance hears every device it raises every alarm itself,
	// and relayed copies would show twice.
	Receive bool
	// Key is the cluster key (mqtt.cluster_key): every event published
	// is signed with it, and with Receive only events that verify under
	// it are shown; the rest are dropped and counted. Required with
	// Receive. Never logged.
	Key []byte
	// MaxAge is how far a relayed event's send time may be from now
	// (either way: clocks differ); default 2 minutes.
	MaxAge     time.Duration
	Now        func() time.Time // default time.Now
	Queue      int              // events waiting to be published; default 1024, more are dropped and counted
	Logger     *slog.Logger
	Registerer prometheus.Registerer // optional
}

// Relay lets several caretaker instances behind a load balancer show the
// same events: it publishes every numbered event of its hub to
// caretaker/events/{type}, and feeds the events of the other instances
// from there into its hub, which numbers them in its own sequence. Live
// readings stay local: devices publish those themselves.
type Relay struct {
	cfg      RelayConfig
	log      *slog.Logger
	out      chan BusMessage
	dropped  prometheus.Counter
	relayed  prometheus.Counter
	rejected *prometheus.CounterVec
	warn     *ratelog.Logger

	mu   sync.Mutex // receive may be called from several goroutines
	seen nonces
}

// NewRelay attaches a relay to the hub; Run moves the events.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.Hub == nil || cfg.Bus == nil {
		return nil, fmt.Errorf("relay: hub and bus are required")
	}
	if cfg.Receive && len(cfg.Key) == 0 {
		return nil, fmt.Errorf("relay: receiving the other instances' events needs a cluster key to check them")
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Instance == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		cfg.Instance = hex.EncodeToString(b)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &Relay{
		cfg: cfg,
		log: cfg.Logger.With("component", "event-relay", "instance", cfg.Instance),
		out: make(chan BusMessage, cfg.Queue),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caretaker_events_relay_dropped_total",
			Help: "Events not published to caretaker/events/ because the queue was full.",
		}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caretaker_events_relay_received_total",
			Help: "Events of other caretaker instances shown on this one's WebSocket.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caretaker_events_relay_rejected_total",
			Help: "Messages on caretaker/events/ not shown, by reason: signature, stale, replay, malformed.",
		}, []string{"reason"}),
		seen: nonces{seen: make(map[string]time.Time), max: 100000},
	}
	r.warn = ratelog.New(r.log, time.Minute, cfg.Now)
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{r.dropped, r.relayed, r.rejected} {
			if err := cfg.Registerer.Register(c); err != nil {
				r.log.Warn("registering relay metrics", "err", err)
			}
		}
	}
	h := cfg.Hub
	h.mu.Lock()
	h.share = r.enqueue
	h.mu.Unlock()
	return r, nil
}

// enqueue is called by the hub with its mutex held: it never blocks.
func (r *Relay) enqueue(typ string, at time.Time, data json.RawMessage) {
	select {
	case r.out <- BusMessage{Message: Message{Type: typ, Time: at.UTC(), Data: data}, Instance: r.cfg.Instance}:
	default:
		r.dropped.Inc()
	}
}

// Run subscribes to the other instances' events (with Receive) and
// publishes this one's until ctx ends. A failed subscription is logged,
// not fatal: the local screens still work.
func (r *Relay) Run(ctx context.Context) error {
	if r.cfg.Receive {
		if err := r.cfg.Bus.Subscribe(ctx, EventTopicPrefix+"#", r.receive); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.log.Error("events of other instances will not be shown: subscribe failed", "err", err)
		}
	}
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-r.out:
			var payload []byte
			var err error
			if len(r.cfg.Key) > 0 {
				payload, err = sign(r.cfg.Key, EventTopicPrefix+m.Type, m, r.cfg.Now())
			} else {
				payload, err = json.Marshal(m)
			}
			if err != nil { // cannot happen: data is valid JSON
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = r.cfg.Bus.Publish(pctx, EventTopicPrefix+m.Type, payload)
			cancel()
			switch {
			case err != nil && ctx.Err() != nil:
				return nil
			case err != nil && !failing:
				failing = true
				r.log.Warn("publishing events failed; other instances miss them until it works again", "err", err)
			case err == nil && failing:
				failing = false
				r.log.Info("publishing events works again")
			}
		}
	}
}

// receive feeds another instance's event into the hub, once it verified
// under the cluster key, was sent within MaxAge, and was not seen before.
func (r *Relay) receive(topic string, payload []byte) {
	var m BusMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		r.reject(RelayRejectedMalformed, topic, "not JSON")
		return
	}
	if m.Instance == r.cfg.Instance {
		return // our own, back from the broker
	}
	if m.Instance == "" || m.Type == "" || m.Type == EventSnapshot || m.Type == EventReading || len(m.Data) == 0 ||
		!strings.HasSuffix(topic, "/"+m.Type) {
		r.reject(RelayRejectedMalformed, topic, "not another instance's event")
		return
	}
	if !verified(r.cfg.Key, topic, m) {
		r.reject(RelayRejectedSignature, topic, "signature does not verify under the cluster key")
		return
	}
	now := r.cfg.Now()
	sent := time.UnixMilli(m.Sent)
	if d := now.Sub(sent); d > r.cfg.MaxAge || d < -r.cfg.MaxAge {
		r.reject(RelayRejectedStale, topic, "sent too long ago (or the clocks differ)")
		return
	}
	r.mu.Lock()
	fresh := r.seen.add(m.Nonce, now, sent.Add(2*r.cfg.MaxAge))
	r.mu.Unlock()
	if !fresh {
		r.reject(RelayRejectedReplay, topic, "seen already")
		return
	}
	// Another instance's event is only JSON here: where it happened is read
	// from it (data that is not an object has no site).
	var where struct {
		Site   string `json:"site"`
		Device string `json:"device_id"`
	}
	_ = json.Unmarshal(m.Data, &where)
	r.relayed.Inc()
	r.cfg.Hub.deliver(m.Type, m.Time, m.Data, place{where.Site, where.Device}, false)
}

// reject counts a message on the bus that is not shown, and logs it at
// most once per reason per minute.
func (r *Relay) reject(reason, topic, why string) {
	r.rejected.WithLabelValues(reason).Inc()
	r.warn.Warn(reason, "event on the bus dropped", "reason", reason, "topic", topic, "why", why)
}

package firmwaresim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/devices"
)

// LoadConfig is a benchmark load: Devices simulated devices each sending
// Rate telemetry messages per second for Duration, over Connections MQTT
// connections (0: one per device, as real devices do; fewer lets one
// machine simulate a large estate, as a gateway concentrator would).
type LoadConfig struct {
	Broker      string
	Username    string
	Password    string
	Devices     int
	Rate        float64 // messages per second per device
	Duration    time.Duration
	QoS         byte
	Connections int
	MaxInFlight int // QoS 1 messages awaiting PUBACK per connection; default 1000
	Seed        uint64
	Logger      *slog.Logger
}

func (c *LoadConfig) defaults() {
	if c.Connections <= 0 || c.Connections > c.Devices {
		c.Connections = c.Devices
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate names the field at fault.
func (c LoadConfig) Validate() error {
	switch {
	case c.Broker == "":
		return errors.New("broker: missing")
	case c.Devices <= 0:
		return fmt.Errorf("devices: %d, want at least 1", c.Devices)
	case c.Rate <= 0:
		return fmt.Errorf("rate: %g, want above 0", c.Rate)
	case c.Duration <= 0:
		return fmt.Errorf("duration: %s, want above 0", c.Duration)
	case c.QoS > 1:
		return fmt.Errorf("qos: %d, want 0 or 1", c.QoS)
	}
	return nil
}

// LoadResult is what a load run achieved. For QoS 1, Rate counts messages
// the broker acknowledged; for QoS 0, messages written to the socket.
type LoadResult struct {
	Devices     int
	Connections int
	QoS         byte
	Target      float64       // messages per second asked for
	Sent        int64         // messages handed to the client
	Acked       int64         // QoS 1: PUBACKs received
	Failed      int64         // publishes that returned an error
	Bytes       int64         // payload bytes sent
	Elapsed     time.Duration // from the first publish to the last acknowledgement
	Rate        float64       // messages per second achieved
}

func (r LoadResult) String() string {
	return fmt.Sprintf("%d devices over %d connections, QoS %d: target %.0f msg/s, achieved %.0f msg/s (%d sent, %d acked, %d failed, %.1f MB in %s)",
		r.Devices, r.Connections, r.QoS, r.Target, r.Rate, r.Sent, r.Acked, r.Failed, float64(r.Bytes)/1e6, r.Elapsed.Round(time.Millisecond))
}

// Load publishes realistic telemetry (the same signal models as Run) at a
// fixed rate and reports what the broker took. It paces to the target and
// never sends more; when the broker or the network cannot keep up, the
// achieved rate falls below the target.
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	if err := cfg.Validate(); err != nil {
		return LoadResult{}, err
	}
	cfg.defaults()
	estate := GenerateEstate(cfg.Devices)
	groups := make([][]devices.Device, cfg.Connections)
	for i, d := range estate {
		groups[i%cfg.Connections] = append(groups[i%cfg.Connections], d)
	}
	clients := make([]mqtt.Client, len(groups))
	for i := range groups {
		c, err := loadClient(ctx, cfg, i)
		if err != nil {
			for _, c := range clients[:i] {
				c.Disconnect(0)
			}
			return LoadResult{}, err
		}
		clients[i] = c
	}
	defer func() {
		for _, c := range clients {
			c.Disconnect(250)
		}
	}()

	res := LoadResult{Devices: cfg.Devices, Connections: cfg.Connections, QoS: cfg.QoS, Target: float64(cfg.Devices) * cfg.Rate}
	var sent, acked, failed, nbytes atomic.Int64
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loadConnection(runCtx, cfg, clients[i], g, start, &sent, &acked, &failed, &nbytes)
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Sent, res.Acked, res.Failed, res.Bytes = sent.Load(), acked.Load(), failed.Load(), nbytes.Load()
	done := res.Sent
	if cfg.QoS == 1 {
		done = res.Acked
	}
	res.Rate = float64(done) / res.Elapsed.Seconds()
	return res, nil
}

func loadClient(ctx context.Context, cfg LoadConfig, i int) (mqtt.Client, error) {
	opts := mqtt.NewClientOptions().AddBroker(cfg.Broker).
		SetClientID(fmt.Sprintf("sim-load-%d-%d", cfg.Seed, i)).
		SetUsername(cfg.Username).SetPassword(cfg.Password).
		SetCleanSession(true).SetAutoReconnect(false).
		SetWriteTimeout(10 * time.Second)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-tok.Done():
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("load connection %d: connect %s: %w", i, cfg.Broker, err)
	}
	return c, nil
}

// loadConnection paces one connection's devices: by time t it has sent
// floor(t × rate) messages, round-robin over its devices. QoS 1 tokens are
// awaited in order by a second goroutine, at most MaxInFlight at a time.
func loadConnection(ctx context.Context, cfg LoadConfig, c mqtt.Client, group []devices.Device, start time.Time,
	sent, acked, failed, nbytes *atomic.Int64) {
	sigs := make([]*Device, len(group))
	topics := make([]string, len(group))
	for i, d := range group {
		sigs[i] = NewDevice(d, Scenario{}, cfg.Seed)
		topics[i] = Topic(d, "telemetry")
	}
	rate := float64(len(group)) * cfg.Rate
	pending := make(chan mqtt.Token, cfg.MaxInFlight)
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		for tok := range pending {
			if !tok.WaitTimeout(30 * time.Second) {
				failed.Add(1)
				continue
			}
			if tok.Error() != nil {
				failed.Add(1)
				continue
			}
			acked.Add(1)
		}
	}()
	defer func() { close(pending); <-waited }()

	var n int64
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		el := time.Since(start)
		due := int64(el.Seconds() * rate)
		for ; n < due && ctx.Err() == nil; n++ {
			i := int(n % int64(len(group)))
			p := Telemetry(start.Add(el), sigs[i].Sample(el))
			tok := c.Publish(topics[i], cfg.QoS, false, p)
			sent.Add(1)
			nbytes.Add(int64(len(p)))
			if cfg.QoS == 0 {
				if tok.Error() != nil {
					failed.Add(1)
				}
				continue
			}
			pending <- tok // blocks while MaxInFlight await their PUBACK
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

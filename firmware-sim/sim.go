package firmwaresim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/devices"
)

// Config describes one simulator run.
type Config struct {
	Broker   string // tcp://127.0.0.1:1883
	Username string
	Password string
	Devices  []devices.Device
	Scenario Scenario
	Interval time.Duration // between telemetry messages of one device; default 5s
	Seed     uint64
	QoS      byte
	Logger   *slog.Logger

	// Devices with a modbus address are served by Modbus TCP gateways
	// (one listener per address) through these register maps; default
	// the built-in library, devices.BuiltinModels.
	Models       map[string]devices.Model
	Faults       MQTTFaults   // misbehaviour of the MQTT devices
	ModbusFaults ModbusFaults // misbehaviour of the Modbus gateways
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.QoS > 1 {
		c.QoS = 1
	}
}

// Sim runs the simulated devices.
type Sim struct {
	cfg    Config
	mqtt   []devices.Device
	modbus *ModbusServer // nil without Modbus devices
	plant  *plant        // what the actuators set
}

// New checks the configuration and builds a simulator.
func New(cfg Config) (*Sim, error) {
	cfg.defaults()
	if err := cfg.Scenario.Validate(cfg.Devices); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", cfg.Scenario.Name, err)
	}
	if err := cfg.Faults.Validate(); err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg, plant: newPlant()}
	hasModbus := false
	for _, d := range cfg.Devices {
		if d.Modbus != nil {
			hasModbus = true
		} else {
			s.mqtt = append(s.mqtt, d)
		}
	}
	if len(s.mqtt) > 0 && cfg.Broker == "" {
		return nil, errors.New("broker: missing")
	}
	if hasModbus {
		mb, err := NewModbusServer(ModbusConfig{Devices: cfg.Devices, Models: cfg.Models, Scenario: cfg.Scenario,
			Seed: cfg.Seed, Interval: min(cfg.Interval, time.Second), Faults: cfg.ModbusFaults,
			Logger: cfg.Logger.With("part", "modbus"), plant: s.plant})
		if err != nil {
			return nil, err
		}
		s.modbus = mb
	}
	return s, nil
}

// ModbusAddrs lists the Modbus gateway addresses the run serves.
func (s *Sim) ModbusAddrs() []string {
	if s.modbus == nil {
		return nil
	}
	return s.modbus.Addrs()
}

// Device is one simulated device's signal: its model and its share of the
// scenario, with its own seeded random source.
type Device struct {
	dev      devices.Device
	model    model
	rng      *rand.Rand
	scenario Scenario
}

// NewDevice builds the signal of one device. The same seed gives the same
// values.
func NewDevice(d devices.Device, sc Scenario, seed uint64) *Device {
	rng := rand.New(rand.NewPCG(seed, hashID(d.ID)))
	return &Device{dev: d, model: newModel(d, rng), rng: rng, scenario: sc}
}

// Sample returns the device's values at a time since the start.
func (d *Device) Sample(elapsed time.Duration) map[string]devices.Value {
	if d.model == nil {
		return nil
	}
	vals := d.model.sample(elapsed, d.rng, d.scenario.conditionsAt(d.dev.ID, elapsed))
	d.scenario.apply(d.dev, elapsed, vals)
	return vals
}

func hashID(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// Telemetry encodes values as the contract's telemetry payload.
func Telemetry(ts time.Time, vals map[string]devices.Value) []byte {
	m := make(map[string]any, len(vals))
	for k, v := range vals {
		if v.IsFlag {
			m[k] = v.Flag
		} else {
			m[k] = v.Number
		}
	}
	b, _ := json.Marshal(struct {
		TS      int64          `json:"ts"`
		Metrics map[string]any `json:"metrics"`
	}{ts.UnixMilli(), m})
	return b
}

// EventPayload encodes a device event as the contract's event payload.
func EventPayload(ts time.Time, name string, active bool) []byte {
	b, _ := json.Marshal(struct {
		TS     int64  `json:"ts"`
		Event  string `json:"event"`
		Active bool   `json:"active"`
	}{ts.UnixMilli(), name, active})
	return b
}

// Topic is the contract topic of a device's channel.
func Topic(d devices.Device, channel string) string {
	return fmt.Sprintf("sites/%s/devices/%s/%s", d.Site, d.ID, channel)
}

// Run connects every MQTT device and publishes, and serves the Modbus
// devices, until ctx ends.
func (s *Sim) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(s.mqtt)+1)
	start := time.Now()
	if s.modbus != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.modbus.Run(ctx); err != nil {
				errs <- err
			}
		}()
	}
	for i, d := range s.mqtt {
		wg.Add(1)
		// Spread the devices over the interval so the broker sees a
		// steady stream, not a burst every tick.
		offset := s.cfg.Interval * time.Duration(i) / time.Duration(max(1, len(s.mqtt)))
		go func() {
			defer wg.Done()
			if err := s.runDevice(ctx, d, start, offset); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	return errors.Join(collect(errs)...)
}

func collect(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

func (s *Sim) runDevice(ctx context.Context, d devices.Device, start time.Time, offset time.Duration) error {
	log := s.cfg.Logger.With("device", d.ID)
	opts := mqtt.NewClientOptions().
		AddBroker(s.cfg.Broker).
		SetClientID("sim-"+d.ID).
		SetUsername(s.cfg.Username).
		SetPassword(s.cfg.Password).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetWill(Topic(d, "status"), "offline", 1, true)
	c := mqtt.NewClient(opts)
	connect := func() error {
		tok := c.Connect()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tok.Done():
		}
		if err := tok.Error(); err != nil {
			return fmt.Errorf("device %s: connect %s: %w", d.ID, s.cfg.Broker, err)
		}
		return nil
	}
	if err := connect(); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer func() {
		if c.IsConnected() {
			c.Disconnect(250)
		}
	}()
	publish := func(topic string, retained bool, payload []byte) {
		t := c.Publish(topic, s.cfg.QoS, retained, payload)
		select {
		case <-t.Done():
			if err := t.Error(); err != nil {
				log.Warn("publish failed", "topic", topic, "err", err)
			}
		case <-ctx.Done():
		}
	}
	publish(Topic(d, "status"), true, []byte("online"))
	if d.Kind == devices.KindActuator {
		return s.runActuator(ctx, c, d, publish)
	}

	sig := NewDevice(d, s.cfg.Scenario, s.cfg.Seed)
	var faults *faulter
	if s.cfg.Faults.Any() {
		faults = newFaulter(s.cfg.Faults, d.ID)
	}
	timer := time.NewTimer(offset)
	defer timer.Stop()
	last := time.Duration(-1)
	for {
		select {
		case <-ctx.Done():
			publish(Topic(d, "status"), true, []byte("offline"))
			return nil
		case <-timer.C:
		}
		now := time.Now()
		el := now.Sub(start)
		for _, ev := range s.cfg.Scenario.eventsAt(d.ID, last+1, el+1) {
			publish(Topic(d, "event"), false, EventPayload(now, ev.name, ev.active))
		}
		last = el
		vals := sig.Sample(el)
		s.plant.apply(d, vals)
		msgs, drop := faults.next(now, vals)
		for _, m := range msgs {
			publish(Topic(d, "telemetry"), false, m)
		}
		if drop {
			// A clean DISCONNECT: the broker does not publish the will,
			// so the device just goes quiet, as when firmware reboots.
			log.Debug("fault: disconnecting without will")
			c.Disconnect(0)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(3 * s.cfg.Interval):
			}
			if err := connect(); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			publish(Topic(d, "status"), true, []byte("online"))
		}
		timer.Reset(s.cfg.Interval)
	}
}

// runActuator is a valve or fan: it takes the commands on its cmd topic
// (the access rules let a device subscribe to its own only), reports its
// state at once after each and every interval otherwise.
func (s *Sim) runActuator(ctx context.Context, c mqtt.Client, d devices.Device, publish func(string, bool, []byte)) error {
	changed := make(chan struct{}, 1)
	tok := c.Subscribe(Topic(d, "cmd"), 1, func(_ mqtt.Client, m mqtt.Message) {
		if s.plant.command(d, m.Payload()) {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	select {
	case <-ctx.Done():
		return nil
	case <-tok.Done():
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("device %s: subscribe %s: %w", d.ID, Topic(d, "cmd"), err)
	}
	ticker := time.NewTicker(s.cfg.Interval)
	defer ticker.Stop()
	for {
		publish(Topic(d, "telemetry"), false, Telemetry(time.Now(), s.plant.state(d)))
		select {
		case <-ctx.Done():
			publish(Topic(d, "status"), true, []byte("offline"))
			return nil
		case <-ticker.C:
		case <-changed:
		}
	}
}

package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/config"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
)

// Submitter takes what a poll produced; the ingest Pipeline is one.
// Implausible holds the raw values that fell outside their register's
// min/max; they are not in r.Values.
type Submitter interface {
	SubmitReading(ctx context.Context, r devices.Reading, implausible map[string]float64) error
	SubmitStatus(ctx context.Context, s devices.Status) error
}

// Config configures the Gateway. Registry and Submitter are required.
// The rest is the modbus section of caretaker.yaml; zero values take the
// defaults of withDefaults.
type Config struct {
	Registry  *devices.Registry     `yaml:"-"`
	Submitter Submitter             `yaml:"-"`
	Logger    *slog.Logger          `yaml:"-"`
	Metrics   prometheus.Registerer `yaml:"-"`
	Now       func() time.Time      `yaml:"-"`
	// Sites, if set, limits the polling to the devices of these sites
	// (the sites of a cluster partition this instance leads).
	Sites []string `yaml:"-"`

	Interval     time.Duration `yaml:"interval"`      // a device's poll interval when it names none; default 10s
	Timeout      time.Duration `yaml:"timeout"`       // a device's request timeout when it names none; default 1s
	OfflineAfter int           `yaml:"offline_after"` // failed polls in a row before device.status offline; default 3
	MaxBackoff   time.Duration `yaml:"max_backoff"`   // longest pause between retries of a failing device; default 1m
	Plan         PlanOptions   `yaml:",inline"`       // request planning (gap filling, request size)

	dial dialer // tests; default goburrow
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Interval <= 0 {
		c.Interval = 10 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.OfflineAfter <= 0 {
		c.OfflineAfter = 3
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Minute
	}
	if c.dial == nil {
		c.dial = dialGoburrow
	}
	return c
}

// Validate checks the keys of the modbus section (the *config.FieldError
// names the key) and, once Registry is set, the registry's Modbus devices
// (address, model, every register entry within addresses 0-65535).
func (c Config) Validate() error {
	switch {
	case c.Interval < 0:
		return config.Errorf("interval", "must not be negative")
	case c.Timeout < 0:
		return config.Errorf("timeout", "must not be negative")
	case c.OfflineAfter < 0:
		return config.Errorf("offline_after", "must not be negative")
	case c.MaxBackoff < 0:
		return config.Errorf("max_backoff", "must not be negative")
	case c.Plan.MaxGap < 0 || c.Plan.MaxGap > MaxRegisters:
		return config.Errorf("max_gap", "%d is not between 0 and %d", c.Plan.MaxGap, MaxRegisters)
	case c.Plan.MaxRegisters < 0 || c.Plan.MaxRegisters > MaxRegisters:
		return config.Errorf("max_registers", "%d is not between 0 and %d", c.Plan.MaxRegisters, MaxRegisters)
	}
	if c.Registry == nil {
		return nil
	}
	for _, d := range c.Registry.Devices() {
		if d.Modbus == nil {
			continue
		}
		if _, _, err := checkDevice(c.Registry, d); err != nil {
			return err
		}
	}
	return nil
}

// checkDevice checks a Modbus device of the registry: its address, its
// model, and that every register entry of the model fits in its table's
// address space; the error names the key at fault.
func checkDevice(reg *devices.Registry, d devices.Device) (Address, devices.Model, error) {
	addr, err := ParseAddress(d.Modbus.Address)
	if err != nil {
		return Address{}, devices.Model{}, fmt.Errorf("devices.%s.modbus.address: %w", d.ID, err)
	}
	model, ok := reg.Model(d.Model)
	if !ok {
		return Address{}, devices.Model{}, fmt.Errorf("devices.%s.model: %q is not defined", d.ID, d.Model)
	}
	if len(model.Registers) == 0 {
		return Address{}, devices.Model{}, fmt.Errorf("models.%s.registers: empty", d.Model)
	}
	for i, r := range model.Registers {
		if last := int(r.Address) + width(r) - 1; last > 0xFFFF {
			return Address{}, devices.Model{}, fmt.Errorf("models.%s.registers[%d].address: %s: a %s at %d would end at register %d, past the last one, 65535",
				d.Model, i, r.Metric, r.Type, r.Address, last)
		}
	}
	return addr, model, nil
}

// Gateway polls every Modbus device of the registry.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	ready   chan struct{}
	done    chan struct{} // closed when Run returns

	// Set by Run before ready closes, read-only after: the units polled
	// and the line that owns each one's connection (Write).
	units    map[string]*unit
	byDevice map[string]*line
}

// New prepares a gateway; Run polls.
func New(cfg Config) *Gateway {
	cfg = cfg.withDefaults()
	return &Gateway{cfg: cfg, log: cfg.Logger.With("component", "modbus"), metrics: newMetrics(cfg.Metrics),
		ready: make(chan struct{}), done: make(chan struct{})}
}

// Ready is closed once every poll loop has started.
func (g *Gateway) Ready() <-chan struct{} { return g.ready }

// Run polls the Modbus devices registered when it starts, one loop per
// address, until ctx ends; then it closes the connections and returns nil.
// A device with a bad address or register map fails Run before any poll.
func (g *Gateway) Run(ctx context.Context) error {
	defer close(g.done)
	switch {
	case g.cfg.Registry == nil:
		return errors.New("modbus: registry: missing")
	case g.cfg.Submitter == nil:
		return errors.New("modbus: submitter: missing")
	}
	if err := g.cfg.Validate(); err != nil {
		return err
	}
	lines, err := g.lines()
	if err != nil {
		return err
	}
	g.units, g.byDevice = map[string]*unit{}, map[string]*line{}
	for _, l := range lines {
		for _, u := range l.units {
			g.units[u.dev.ID], g.byDevice[u.dev.ID] = u, l
		}
	}
	eg, ctx := errgroup.WithContext(ctx)
	for _, l := range lines {
		eg.Go(func() error { return l.run(ctx) })
	}
	if len(lines) > 0 {
		g.log.Info("modbus polling", "addresses", len(lines))
	}
	close(g.ready)
	return eg.Wait()
}

// lines groups the registry's Modbus devices by connection.
func (g *Gateway) lines() ([]*line, error) {
	byKey := map[string]*line{}
	var keys []string
	for _, d := range g.cfg.Registry.Devices() {
		if d.Modbus == nil || (len(g.cfg.Sites) > 0 && !slices.Contains(g.cfg.Sites, d.Site)) {
			continue
		}
		addr, model, err := checkDevice(g.cfg.Registry, d)
		if err != nil {
			return nil, err
		}
		u := &unit{dev: d, plan: Plan(model.Registers, g.cfg.Plan),
			interval: d.Modbus.Interval.Std(), timeout: d.Modbus.Timeout.Std(),
			log: g.log.With("device", d.ID, "address", addr.key(), "unit", d.Modbus.Unit)}
		if u.interval <= 0 {
			u.interval = g.cfg.Interval
		}
		if u.timeout <= 0 {
			u.timeout = g.cfg.Timeout
		}
		l, ok := byKey[addr.key()]
		if !ok {
			l = &line{g: g, addr: addr, writes: make(chan writeReq)}
			byKey[addr.key()] = l
			keys = append(keys, addr.key())
		}
		l.units = append(l.units, u)
	}
	sort.Strings(keys)
	out := make([]*line, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out, nil
}

package firmwaresim

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/caretaker-iot/caretaker/devices"
)

// ModbusConfig describes the Modbus TCP side of an estate: every device
// with a modbus address is served as a unit behind a gateway listener at
// that address, its registers filled from its signal model through its
// model's register map.
type ModbusConfig struct {
	Devices  []devices.Device         // devices without Modbus are ignored
	Models   map[string]devices.Model // default: devices.BuiltinModels()
	Scenario Scenario
	Seed     uint64
	Interval time.Duration // how often the registers are refreshed; default 1s
	Faults   ModbusFaults
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger

	plant *plant // what the actuators set; a Sim shares its own with its MQTT devices
}

// ModbusFaults makes the gateways misbehave, each at a rate per request
// (0 never, 1 always), as field devices and gateways do.
type ModbusFaults struct {
	ExceptionRate float64       // answer with an exception instead of data
	ExceptionCode byte          // which one: 4 server device failure (default), 6 busy, 11 target failed to respond...
	SlowRate      float64       // answer late
	SlowDelay     time.Duration // by this much; default 2s
	DropRate      float64       // close the TCP connection instead of answering
	Seed          uint64        // of the fault dice (the signals keep their own)
}

func (f *ModbusFaults) defaults() {
	if f.ExceptionCode == 0 {
		f.ExceptionCode = 4
	}
	if f.SlowDelay <= 0 {
		f.SlowDelay = 2 * time.Second
	}
}

// Validate names the field at fault.
func (f ModbusFaults) Validate() error {
	for name, r := range map[string]float64{"exception_rate": f.ExceptionRate, "slow_rate": f.SlowRate, "drop_rate": f.DropRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("modbus faults %s: %g is not between 0 and 1", name, r)
		}
	}
	if _, ok := exceptionErrors[f.ExceptionCode]; !ok && f.ExceptionCode != 0 {
		return fmt.Errorf("modbus faults exception_code: %d is not a Modbus exception code (1-4, 5, 6, 8, 10, 11)", f.ExceptionCode)
	}
	return nil
}

var exceptionErrors = map[byte]error{
	1: modbus.ErrIllegalFunction, 2: modbus.ErrIllegalDataAddress, 3: modbus.ErrIllegalDataValue,
	4: modbus.ErrServerDeviceFailure, 5: modbus.ErrAcknowledge, 6: modbus.ErrServerDeviceBusy,
	8: modbus.ErrMemoryParityError, 10: modbus.ErrGWPathUnavailable, 11: modbus.ErrGWTargetFailedToRespond,
}

// ModbusServer serves the Modbus devices of an estate, one listener per
// gateway address.
type ModbusServer struct {
	cfg      ModbusConfig
	gateways []*gateway
	ready    chan struct{}
}

// NewModbusServer checks the devices and their models and builds the
// gateways; nothing listens until Run.
func NewModbusServer(cfg ModbusConfig) (*ModbusServer, error) {
	cfg.Faults.defaults()
	if err := cfg.Faults.Validate(); err != nil {
		return nil, err
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Models == nil {
		m, err := devices.BuiltinModels()
		if err != nil {
			return nil, err
		}
		cfg.Models = m
	}
	if cfg.plant == nil {
		cfg.plant = newPlant()
	}
	s := &ModbusServer{cfg: cfg, ready: make(chan struct{})}
	byAddr := map[string]*gateway{}
	for i, d := range cfg.Devices {
		if d.Modbus == nil {
			continue
		}
		listen, err := listenAddr(d.Modbus.Address)
		if err != nil {
			return nil, fmt.Errorf("devices[%d] %s: modbus.address: %w", i, d.ID, err)
		}
		m, ok := cfg.Models[d.Model]
		if !ok {
			return nil, fmt.Errorf("devices[%d] %s: model: %q is not in the model library", i, d.ID, d.Model)
		}
		g := byAddr[listen]
		if g == nil {
			g = &gateway{listen: listen, units: map[uint8]*unit{}, faults: cfg.Faults,
				dice: rand.New(rand.NewPCG(cfg.Faults.Seed, uint64(len(byAddr)))),
				log:  cfg.Logger.With("gateway", listen)}
			byAddr[listen] = g
			s.gateways = append(s.gateways, g)
		}
		if d.Modbus.Unit == 0 {
			return nil, fmt.Errorf("devices[%d] %s: modbus.unit: 0 is the broadcast address; use 1-247", i, d.ID)
		}
		if other, dup := g.units[d.Modbus.Unit]; dup {
			return nil, fmt.Errorf("devices[%d] %s: modbus.unit: %d at %s is already %s", i, d.ID, d.Modbus.Unit, listen, other.dev.ID)
		}
		u, err := newUnit(d, m, cfg.Scenario, cfg.Seed)
		if err != nil {
			return nil, fmt.Errorf("devices[%d] %s: %w", i, d.ID, err)
		}
		u.plant = cfg.plant
		g.units[d.Modbus.Unit] = u
	}
	return s, nil
}

// listenAddr turns tcp://host:port (or host:port) into host:port.
func listenAddr(a string) (string, error) {
	rest, ok := strings.CutPrefix(a, "tcp://")
	if !ok && strings.Contains(a, "://") {
		return "", fmt.Errorf("%q: the simulator serves Modbus TCP only (tcp://host:port)", a)
	}
	if _, _, err := net.SplitHostPort(rest); err != nil {
		return "", fmt.Errorf("%q: %w", a, err)
	}
	return rest, nil
}

// Addrs lists the gateway listen addresses, sorted.
func (s *ModbusServer) Addrs() []string {
	out := make([]string, 0, len(s.gateways))
	for _, g := range s.gateways {
		out = append(out, g.listen)
	}
	sort.Strings(out)
	return out
}

// Ready is closed once every gateway listens.
func (s *ModbusServer) Ready() <-chan struct{} { return s.ready }

// Run listens on every gateway address and refreshes the registers every
// interval until ctx ends.
func (s *ModbusServer) Run(ctx context.Context) error {
	start := s.cfg.Now()
	for _, g := range s.gateways {
		g.refresh(0)
	}
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	for _, g := range s.gateways {
		stop, err := g.start()
		if err != nil {
			return fmt.Errorf("modbus gateway %s: %w", g.listen, err)
		}
		stops = append(stops, stop)
		s.cfg.Logger.Info("modbus gateway listening", "addr", g.listen, "units", len(g.units))
	}
	close(s.ready)
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			el := s.cfg.Now().Sub(start)
			for _, g := range s.gateways {
				g.refresh(el)
			}
		}
	}
}

// gateway is one Modbus TCP listener with units behind it.
type gateway struct {
	listen string
	units  map[uint8]*unit
	faults ModbusFaults
	log    *slog.Logger

	diceMu sync.Mutex
	dice   *rand.Rand
}

func (g *gateway) refresh(el time.Duration) {
	for _, u := range g.units {
		u.refresh(el)
	}
}

// start listens; with a drop rate it puts a proxy in front that can cut
// connections, since the server library does not let a handler do that.
func (g *gateway) start() (stop func(), err error) {
	backend := g.listen
	if g.faults.DropRate > 0 {
		if backend, err = freeLoopback(); err != nil {
			return nil, err
		}
	}
	srv, err := modbus.NewServer(&modbus.ServerConfiguration{
		URL: "tcp://" + backend, Timeout: 5 * time.Minute, MaxClients: 256,
		Logger: slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}, g)
	if err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	if g.faults.DropRate == 0 {
		return func() { _ = srv.Stop() }, nil
	}
	p, err := startDropProxy(g.listen, backend, func() bool { return g.roll(g.faults.DropRate) }, g.log)
	if err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return func() { p.stop(); _ = srv.Stop() }, nil
}

func freeLoopback() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// roll throws the fault dice: true at the given rate.
func (g *gateway) roll(rate float64) bool {
	if rate <= 0 {
		return false
	}
	g.diceMu.Lock()
	defer g.diceMu.Unlock()
	return g.dice.Float64() < rate
}

// fault plays the exception and slow-answer faults for one request.
func (g *gateway) fault() error {
	if g.roll(g.faults.SlowRate) {
		time.Sleep(g.faults.SlowDelay) // a slow device is what is simulated
	}
	if g.roll(g.faults.ExceptionRate) {
		return exceptionErrors[g.faults.ExceptionCode]
	}
	return nil
}

func (g *gateway) unit(id uint8) (*unit, error) {
	u, ok := g.units[id]
	if !ok {
		// What a gateway answers for a unit id with nothing behind it.
		return nil, modbus.ErrGWTargetFailedToRespond
	}
	return u, g.fault()
}

// HandleCoils answers reads of coils, and writes of an actuator's
// writable coil (a valve's open): the plant follows.
func (g *gateway) HandleCoils(req *modbus.CoilsRequest) ([]bool, error) {
	u, err := g.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	if req.IsWrite {
		words := make([]uint16, len(req.Args))
		for i, b := range req.Args {
			if b {
				words[i] = 1
			}
		}
		return nil, u.write("coil", req.Addr, words)
	}
	return u.bits("coil", req.Addr, req.Quantity)
}

// HandleDiscreteInputs answers reads of discrete inputs.
func (g *gateway) HandleDiscreteInputs(req *modbus.DiscreteInputsRequest) ([]bool, error) {
	u, err := g.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	return u.bits("discrete", req.Addr, req.Quantity)
}

// HandleHoldingRegisters answers reads of holding registers, and writes
// of an actuator's writable register (a fan's running).
func (g *gateway) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	u, err := g.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	if req.IsWrite {
		return nil, u.write("holding", req.Addr, req.Args)
	}
	return u.words("holding", req.Addr, req.Quantity)
}

// HandleInputRegisters answers reads of input registers.
func (g *gateway) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	u, err := g.unit(req.UnitId)
	if err != nil {
		return nil, err
	}
	return u.words("input", req.Addr, req.Quantity)
}

// unit is one device behind a gateway: its signal and its register image.
type unit struct {
	dev   devices.Device
	model devices.Model
	sig   *Device
	size  map[string]int // per table: highest mapped address + 1
	plant *plant         // an actuator sets it, a sensor follows it

	mu    sync.RWMutex
	image map[string]map[uint16]uint16 // table -> address -> word (bits as 0/1)
}

func newUnit(d devices.Device, m devices.Model, sc Scenario, seed uint64) (*unit, error) {
	spec, ok := devices.SpecOf(d.Kind)
	if !ok {
		return nil, fmt.Errorf("kind: %q cannot be simulated", d.Kind)
	}
	u := &unit{dev: d, model: m, sig: NewDevice(d, sc, seed), size: map[string]int{}}
	for i, r := range m.Registers {
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("model %s registers[%d].%w", d.Model, i, err)
		}
		if _, ok := spec.Metric(r.Metric); !ok {
			return nil, fmt.Errorf("model %s registers[%d].metric: %s devices do not report %q", d.Model, i, d.Kind, r.Metric)
		}
		end := int(r.Address) + devices.RegisterWidth(r.Type)
		if r.Table == "coil" || r.Table == "discrete" {
			end = int(r.Address) + 1
		}
		u.size[r.Table] = max(u.size[r.Table], end)
	}
	return u, nil
}

// refresh samples the device and rewrites its register image: a
// sensor's signal as its zone's actuators leave it, an actuator's state.
func (u *unit) refresh(el time.Duration) {
	var vals map[string]devices.Value
	if u.dev.Kind == devices.KindActuator {
		vals = u.plant.state(u.dev)
	} else {
		vals = u.sig.Sample(el)
		u.plant.apply(u.dev, vals)
	}
	img := map[string]map[uint16]uint16{}
	for _, r := range u.model.Registers {
		v, ok := vals[r.Metric]
		if !ok {
			continue
		}
		words, err := EncodeRegister(r, v)
		if err != nil {
			continue // a value the type cannot hold reads as zeros
		}
		if img[r.Table] == nil {
			img[r.Table] = map[uint16]uint16{}
		}
		for i, w := range words {
			img[r.Table][r.Address+uint16(i)] = w
		}
	}
	u.mu.Lock()
	u.image = img
	u.mu.Unlock()
}

// words reads a block; gaps inside the map read 0, past its end is an
// illegal data address, as on a real meter.
func (u *unit) words(table string, addr, n uint16) ([]uint16, error) {
	if int(addr)+int(n) > u.size[table] {
		return nil, modbus.ErrIllegalDataAddress
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	out := make([]uint16, n)
	for i := range out {
		out[i] = u.image[table][addr+uint16(i)]
	}
	return out, nil
}

func (u *unit) bits(table string, addr, n uint16) ([]bool, error) {
	w, err := u.words(table, addr, n)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(w))
	for i, x := range w {
		out[i] = x != 0
	}
	return out, nil
}

// write takes a write of one whole entry the model declares writable on
// an actuator (a one-register type or a coil): the plant does what the
// value means and the image shows it at once. Anything else is refused
// as a real device does: a sensor answers illegal function, a read-only
// or unmapped address is an illegal data address, a value the actuator
// does not take illegal data value.
func (u *unit) write(table string, addr uint16, words []uint16) error {
	if u.dev.Kind != devices.KindActuator {
		return modbus.ErrIllegalFunction // a sensor takes no writes at all
	}
	for _, r := range u.model.Registers {
		if r.Table != table || r.Address != addr {
			continue
		}
		if !r.Writable || len(words) != 1 || devices.RegisterWidth(r.Type) != 1 {
			return modbus.ErrIllegalDataAddress
		}
		w := words[0]
		if r.Table == "holding" && r.ByteOrder == "little" {
			w = w<<8 | w>>8
		}
		raw := float64(w)
		if r.Type == "int16" {
			raw = float64(int16(w))
		}
		on := raw != 0
		if r.Type != "bool" && r.Table != "coil" {
			v := raw*scaleOf(r) + r.Offset
			if v != 0 && v != 1 {
				return modbus.ErrIllegalDataValue
			}
			on = v == 1
		}
		if !u.plant.setMetric(u.dev, r.Metric, on) {
			return modbus.ErrIllegalDataValue
		}
		u.refresh(0) // an actuator's image is the plant's state alone
		return nil
	}
	return modbus.ErrIllegalDataAddress
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/modbus"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// ActionsConfig is the actions section: how the device actions of the
// rules (docs/configuration.md, "actions") are read back.
type ActionsConfig struct {
	// ReadBack is how long a sent command waits for the reading that
	// shows it took effect; Attempts how many sends before it is a fault.
	ReadBack devices.Duration `yaml:"read_back"`
	Attempts int              `yaml:"attempts"`
}

func (a ActionsConfig) validate() error {
	switch {
	case a.ReadBack < 0:
		return &ConfigError{Key: "actions.read_back", Msg: "must be a positive duration"}
	case a.Attempts < 0 || a.Attempts > 20:
		return &ConfigError{Key: "actions.attempts", Msg: "from 1 to 20"}
	}
	return nil
}

// commandStore keeps the device commands on the alarms' tickets (the
// ticket service).
type commandStore interface {
	AddDeviceCommands(ctx context.Context, alarmID string, cmds []ticketing.DeviceCommand) ([]ticketing.DeviceCommand, error)
	PendingDeviceCommands(ctx context.Context) ([]ticketing.DeviceCommand, error)
	DeviceCommandSent(ctx context.Context, id int64, n int) error
	DeviceCommandDone(ctx context.Context, id int64, result string) error
	DeviceCommandFailed(ctx context.Context, id int64, result string) error
}

// commandPublisher sends a message to the broker (the MQTT gateway or
// the embedded broker).
type commandPublisher interface {
	Publish(ctx context.Context, topic string, payload []byte) error
}

// modbusWriter writes an actuator's writable register and reads it
// back (the Modbus gateway's poll loop that owns the device's address).
type modbusWriter interface {
	Write(ctx context.Context, device, metric string, value float64) (devices.Value, error)
}

// actuatorConfig sets how device commands are carried out.
type actuatorConfig struct {
	Store     commandStore
	Publisher commandPublisher
	// Modbus carries out the commands of actuators with a modbus
	// address; nil: they fail as not sent.
	Modbus   modbusWriter
	Registry *devices.Registry
	Logger   *slog.Logger
	Metrics  prometheus.Registerer
	Now      func() time.Time
	// ReadBack is how long a command waits for the device's reading that
	// shows it took effect before it is sent again; Attempts how many
	// sends before it is a fault; Poll how often pending commands are
	// looked at.
	ReadBack time.Duration
	Attempts int
	Poll     time.Duration
}

// actuators carries out the device actions the rules describe: a raised
// alarm whose rule has commands puts them on the alarm's ticket, for the
// actuators of the alarm device's site and zone (rules know nothing of
// this); Run sends the queued ones on the actuator's command topic,
// sites/{site}/devices/{id}/cmd, and watches the actuator's readings for
// the state the command asks (a closed valve reads open 0): done when it
// shows, sent again when it does not within ReadBack, a fault on the
// ticket after Attempts. Everything is in the ticket store, so a restart
// takes the pending commands up again.
type actuators struct {
	cfg  actuatorConfig
	log  *slog.Logger
	sent *prometheus.CounterVec

	mu     sync.Mutex
	latest map[string]map[string]seen // device -> metric -> last reading, by arrival
	flight map[int64]flight           // command -> its last send
}

type seen struct {
	value float64
	at    time.Time // when it arrived
}

type flight struct {
	attempt int
	at      time.Time
	err     error // the last attempt's, when it was not sent
}

func newActuators(cfg actuatorConfig) (*actuators, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReadBack <= 0 {
		cfg.ReadBack = 10 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	a := &actuators{
		cfg: cfg, log: cfg.Logger.With("component", "actuators"),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caretaker_device_commands_total",
			Help: "Device commands by outcome: sent (each attempt), done (read back), failed (did not take effect), send_error.",
		}, []string{"outcome"}),
		latest: map[string]map[string]seen{}, flight: map[int64]flight{},
	}
	for _, o := range []string{"sent", "done", "failed", "send_error"} {
		a.sent.WithLabelValues(o)
	}
	if cfg.Metrics != nil {
		if err := cfg.Metrics.Register(a.sent); err != nil {
			return nil, fmt.Errorf("actuator metrics: %w", err)
		}
	}
	return a, nil
}

// targets are the commands of alarm a for the actuators of its device's
// site and zone (its building when it has no zone).
func (a *actuators) targets(al rules.Alarm) []ticketing.DeviceCommand {
	d, ok := a.cfg.Registry.Lookup(al.Device)
	if !ok {
		return nil
	}
	var out []ticketing.DeviceCommand
	for _, c := range al.Commands {
		for _, x := range a.cfg.Registry.Devices() {
			if x.Kind != devices.KindActuator || x.Actuator != c.Actuator || x.Site != d.Site {
				continue
			}
			if (d.Zone != "" && x.Zone != d.Zone) || (d.Zone == "" && x.Building != d.Building) {
				continue
			}
			out = append(out, ticketing.DeviceCommand{Device: x.ID, Actuator: c.Actuator, Set: c.Set, Confirm: c.Confirm})
		}
	}
	return out
}

// alarmSink hands every alarm change to the ticket service, then puts
// the commands of a raised alarm on its ticket. An error (of either) is
// the engine's to retry; adding the same commands again changes nothing.
type alarmSink struct {
	tickets rules.AlarmSink
	act     *actuators
}

func (s alarmSink) HandleAlarm(ctx context.Context, al rules.Alarm) error {
	if err := s.tickets.HandleAlarm(ctx, al); err != nil {
		return err
	}
	if al.State != rules.Raised || al.Shadow || len(al.Commands) == 0 {
		return nil
	}
	cmds := s.act.targets(al)
	if len(cmds) == 0 {
		return nil
	}
	if _, err := s.act.cfg.Store.AddDeviceCommands(ctx, al.ID, cmds); err != nil {
		return fmt.Errorf("device commands of %s: %w", al.ID, err)
	}
	return nil
}

// Reading remembers the actuators' last values, for the read-back.
func (a *actuators) Reading(_ context.Context, r devices.Reading) {
	if r.Kind != devices.KindActuator {
		return
	}
	now := a.cfg.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.latest[r.Device]
	if m == nil {
		m = map[string]seen{}
		a.latest[r.Device] = m
	}
	for name, v := range r.Values {
		m[name] = seen{value: v.Float(), at: now}
	}
}

func (a *actuators) Event(context.Context, devices.Event)   {}
func (a *actuators) Status(context.Context, devices.Status) {}

// Run works the pending commands until ctx ends.
func (a *actuators) Run(ctx context.Context) error {
	t := time.NewTicker(a.cfg.Poll)
	defer t.Stop()
	for {
		if err := a.step(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("device commands", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// commandMessage is what an actuator gets on its command topic.
type commandMessage struct {
	ID      int64  `json:"id"`
	Set     string `json:"set"`
	Attempt int    `json:"attempt"`
}

// step looks at every pending command once: sends the queued, checks
// the sent for their read-back.
func (a *actuators) step(ctx context.Context) error {
	pending, err := a.cfg.Store.PendingDeviceCommands(ctx)
	if err != nil {
		return err
	}
	for _, c := range pending {
		a.mu.Lock()
		f, known := a.flight[c.ID]
		a.mu.Unlock()
		if c.State == ticketing.CmdSent && !known {
			// Sent before a restart: wait its read-back from now.
			f, known = flight{attempt: c.Attempts, at: a.cfg.Now()}, true
			a.setFlight(c.ID, f)
		}
		if c.State == ticketing.CmdQueued || !known {
			if err := a.send(ctx, c, 1); err != nil {
				return err
			}
			continue
		}
		metric, want := rules.Command{Set: c.Set}.Want()
		a.mu.Lock()
		got, ok := a.latest[c.Device][metric]
		a.mu.Unlock()
		now := a.cfg.Now()
		switch {
		case ok && got.at.After(f.at) && got.value == want:
			if err := a.cfg.Store.DeviceCommandDone(ctx, c.ID, fmt.Sprintf("read back %s %g", metric, got.value)); err != nil {
				return err
			}
			a.sent.WithLabelValues("done").Inc()
			a.forget(c.ID)
		case now.Sub(f.at) < a.cfg.ReadBack:
		case f.attempt < a.cfg.Attempts:
			if err := a.send(ctx, c, f.attempt+1); err != nil {
				return err
			}
		default:
			why := fmt.Sprintf("no reading of %s %g within %s of %d attempts", metric, want, a.cfg.ReadBack, f.attempt)
			if ok {
				why += fmt.Sprintf(" (last read %s %g)", metric, got.value)
			}
			if f.err != nil {
				why += fmt.Sprintf(" (last attempt not sent: %v)", f.err)
			}
			if err := a.cfg.Store.DeviceCommandFailed(ctx, c.ID, why); err != nil {
				return err
			}
			a.sent.WithLabelValues("failed").Inc()
			a.log.Warn("device command did not take effect", "device", c.Device, "set", c.Set, "ticket", c.TicketID, "why", why)
			a.forget(c.ID)
		}
	}
	return nil
}

// commandTransport carries one attempt of a command to its actuator.
// readBack, when the transport reads the device back at once (Modbus),
// is what the actuator's metric then holds; otherwise the read-back is
// the next reading the actuator reports (MQTT).
type commandTransport interface {
	send(ctx context.Context, d devices.Device, c ticketing.DeviceCommand, attempt int) (readBack *float64, err error)
}

// mqttTransport publishes on the actuator's command topic,
// sites/{site}/devices/{id}/cmd.
type mqttTransport struct{ pub commandPublisher }

func (m mqttTransport) send(ctx context.Context, d devices.Device, c ticketing.DeviceCommand, n int) (*float64, error) {
	body, _ := json.Marshal(commandMessage{ID: c.ID, Set: c.Set, Attempt: n})
	topic := "sites/" + d.Site + "/devices/" + d.ID + "/" + mqtt.CommandChannel
	return nil, m.pub.Publish(ctx, topic, body)
}

// modbusTransport writes the metric the command sets (a closed valve's
// open 0) to the actuator's writable entry and reads it back.
type modbusTransport struct{ w modbusWriter }

func (m modbusTransport) send(ctx context.Context, d devices.Device, c ticketing.DeviceCommand, _ int) (*float64, error) {
	if m.w == nil {
		return nil, fmt.Errorf("device %s: no Modbus gateway", d.ID)
	}
	metric, want := rules.Command{Set: c.Set}.Want()
	v, err := m.w.Write(ctx, d.ID, metric, want)
	if errors.Is(err, modbus.ErrNotWritable) || errors.Is(err, modbus.ErrNotPolled) {
		return nil, permanentError{err}
	}
	if err != nil {
		return nil, err
	}
	got := v.Float()
	return &got, nil
}

// permanentError is a send that no retry can make work (the model has
// no writable entry for the command): the command fails at once.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func (a *actuators) transport(d devices.Device) commandTransport {
	if d.Modbus != nil {
		return modbusTransport{a.cfg.Modbus}
	}
	return mqttTransport{a.cfg.Publisher}
}

// send carries out attempt n of command c; a send the broker or the
// device refuses is an attempt too. A transport that reads back at once
// settles the command when the value shows it took effect.
func (a *actuators) send(ctx context.Context, c ticketing.DeviceCommand, n int) error {
	d, ok := a.cfg.Registry.Lookup(c.Device)
	if !ok {
		a.forget(c.ID)
		return a.cfg.Store.DeviceCommandFailed(ctx, c.ID, "device "+c.Device+" is not registered any more")
	}
	back, err := a.transport(d).send(ctx, d, c, n)
	var perm permanentError
	if errors.As(err, &perm) {
		a.sent.WithLabelValues("send_error").Inc()
		a.sent.WithLabelValues("failed").Inc()
		a.log.Warn("device command cannot be sent", "device", d.ID, "set", c.Set, "ticket", c.TicketID, "err", err)
		a.forget(c.ID)
		return a.cfg.Store.DeviceCommandFailed(ctx, c.ID, "not sent: "+err.Error())
	}
	if err != nil {
		a.sent.WithLabelValues("send_error").Inc()
		a.log.Warn("device command not sent", "device", d.ID, "attempt", n, "err", err)
	} else {
		a.sent.WithLabelValues("sent").Inc()
	}
	a.setFlight(c.ID, flight{attempt: n, at: a.cfg.Now(), err: err})
	if err := a.cfg.Store.DeviceCommandSent(ctx, c.ID, n); err != nil {
		return err
	}
	if metric, want := (rules.Command{Set: c.Set}).Want(); back != nil && *back == want {
		if err := a.cfg.Store.DeviceCommandDone(ctx, c.ID, fmt.Sprintf("read back %s %g", metric, *back)); err != nil {
			return err
		}
		a.sent.WithLabelValues("done").Inc()
		a.forget(c.ID)
	} else if back != nil {
		a.remember(d.ID, metric, *back)
	}
	return nil
}

// remember takes a read-back that did not show the command's effect as
// the actuator's latest value, for the fault's reason.
func (a *actuators) remember(device, metric string, v float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.latest[device]
	if m == nil {
		m = map[string]seen{}
		a.latest[device] = m
	}
	m[metric] = seen{value: v, at: a.cfg.Now()}
}

func (a *actuators) setFlight(id int64, f flight) {
	a.mu.Lock()
	a.flight[id] = f
	a.mu.Unlock()
}

func (a *actuators) forget(id int64) {
	a.mu.Lock()
	delete(a.flight, id)
	a.mu.Unlock()
}

// brokerPublisher publishes through whichever MQTT side serve made: the
// embedded broker or the gateway to an external one.
type brokerPublisher struct {
	mu  sync.Mutex
	pub commandPublisher
}

func (b *brokerPublisher) set(broker *mqtt.Broker, client *mqtt.Gateway) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if broker != nil {
		b.pub = broker
	} else if client != nil {
		b.pub = client
	}
}

func (b *brokerPublisher) Publish(ctx context.Context, topic string, payload []byte) error {
	b.mu.Lock()
	p := b.pub
	b.mu.Unlock()
	if p == nil {
		return fmt.Errorf("publish %s: no MQTT connection", topic)
	}
	return p.Publish(ctx, topic, payload)
}

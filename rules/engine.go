package rules

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// AlarmSink receives every alarm change the engine decides on.
type AlarmSink interface {
	HandleAlarm(ctx context.Context, a Alarm) error
}

// DeviceLookup finds the registered device behind a reading, for the place
// an alarm names.
type DeviceLookup interface {
	Lookup(id string) (devices.Device, bool)
}

// Config builds an Engine.
type Config struct {
	Rules   []Rule
	Sink    AlarmSink
	Devices DeviceLookup // may be nil
	Logger  *slog.Logger
	Now     func() time.Time
	// Tick is how often the engine checks for-durations that time alone
	// completes (a probe that reported wet once and then went quiet).
	Tick time.Duration
}

func (c *Config) defaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Tick <= 0 {
		c.Tick = time.Second
	}
}

// Engine evaluates readings and events against the rules and keeps the
// state of every rule on every device.
type Engine struct {
	cfg Config

	mu     sync.Mutex
	byKind map[devices.Kind][]*compiled
	byID   map[string]*compiled
	state  map[stateKey]*episode
}

type stateKey struct{ rule, device string }

// episode is the state of one rule on one device.
type episode struct {
	lastTime     time.Time // event time of the newest value seen
	pendingSince time.Time // raise condition holding since; zero if not
	clearSince   time.Time // clear condition holding since; zero if not
	active       bool
	alarm        Alarm
}

// NewEngine checks every rule and builds the engine. The error names the
// rule and the field at fault.
func NewEngine(cfg Config) (*Engine, error) {
	cfg.defaults()
	e := &Engine{cfg: cfg, byKind: map[devices.Kind][]*compiled{}, byID: map[string]*compiled{}, state: map[stateKey]*episode{}}
	for i, r := range cfg.Rules {
		c, err := r.compile()
		if err != nil {
			return nil, fmt.Errorf("rules[%d] (%s): %w", i, r.ID, err)
		}
		if e.byID[c.ID] != nil {
			return nil, fmt.Errorf("rules[%d].id: %q is defined twice", i, c.ID)
		}
		e.byID[c.ID] = c
		e.byKind[c.Kind] = append(e.byKind[c.Kind], c)
	}
	// The most severe rules first: when one reading crosses both the
	// pre-alarm and the alarm level, the emergency goes out first.
	for _, rs := range e.byKind {
		sort.SliceStable(rs, func(i, j int) bool { return rs[i].Level < rs[j].Level })
	}
	return e, nil
}

// Rules returns the rules in force, sorted by id.
func (e *Engine) Rules() []Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Rule, 0, len(e.byID))
	for _, c := range e.byID {
		out = append(out, c.Rule)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Reading evaluates one reading against the rules of its device's kind.
func (e *Engine) Reading(ctx context.Context, r devices.Reading) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.byKind[r.Kind] {
		if c.Condition.Op == "event" || !c.IsEnabled() || !c.Scope.Matches(r.Site, r.Building, r.Device) {
			continue
		}
		v, ok := r.Values[c.Metric]
		if !ok {
			continue
		}
		e.observe(ctx, c, r.Device, r.Site, r.Building, r.Time, v)
	}
}

// Event evaluates a device event: an event rule raises while the device
// says the event is active and clears when it says it has ended.
func (e *Engine) Event(ctx context.Context, ev devices.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.byKind[ev.Kind] {
		if c.Condition.Op != "event" || c.Condition.Event != ev.Name || !c.IsEnabled() ||
			!c.Scope.Matches(ev.Site, ev.Building, ev.Device) {
			continue
		}
		e.observe(ctx, c, ev.Device, ev.Site, ev.Building, ev.Time, devices.FlagValue(ev.Active))
	}
}

// Status is accepted so the engine can sit behind the ingest sink; device
// staleness rules build on it.
func (e *Engine) Status(context.Context, devices.Status) {}

// Run completes for-durations and clear-durations that time alone
// satisfies, until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			e.Tick(ctx, e.cfg.Now())
		}
	}
}

// Tick raises pending alarms whose for-duration has run out by now, and
// clears active ones whose clear-duration has, with no new reading needed.
func (e *Engine) Tick(ctx context.Context, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, st := range e.state {
		c := e.byID[k.rule]
		switch {
		case !st.active && !st.pendingSince.IsZero() && !now.Before(st.pendingSince.Add(c.holdFor())):
			e.raise(ctx, c, st, st.pendingSince.Add(c.holdFor()))
		case st.active && !st.clearSince.IsZero() && !now.Before(st.clearSince.Add(c.ClearFor.Std())):
			e.clear(ctx, c, st, st.clearSince.Add(c.ClearFor.Std()))
		}
	}
}

func (e *Engine) matches(c *compiled, v devices.Value) bool {
	if c.raise == nil { // event rule
		return v.Flag
	}
	return c.raise(v)
}

func (e *Engine) cleared(c *compiled, v devices.Value) bool {
	if c.clear != nil {
		return c.clear(v)
	}
	return !e.matches(c, v)
}

// observe moves one rule on one device forward by one value at event time t.
func (e *Engine) observe(ctx context.Context, c *compiled, device, site, building string, t time.Time, v devices.Value) {
	k := stateKey{c.ID, device}
	st := e.state[k]
	if st == nil {
		st = &episode{alarm: e.newAlarm(c, device, site, building)}
		e.state[k] = st
	}
	// A value older than what the rule has already seen must neither
	// raise nor clear anything: it describes a past the state has left.
	if t.Before(st.lastTime) {
		return
	}
	st.lastTime = t
	x := v.Float()
	if !st.active {
		if !e.matches(c, v) {
			st.pendingSince = time.Time{}
			return
		}
		if st.pendingSince.IsZero() {
			st.pendingSince = t
			st.alarm.Peak = x
		}
		st.alarm.Value = x
		st.alarm.Peak = worse(c, st.alarm.Peak, x)
		if !t.Before(st.pendingSince.Add(c.holdFor())) {
			e.raise(ctx, c, st, t)
		}
		return
	}
	st.alarm.Value = x
	if !e.cleared(c, v) {
		st.clearSince = time.Time{}
		st.alarm.Peak = worse(c, st.alarm.Peak, x)
		return
	}
	if st.clearSince.IsZero() {
		st.clearSince = t
	}
	if !t.Before(st.clearSince.Add(c.ClearFor.Std())) {
		e.clear(ctx, c, st, t)
	}
}

// worse keeps the peak in the direction the rule fears.
func worse(c *compiled, peak, x float64) float64 {
	switch c.Condition.Op {
	case "<", "<=":
		if x < peak {
			return x
		}
	default:
		if x > peak {
			return x
		}
	}
	return peak
}

func (e *Engine) newAlarm(c *compiled, device, site, building string) Alarm {
	a := Alarm{
		RuleID: c.ID, RuleName: c.Name, Device: device, Kind: c.Kind, Site: site, Building: building,
		Metric: c.Metric, Event: c.Condition.Event, Severity: c.Severity, Level: c.Level,
		Shadow: c.Mode == ModeShadow,
	}
	if e.cfg.Devices != nil {
		if d, ok := e.cfg.Devices.Lookup(device); ok {
			a.Location = d.Location
		}
	}
	return a
}

func (e *Engine) raise(ctx context.Context, c *compiled, st *episode, at time.Time) {
	st.active = true
	st.clearSince = time.Time{}
	a := &st.alarm
	a.ID = AlarmID(c.ID, a.Device, st.pendingSince)
	a.State = Raised
	a.RaisedAt = at
	a.ClearedAt = nil
	a.Message = describe(c, a)
	e.emit(ctx, *a)
}

func (e *Engine) clear(ctx context.Context, c *compiled, st *episode, at time.Time) {
	st.active = false
	st.pendingSince = time.Time{}
	st.clearSince = time.Time{}
	a := &st.alarm
	a.State = Cleared
	a.ClearedAt = &at
	e.emit(ctx, *a)
}

func (e *Engine) emit(ctx context.Context, a Alarm) {
	log := e.cfg.Logger.With("alarm", a.ID, "rule", a.RuleID, "device", a.Device, "state", a.State)
	if a.Shadow {
		log.Info("shadow rule would change an alarm", "value", a.Value)
	} else {
		log.Info("alarm", "level", a.Level, "value", a.Value, "peak", a.Peak)
	}
	if e.cfg.Sink == nil {
		return
	}
	if err := e.cfg.Sink.HandleAlarm(ctx, a); err != nil {
		log.Error("alarm not handed on", "err", err)
	}
}

// describe writes the alarm's one-line message for tickets and screens.
func describe(c *compiled, a *Alarm) string {
	place := a.Device
	if a.Location != "" {
		place = a.Location + " (" + a.Device + ")"
	}
	if c.Condition.Op == "event" {
		return fmt.Sprintf("%s: %s reported %s", c.Name, place, c.Condition.Event)
	}
	value := strconv.FormatFloat(a.Value, 'g', -1, 64)
	if c.Condition.Op == "is" {
		value = strconv.FormatBool(a.Value != 0)
	}
	return fmt.Sprintf("%s: %s %s = %s (%s)", c.Name, place, c.Metric, value, conditionText(c.Condition))
}

func conditionText(cond Condition) string {
	switch cond.Op {
	case "outside":
		return fmt.Sprintf("outside %g..%g", cond.Low, cond.High)
	case "is":
		return fmt.Sprintf("is %v", cond.Value)
	default:
		return fmt.Sprintf("%s %v", cond.Op, cond.Value)
	}
}

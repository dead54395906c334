package rules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/intern"
)

// AlarmSink receives every alarm change the engine decides on.
type AlarmSink interface {
	HandleAlarm(ctx context.Context, a Alarm) error
}

// DeviceLookup finds the registered device behind a reading, for the place
// an alarm names, its nominal values and its parent (Modbus address). When
// it also lists devices (DeviceLister, as devices.Registry does), devices
// that never sent anything are watched by stale rules too, and a Modbus
// address whose every device went offline counts as down.
type DeviceLookup interface {
	Lookup(id string) (devices.Device, bool)
}

// DeviceLister lists every registered device.
type DeviceLister interface {
	Devices() []devices.Device
}

// ErrNotFound is returned for a rule id the engine or the store does not know.
var ErrNotFound = errors.New("rule not found")

// DefaultLateness is how old (event time against the engine's clock) a
// reading may be and still raise an alarm at once.
const DefaultLateness = 2 * time.Minute

// Config builds an Engine.
type Config struct {
	Rules   []Rule
	Sink    AlarmSink
	Devices DeviceLookup // may be nil
	Logger  *slog.Logger
	Now     func() time.Time
	// Tick is how often Run checks what time alone completes: for- and
	// clear-durations, staleness, flapping that settled, held raises.
	Tick time.Duration
	// Lateness bounds how late data may raise an alarm at once; see
	// docs/configuration.md, "Late data". 0 means DefaultLateness, a
	// negative value turns the bound off (backtests).
	Lateness time.Duration
	// Metrics, if set, gets caretaker_alarm_handoff_failures_total and
	// caretaker_alarm_handoffs_pending.
	Metrics prometheus.Registerer
	// HandOffLater queues the alarm changes and hands them to the Sink
	// from Run's goroutine, in order, instead of from the goroutine that
	// evaluated the data (so a reading never waits for the ticket store);
	// AfterSettled tells when those decided on a reading are handed on,
	// and FlushHandoffs hands on what is left once Run has returned. Off, the
	// Sink is called as each change is decided (tests, backtests).
	HandOffLater bool
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
	if c.Lateness == 0 {
		c.Lateness = DefaultLateness
	}
}

// Engine evaluates readings and events against the rules and keeps the
// state of every rule on every device. It is safe for concurrent use.
type Engine struct {
	cfg Config

	mu    sync.Mutex
	rules map[string]*compiled // by key: id, or id~shadow
	state stateTable
	timed map[stateKey]*episode // episodes that time alone may move
	plan  map[string]*plan      // per device: the rules that apply
	sets  map[string]*ruleSet   // the rule sets the plans share
	// byProfile: the rule set of each device profile (see profile);
	// named: the devices a rule's scope names. Both are dropped, with
	// the plans, when a rule changes.
	byProfile map[string]*ruleSet
	named     map[string]bool
	// scratch is the memory a rule at rest evaluates a value with.
	scratch memory
	// snapshotSize and snapshotEpisodes: the size of the last snapshot
	// and how many episodes it held, to size the next.
	snapshotSize, snapshotEpisodes int
	seen                           map[string]*seenDevice
	// places and facts: what plans and seen devices point to, each kept
	// once (placeOf, factsOf); facts are dropped with the plans.
	places  intern.Pool[place]
	facts   map[string]*facts
	parents map[string]*parentState
	// lastRoster is when tickStale last took in the registered devices.
	lastRoster time.Time
	// dirty: devices whose alarms were raised or cleared since derive
	// last looked (the building rules count them); groups: the plans of
	// building alarms, by group id.
	dirty  map[string]bool
	groups map[string]*plan
	last   lastDevice
	// timeWatched: watchesTime of the rules in force, kept as they change
	// (a backtest ticks at every reading).
	timeWatched bool
	handoffs    handoffs
	retrying    sync.Mutex // one retry of the handoffs at a time
	// out: with HandOffLater, the changes not yet handed on; flushing:
	// one goroutine handing them on at a time.
	out      outbox
	flushing sync.Mutex
	// ownUpto: the outbox number below which the changes decided on
	// the latest data (Reading, Event, Status) lie; 0 when it decided
	// none (AfterSettled). A change decided by a tick meanwhile raises
	// it too: waiting for more is safe.
	ownUpto atomic.Uint64
	metrics engineMetrics
	// received is when the reading or event being evaluated arrived
	// (zero outside Reading and Event), for the decision latency.
	received time.Time

	// unsaved: the devices whose state changed since the last save
	// (SaveChanges); savedHead: the head row it last wrote; saving: one
	// save at a time.
	unsaved   map[string]struct{}
	savedHead []byte
	saving    sync.Mutex
}

type stateKey struct{ rule, device string }

// lastDevice is what the device asked about last found in the engine's
// maps of plans, seen devices and unsaved devices, asked first: a reading
// asks about its device several times, and a backtest replays one device.
// Each is forgotten with what it points to (Put, SaveChanges); seen
// devices are never forgotten.
type lastDevice struct {
	id      string
	plan    *plan
	seen    *seenDevice
	unsaved bool
}

// lastFor is the memo of device id, emptied when it was another's.
func (e *Engine) lastFor(id string) *lastDevice {
	if e.last.id != id {
		e.last = lastDevice{id: id}
	}
	return &e.last
}

// NewEngine checks every rule and builds the engine. The error names the
// rule and the field at fault.
func NewEngine(cfg Config) (*Engine, error) {
	cfg.defaults()
	e := &Engine{cfg: cfg, rules: map[string]*compiled{}, state: newStateTable(),
		timed: map[stateKey]*episode{}, plan: map[string]*plan{}, sets: map[string]*ruleSet{}, byProfile: map[string]*ruleSet{}, seen: map[string]*seenDevice{},
		facts:   map[string]*facts{},
		parents: map[string]*parentState{}, handoffs: newHandoffs(cfg.Metrics), out: newOutbox(), dirty: map[string]bool{},
		groups: map[string]*plan{}, unsaved: map[string]struct{}{}}
	e.metrics = newEngineMetrics(cfg.Metrics, e)
	for i, r := range cfg.Rules {
		c, err := r.compile()
		if err != nil {
			return nil, fmt.Errorf("rules[%d] (%s): %w", i, r.ID, err)
		}
		if e.rules[c.key()] != nil {
			return nil, fmt.Errorf("rules[%d].id: %q (%s) is defined twice", i, c.ID, c.Mode)
		}
		e.rules[c.key()] = c
	}
	e.timeWatched = e.watchesTime()
	return e, nil
}

// Rules returns the rules in force, live and shadow, sorted by id (a live
// rule before its shadow version).
func (e *Engine) Rules() []Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Rule, 0, len(e.rules))
	for _, c := range e.rules {
		out = append(out, c.Rule)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// Put replaces, at once, the live and the shadow version of rule id; nil
// removes that version. Per-device state is kept where the new version
// tests the same kind, metric (or event) and class of condition, so an
// open episode carries on under the new thresholds; otherwise the state
// is dropped, and an alarm that was raised is cleared with the reason.
func (e *Engine) Put(ctx context.Context, id string, live, shadow *Rule) error {
	var cl, cs *compiled
	var err error
	if live != nil {
		r := *live
		r.ID, r.Mode = id, ModeLive
		if cl, err = r.compile(); err != nil {
			return err
		}
	}
	if shadow != nil {
		r := *shadow
		r.ID, r.Mode = id, ModeShadow
		if cs, err = r.compile(); err != nil {
			return err
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.replace(ctx, ruleKey(id, false), cl)
	e.replace(ctx, ruleKey(id, true), cs)
	e.plan, e.facts, e.last.plan = map[string]*plan{}, map[string]*facts{}, nil
	e.sets = map[string]*ruleSet{}
	e.byProfile, e.named = map[string]*ruleSet{}, nil
	return nil
}

func (e *Engine) replace(ctx context.Context, key string, c *compiled) {
	old := e.rules[key]
	if c == nil {
		delete(e.rules, key)
	} else {
		e.rules[key] = c
	}
	e.timeWatched = e.watchesTime()
	if old == nil {
		return
	}
	keep := c != nil && c.Kind == old.Kind && c.Metric == old.Metric &&
		c.Condition.Event == old.Condition.Event && c.op.class == old.op.class
	devs := e.state.devicesOf(key)
	for _, dev := range devs {
		e.unsave(dev) // what is saved of it may differ (its flap history, or all of it)
	}
	if keep {
		return
	}
	for _, dev := range devs {
		k := stateKey{key, dev}
		st := e.state.get(k)
		if st != nil && st.announced {
			at := e.cfg.Now()
			st.alarm.Message += " (cleared: the rule was changed)"
			e.clearAlarm(ctx, st, at, ClearRuleChanged)
		}
		if st != nil {
			e.untime(k, st)
		}
		e.state.del(k)
	}
}

// Reading evaluates one reading against the rules that apply to its device.
func (e *Engine) Reading(ctx context.Context, r devices.Reading) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.reading(ctx, r)
}

// reading is Reading under the lock.
func (e *Engine) reading(ctx context.Context, r devices.Reading) {
	e.ownUpto.Store(0)
	e.received = r.Received
	defer func() { e.received = time.Time{} }()
	now := e.cfg.Now()
	p := e.planFor(r.Device, r.Kind, r.Site, r.Building)
	e.heard(ctx, p, r.Time, now)
	for _, c := range p.rules {
		if c.op.subject == onEvent {
			continue
		}
		if len(c.when) > 0 && !c.looksAt(r.Time, r.Values, p.nominal) {
			continue
		}
		if c.op.subject == onTerms {
			e.observeTerms(ctx, c, p, r, now)
			continue
		}
		v, ok := r.Values[c.Metric]
		if !ok {
			continue
		}
		if mi := c.Condition.Minus; mi != "" {
			o, has := r.Values[mi]
			if !has {
				continue
			}
			v = devices.Num(v.Number - o.Number)
		}
		if e.heldBack(c, p) {
			continue
		}
		e.observe(ctx, c, p, r.Time, now, v)
	}
	e.derive(ctx, now)
}

// Event evaluates a device event: an event rule raises while the device
// says the event is active and clears when it says it has ended.
func (e *Engine) Event(ctx context.Context, ev devices.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ownUpto.Store(0)
	e.received = ev.Received
	defer func() { e.received = time.Time{} }()
	now := e.cfg.Now()
	p := e.planFor(ev.Device, ev.Kind, ev.Site, ev.Building)
	e.heard(ctx, p, ev.Time, now)
	for _, c := range p.rules {
		if c.op.subject != onEvent || c.Condition.Event != ev.Name || e.heldBack(c, p) {
			continue
		}
		e.observe(ctx, c, p, ev.Time, now, devices.FlagValue(ev.Active))
	}
	e.derive(ctx, now)
}

// Run completes, until ctx ends, what time alone decides, and with
// Config.HandOffLater hands the alarm changes on as they are queued.
func (e *Engine) Run(ctx context.Context) error {
	if e.cfg.HandOffLater && e.cfg.Sink != nil {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.runOutbox(ctx)
		}()
		defer wg.Wait()
	}
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

// Tick moves every rule on every device to now with no new data: pending
// for-durations and clear-durations that have run out complete, settled
// flapping clears, held late raises are released, and stale rules raise
// for devices that have gone quiet.
func (e *Engine) Tick(ctx context.Context, now time.Time) {
	e.retryHandoffs(ctx)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tick(ctx, now)
}

// tick is Tick under the lock, without the retry of the handoffs.
func (e *Engine) tick(ctx context.Context, now time.Time) {
	for k, st := range e.timed {
		c := e.rules[k.rule]
		if c == nil {
			e.untime(k, st)
			continue
		}
		if len(c.Unless) > 0 && !st.on {
			// The plan may not be built yet (a pending episode taken back
			// from a snapshot before the device's first reading).
			p := e.anyPlan(c, k.device)
			if st.hasAlarm() {
				p = e.planFor(k.device, c.Kind, st.alarm.Site, st.alarm.Building)
			}
			if e.heldBack(c, p) {
				continue
			}
		}
		before := st.saveMark()
		e.advance(ctx, c, st, k.device, now)
		if st.saveMark() != before {
			e.unsave(k.device)
		}
		e.track(k, c, st)
	}
	// The walks over every device seen are for stale and calendar rules
	// only: without any, a tick costs nothing per device (a backtest
	// ticks at each reading of a rule of neither kind).
	if e.timeWatched {
		e.tickStale(ctx, now)
		e.tickCalendar(ctx, now)
	}
	e.derive(ctx, now)
}

// watchesTime tells whether a rule in force raises on time passing alone
// for a device (stale, calendar), so that Tick must walk the devices.
func (e *Engine) watchesTime() bool {
	for _, c := range e.rules {
		if c.Condition.Op == OpStale || c.op.subject == onCalendar {
			return true
		}
	}
	return false
}

// Active returns the alarms now raised (announced), sorted by id.
func (e *Engine) Active() []Alarm {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Alarm
	for _, st := range e.state.all() {
		if st.announced {
			out = append(out, *st.alarm)
		}
	}
	for _, ps := range e.parents {
		if ps.announced {
			out = append(out, ps.alarm)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Restore reloads alarms that were active before a restart, so that data
// continuing the same episode updates it instead of raising it again, and
// data ending it clears it. Alarms of unknown rules are skipped. After
// RestoreSnapshot, an episode the snapshot already holds is kept as it is.
func (e *Engine) Restore(alarms []Alarm) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range alarms {
		if a.State == Cleared {
			continue
		}
		if a.RuleID == ParentRuleID {
			e.parents[a.Device] = &parentState{down: true, announced: true, alarm: a}
			continue
		}
		key := ruleKey(a.RuleID, a.Shadow)
		c := e.rules[key]
		if c == nil {
			continue
		}
		k := stateKey{key, a.Device}
		st := e.state.get(k)
		e.unsave(a.Device)
		switch {
		case st != nil && st.announced && st.alarm.ID == a.ID:
			// The snapshot has this episode, and more of it.
		case st != nil:
			// The alarm was raised after the snapshot: it stands, with
			// what the snapshot remembers of the rule on the device.
			st.alarm, st.on, st.announced, st.held = &a, true, true, false
			st.pendingSince, st.clearSince = stampOf(a.RaisedAt), 0
			if st.lastTime.time().Before(a.RaisedAt) {
				st.lastTime = stampOf(a.RaisedAt)
			}
			e.track(k, c, st)
		default:
			st = e.state.ensure(k, 1)
			st.alarm, st.on, st.announced, st.lastTime, st.pendingSince = &a, true, true, stampOf(a.RaisedAt), stampOf(a.RaisedAt)
		}
		if c.op.subject == onDevice {
			e.seenDevice(a.Device, a.Kind, a.Site, a.Building)
		}
	}
}

// RecordService says the maintenance a counter_every rule asks for was
// done on device at time at: the counter's current total becomes the new
// base (the next service falls due every counts later) and a raised
// service alarm clears. It returns that base, or known false when no
// counter value has come yet (the next one becomes the base).
func (e *Engine) RecordService(ctx context.Context, ruleID, device string, at time.Time) (base float64, known bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	found := false
	for _, key := range []string{ruleKey(ruleID, false), ruleKey(ruleID, true)} {
		c := e.rules[key]
		if c == nil {
			continue
		}
		if c.Condition.Op == OpServiceOverdue {
			found = true
			st := e.ruleState(c, device)
			if st == nil {
				continue
			}
			e.unsave(device)
			st.mem.setService(stampOf(at))
			if st.on || st.announced {
				st.al().Message += " (service recorded)"
				e.forceOff(ctx, st, at, ClearService)
			}
			continue
		}
		if c.Condition.Op != OpCounterEvery {
			return 0, false, fieldErr("condition.op", "rule %s is %s; only counter_every and service_overdue rules take a service record", ruleID, c.Condition.Op)
		}
		found = true
		st := e.ruleState(c, device)
		if st == nil {
			continue
		}
		e.unsave(device)
		if m := st.mem.more(); m.hasRaw {
			m.serviceBase, base, known = m.total(), m.total(), true
		} else {
			m.baseNext = true
		}
		st.pendingSince = 0
		if st.on || st.held {
			st.al().Message += " (service recorded)"
			e.forceOff(ctx, st, at, ClearService)
		}
	}
	if !found {
		return 0, false, ErrNotFound
	}
	return base, known, nil
}

// RestoreService sets the counter total at a device's last recorded
// service, as kept by the store, after a restart.
func (e *Engine) RestoreService(ruleID, device string, base float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, key := range []string{ruleKey(ruleID, false), ruleKey(ruleID, true)} {
		if c := e.rules[key]; c != nil && c.Condition.Op == OpCounterEvery {
			if st := e.ruleState(c, device); st != nil {
				if m := st.mem.more(); m.serviceBase != base || m.baseNext {
					e.unsave(device)
				}
				st.mem.more().serviceBase, st.mem.more().baseNext = base, false
			}
		}
	}
}

// ruleState is the episode of rule c on a device, made if it has none
// (a service recorded before any data): nil for a registered device of
// another kind, to which the rule cannot apply.
func (e *Engine) ruleState(c *compiled, device string) *episode {
	k := stateKey{c.key(), device}
	if st := e.state.get(k); st != nil {
		return st
	}
	sl := e.ruleSlot(c, device)
	if sl == nil {
		return nil
	}
	e.unsave(device)
	if c.op.subject == onCalendar {
		return e.state.ensureCalendar(k, 1)
	}
	return e.state.ensure(k, 1)
}

// ruleSlot is the slot of rule c on a device, made if it has none: nil
// for a registered device of another kind, to which the rule cannot
// apply.
func (e *Engine) ruleSlot(c *compiled, device string) *slot {
	k := stateKey{c.key(), device}
	if sl := e.state.slot(k); sl != nil {
		return sl
	}
	var d devices.Device
	known := false
	if e.cfg.Devices != nil {
		d, known = e.cfg.Devices.Lookup(device)
	}
	if known && d.Kind != c.Kind {
		return nil
	}
	room := 1
	if known {
		room = e.planFor(d.ID, d.Kind, d.Site, d.Building).room
	}
	return e.state.slotFor(k, room)
}

func (e *Engine) emit(ctx context.Context, a Alarm) {
	log := e.cfg.Logger.With("alarm", a.ID, "rule", a.RuleID, "device", a.Device, "state", a.State)
	if a.Shadow {
		log.Info("shadow rule would change an alarm", "value", a.Value)
	} else {
		log.Info("alarm", "level", a.Level, "value", a.Value, "peak", a.Peak, "flapping", a.Flapping)
	}
	if e.cfg.Sink == nil {
		return
	}
	if a.State == Raised && !a.Shadow {
		e.metrics.observeRaise(e.received, time.Now())
	}
	if e.cfg.HandOffLater {
		e.ownUpto.Store(e.out.push(a)) // handed on by Run, in order (outbox.go)
		return
	}
	if e.handoffs.waiting(a.ID) {
		// An earlier change of this alarm is still waiting: this one
		// goes behind it, so the sink sees raised, updated, cleared in
		// that order.
		e.handoffs.add(a)
		return
	}
	if err := e.cfg.Sink.HandleAlarm(ctx, a); err != nil {
		e.handoffs.failures.Inc()
		e.handoffs.add(a)
		log.Error("alarm not handed on: kept, retried every tick", "err", err, "pending", e.handoffs.len())
	}
}

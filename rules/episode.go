package rules

import (
	"context"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// episode is the state of one rule on one device.
//
// on is what the condition says after for and clear_for; announced is
// whether a Raised went out (and no Cleared yet). They differ while a
// raise from late data is held, and while the flap guard holds a cleared
// condition raised.
type episode struct {
	lastTime     stamp // event time of the newest value seen
	lastArrival  stamp // engine clock when it arrived
	pendingSince stamp // raise condition holding since; zero if not
	clearSince   stamp // clear condition holding since; zero if not
	on           bool
	announced    bool
	held         bool // on from late data; waits (see late)
	flapping     bool
	timed        bool // in Engine.timed (track keeps the two together)
	// value and peak of a run pending its for-duration, while the
	// episode has no alarm yet (then they are the alarm's).
	value, peak float64
	mem         memory // with, under a flap guard, the raises and clears it counts (trendMemory.toggles)
	alarm       *Alarm // nil until the rule first raises on the device (see alarmFor)
}

// toggled records a raise or a clear at at. Kept in the rarely made
// part of the memory, not in a field of every episode: only an episode
// under a flap guard that raised has any.
func (st *episode) toggled(at time.Time) {
	x := st.mem.more()
	x.toggles = append(x.toggles, at)
}

// toggles are the raises and clears recorded.
func (st *episode) toggles() []time.Time {
	if x := st.mem.trend(); x != nil {
		return x.toggles
	}
	return nil
}

// setToggles replaces the raises and clears recorded.
func (st *episode) setToggles(ts []time.Time) {
	if ts == nil {
		if x := st.mem.trend(); x != nil {
			x.toggles = nil
		}
		return
	}
	st.mem.more().toggles = ts
}

// hasAlarm: the episode has its alarm filled in.
func (st *episode) hasAlarm() bool { return st.alarm != nil && st.alarm.RuleID != "" }

func (st *episode) setValue(x float64) {
	if st.hasAlarm() {
		st.alarm.Value = x
		return
	}
	st.value = x
}

func (st *episode) setPeak(x float64) {
	if st.hasAlarm() {
		st.alarm.Peak = x
		return
	}
	st.peak = x
}

func (st *episode) peakSoFar() float64 {
	if st.hasAlarm() {
		return st.alarm.Peak
	}
	return st.peak
}

// alarmFor fills in the episode's alarm when it raises for the first
// time: a rule whose condition never held long enough on a device keeps
// no alarm for it. p is the device's plan, nil if the caller has none.
func (e *Engine) alarmFor(c *compiled, st *episode, device string, p *plan) *Alarm {
	if st.hasAlarm() {
		return st.alarm
	}
	if p == nil {
		p = e.anyPlan(c, device)
	}
	a := e.newAlarm(c, p)
	a.Value, a.Peak = st.value, st.peak
	st.alarm = &a
	e.predicted(c, st)
	return st.alarm
}

// anyPlan is the plan of a device the caller knows only by id: the
// cached one, or one made from what the engine has seen of the device or
// the registry has; failing both, one with the rule's kind alone.
func (e *Engine) anyPlan(c *compiled, device string) *plan {
	if p := e.plan[device]; p != nil {
		return p
	}
	if sd := e.seen[device]; sd != nil {
		return e.planFor(device, sd.kind, sd.site, sd.building)
	}
	if e.cfg.Devices != nil {
		if d, ok := e.cfg.Devices.Lookup(device); ok {
			return e.planFor(d.ID, d.Kind, d.Site, d.Building)
		}
	}
	return &plan{device: device, facts: &facts{place: e.placeOf(c.Kind, "", ""), parent: ParentIngest}, ruleSet: &ruleSet{}}
}

// al is the episode's alarm, a zero one made if it has none yet.
func (st *episode) al() *Alarm {
	if st.alarm == nil {
		st.alarm = &Alarm{}
	}
	return st.alarm
}

// observe moves one rule on one device forward by one value at event
// time t, arriving at engine time now.
func (e *Engine) observe(ctx context.Context, c *compiled, p *plan, t, now time.Time, v devices.Value) {
	k := stateKey{c.key(), p.device}
	sl := e.state.slot(k) // found once: this runs for each rule and reading
	var st *episode
	if sl != nil {
		st = sl.st
	}
	var holds bool
	if st == nil {
		// At rest: a value older than the newest one seen decides
		// nothing; one that neither holds nor leaves anything in the
		// rule's memory leaves the rule at rest.
		if sl != nil && t.Before(sl.last.time()) {
			return
		}
		m := &e.scratch // not one allocation per rule at rest and value
		*m = memory{}
		holds = c.eval(m, t, v, p.base(c))
		if !holds && !m.remembers() {
			if sl == nil {
				sl = e.state.slotFor(k, p.room)
			}
			sl.last = stampOf(t)
			return
		}
		st = e.state.ensure(k, p.room)
		st.mem = *m
	} else {
		// A value older than what the rule has already seen must neither
		// raise nor clear anything: it describes a past the state has left.
		if t.Before(st.lastTime.time()) {
			return
		}
		holds = c.eval(&st.mem, t, v, p.base(c))
	}
	st.lastTime, st.lastArrival = stampOf(t), stampOf(now)
	e.unsave(p.device)
	x := v.Float()
	if !st.on {
		if !holds {
			st.pendingSince = 0
		} else {
			if st.pendingSince == 0 {
				st.pendingSince = stampOf(t)
				if c.op.runStart != nil {
					st.pendingSince = stampOf(c.op.runStart(&st.mem, t))
				}
				st.setPeak(x)
			}
			st.setValue(x)
			st.setPeak(worse(c, p.base(c), st.peakSoFar(), x))
			e.predicted(c, st)
			if !t.Before(st.pendingSince.time().Add(c.holdFor())) {
				e.turnOn(ctx, c, st, p.device, p, t, now)
			}
		}
	} else {
		st.setValue(x)
		cleared := !holds
		if c.clear != nil {
			cleared = c.clear(&st.mem, t, v, p.base(c))
		}
		if !cleared {
			st.clearSince = 0
			before := st.peakSoFar()
			st.setPeak(worse(c, p.base(c), before, x))
			e.predicted(c, st)
			e.newPeak(ctx, c, st, before)
		} else {
			if st.clearSince == 0 {
				st.clearSince = stampOf(t)
			}
			if !t.Before(st.clearSince.time().Add(c.ClearFor.Std())) {
				e.turnOff(ctx, c, st, t, now)
			}
		}
	}
	e.settle(ctx, c, st, t, now)
	e.track(k, c, st)
}

// observeTerms moves an all rule forward by one reading: its terms are
// evaluated on the reading's values, and their verdict is the episode's
// value (a flag). A reading without every term's metric, or one older
// than what the rule has seen, decides nothing; nor does one while the
// rule is held back, though its terms still see it.
func (e *Engine) observeTerms(ctx context.Context, c *compiled, p *plan, r devices.Reading, now time.Time) {
	k := stateKey{c.key(), p.device}
	st := e.state.get(k)
	var holds, ok bool
	if st == nil {
		if r.Time.Before(e.state.rest(k)) {
			return
		}
		m := &e.scratch
		*m = memory{}
		holds, ok = c.holdsAll(m, r.Time, r.Values, p.nominal)
		if m.remembers() {
			st = e.state.ensure(k, p.room)
			st.mem = *m
		}
	} else {
		if r.Time.Before(st.lastTime.time()) {
			return
		}
		holds, ok = c.holdsAll(&st.mem, r.Time, r.Values, p.nominal)
	}
	if st != nil {
		e.unsave(p.device) // its terms' memory moved
	}
	if !ok || e.heldBack(c, p) {
		return
	}
	e.observe(ctx, c, p, r.Time, now, devices.FlagValue(holds))
}

func (e *Engine) predicted(c *compiled, st *episode) {
	if x := st.mem.trend(); c.Condition.Op == OpTrendCrosses && st.hasAlarm() && x != nil && !x.predicted.IsZero() {
		p := x.predicted
		st.alarm.PredictedAt = &p
	}
}

// advance completes, at engine time now, what time alone decides for one
// episode. The episode's own clock is its last event time plus the time
// since that value arrived: for live data that is now, and for a backlog
// being replayed it moves with the replay, so a for-duration is not
// completed by wall-clock time between two replayed values.
func (e *Engine) advance(ctx context.Context, c *compiled, st *episode, device string, now time.Time) {
	at := now
	if st.lastArrival != 0 {
		at = st.lastTime.time().Add(now.Sub(st.lastArrival.time()))
	}
	switch {
	case c.op.byReading:
		// Only a reading decides.
	case !st.on && st.pendingSince != 0 && !at.Before(st.pendingSince.time().Add(c.holdFor())):
		e.turnOn(ctx, c, st, device, nil, st.pendingSince.time().Add(c.holdFor()), now)
	case st.on && st.clearSince != 0 && !at.Before(st.clearSince.time().Add(c.ClearFor.Std())):
		e.turnOff(ctx, c, st, st.clearSince.time().Add(c.ClearFor.Std()), now)
	}
	e.settle(ctx, c, st, at, now)
}

// track keeps the set of episodes that Tick must look at small.
func (e *Engine) track(k stateKey, c *compiled, st *episode) {
	pending := (!st.on && st.pendingSince != 0) || (st.on && st.clearSince != 0)
	if (pending && !c.op.byReading) || st.held || st.flapping {
		if !st.timed {
			e.timed[k], st.timed = st, true
		}
		return
	}
	e.untime(k, st)
}

// untime takes the episode out of the timed set (a map delete is spared
// when it is not in it).
func (e *Engine) untime(k stateKey, st *episode) {
	if st.timed {
		delete(e.timed, k)
		st.timed = false
	}
}

// late tells whether a decision at event time at, taken at engine time
// now, is beyond the lateness bound.
func (e *Engine) late(at, now time.Time) bool {
	return e.cfg.Lateness > 0 && now.Sub(at) > e.cfg.Lateness
}

// turnOn: the condition has held for its for-duration at event time at.
func (e *Engine) turnOn(ctx context.Context, c *compiled, st *episode, device string, p *plan, at, now time.Time) {
	st.on = true
	st.clearSince = 0
	if c.FlapCount > 0 { // without a flap guard no one counts them
		st.toggled(at)
	}
	if st.announced {
		return // held raised by the flap guard: the same episode goes on
	}
	a := e.alarmFor(c, st, device, p)
	a.ID = AlarmID(c.key(), a.Device, st.pendingSince.time())
	a.RaisedAt = at
	a.ClearedAt, a.ClearReason = nil, ""
	if c.FlapCount > 0 && countSince(st.toggles(), at.Add(-c.FlapWindow.Std())) > c.FlapCount {
		st.flapping, a.Flapping = true, true
	}
	if e.late(at, now) {
		st.held = true
		e.cfg.Logger.Info("late data raised an alarm: held until the data is current", "rule", c.ID, "device", a.Device,
			"raised_at", at, "lateness", now.Sub(at))
		return
	}
	e.announce(ctx, c, st)
}

func (e *Engine) announce(ctx context.Context, c *compiled, st *episode) {
	e.dirty[st.al().Device] = true
	e.unsave(st.al().Device)
	st.held = false
	st.announced = true
	a := st.al()
	a.State = Raised
	a.Message = describe(c, a)
	e.emit(ctx, *a)
}

// newPeak tells of an announced threshold alarm whose episode reached a
// worse value (Updated, the message quoting the new peak): the ticket and
// the screens say how bad it got, not only the first value over the
// threshold.
func (e *Engine) newPeak(ctx context.Context, c *compiled, st *episode, before float64) {
	if !st.announced || st.held || st.alarm.Peak == before || c.op.class != "value" || c.op.op == OpIs {
		return
	}
	a := st.al()
	a.State = Updated
	a.Message = describe(c, a)
	e.emit(ctx, *a)
}

// turnOff: the clear condition has held for clear_for at event time at.
func (e *Engine) turnOff(ctx context.Context, c *compiled, st *episode, at, now time.Time) {
	st.on = false
	st.pendingSince = 0
	st.clearSince = 0
	if c.FlapCount > 0 { // without a flap guard no one counts them
		st.toggled(at)
	}
	if st.held {
		if !e.late(at, now) {
			// It ended, but within the lateness bound: it was going on
			// a moment ago, so it is told, then cleared.
			e.announce(ctx, c, st)
			e.clearAlarm(ctx, st, at, ClearValue)
			return
		}
		st.held = false
		e.cfg.Logger.Info("late data: alarm episode long over, not raised", "rule", c.ID, "device", st.alarm.Device,
			"raised_at", st.alarm.RaisedAt, "cleared_at", at)
		return
	}
	if !st.announced {
		return
	}
	if c.FlapCount > 0 && (st.flapping || countSince(st.toggles(), at.Add(-c.FlapWindow.Std())) > c.FlapCount) {
		if !st.flapping {
			st.flapping, st.alarm.Flapping = true, true
			st.alarm.State = Updated
			e.emit(ctx, *st.alarm)
		}
		return
	}
	e.clearAlarm(ctx, st, at, ClearValue)
}

// settle ends flapping once the toggles within the window are back to
// flap_count (clearing the alarm if its condition has cleared), and
// releases a held raise once its data is current, or once no newer data
// has come for a lateness bound (the backlog is drained and the fault is
// still the last thing known).
func (e *Engine) settle(ctx context.Context, c *compiled, st *episode, at, now time.Time) {
	if st.flapping && countSince(st.toggles(), at.Add(-c.FlapWindow.Std())) <= c.FlapCount {
		st.flapping, st.alarm.Flapping = false, false
		if st.announced && !st.on {
			e.clearAlarm(ctx, st, at, ClearValue)
		} else if st.announced {
			st.alarm.State = Updated
			e.emit(ctx, *st.alarm)
		}
	}
	if st.held && st.on && (!e.late(st.lastTime.time(), now) || now.Sub(st.lastArrival.time()) >= e.cfg.Lateness) {
		e.announce(ctx, c, st)
	}
	if x := st.mem.trend(); c.FlapCount > 0 && x != nil && x.toggles != nil {
		ts := x.toggles
		x.toggles = ts[len(ts)-min(len(ts), c.FlapCount+1):]
	}
}

// forceOff ends an episode whatever its condition says (a recorded service).
func (e *Engine) forceOff(ctx context.Context, st *episode, at time.Time, reason string) {
	st.on, st.held, st.flapping = false, false, false
	st.pendingSince, st.clearSince = 0, 0
	if st.announced {
		e.clearAlarm(ctx, st, at, reason)
	}
}

// clearAlarm tells that an episode ended and why (one of the Clear*
// reasons), so the ticket records what cleared it.
func (e *Engine) clearAlarm(ctx context.Context, st *episode, at time.Time, reason string) {
	e.dirty[st.al().Device] = true
	e.unsave(st.al().Device)
	st.announced = false
	st.flapping = false
	a := st.al()
	a.State = Cleared
	a.ClearedAt = &at
	a.ClearReason = reason
	a.Flapping = false
	e.emit(ctx, *a)
}

func countSince(ts []time.Time, from time.Time) int {
	n := 0
	for _, t := range ts {
		if t.After(from) {
			n++
		}
	}
	return n
}

// worse keeps the peak in the direction the rule fears.
func worse(c *compiled, nominal, peak, x float64) float64 {
	d := c.op.worse
	if d == along {
		d = higher
		if c.Condition.Direction == "falling" {
			d = lower
		}
	}
	switch d {
	case higher:
		if x > peak {
			return x
		}
	case lower:
		if x < peak {
			return x
		}
	case away:
		if abs(x-center(c, nominal)) > abs(peak-center(c, nominal)) {
			return x
		}
	}
	return peak
}

// center is the middle of an outside band in the metric's own unit (the
// nominal itself when the band is relative).
func center(c *compiled, nominal float64) float64 {
	if c.Condition.Nominal != 0 {
		if nominal > 0 {
			return nominal
		}
		return c.Condition.Nominal
	}
	return (c.Condition.Low + c.Condition.High) / 2
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func (e *Engine) newAlarm(c *compiled, p *plan) Alarm {
	return Alarm{
		RuleID: c.ID, RuleName: c.Name, Device: p.device, Kind: c.Kind, Site: p.site, Building: p.building,
		Location: p.location, Metric: alarmMetric(c.Rule), Event: c.Condition.Event, Severity: c.Severity, Level: c.Level,
		Shadow: c.Mode == ModeShadow, Maintainer: p.maintainer, Commands: c.Commands,
		OpenTicket: c.Open == OpenTicket,
	}
}

// alarmMetric is the metric an alarm is of: the rule's, or for an all
// rule without one the first term's, so that it is one incident with the
// alarms of that metric of the device (LEL and CO rising together is the
// gas of the LEL alarm, one ticket, not a second one beside it).
func alarmMetric(r Rule) string {
	if r.Metric == "" && r.Condition.Op == "all" && len(r.Condition.Of) > 0 {
		return r.Condition.Of[0].Metric
	}
	return r.Metric
}

// describe writes the alarm's one-line message for tickets and screens.
func describe(c *compiled, a *Alarm) string {
	place := a.Device
	if a.Location != "" {
		place = a.Location + " (" + a.Device + ")"
	}
	msg := c.op.reads(c, a, place)
	if c.Action != "" {
		who := a.Maintainer
		if who == "" {
			who = "the lift maintenance contractor (维保单位) on record (the device names none: set its maintainer)"
		}
		msg += ". " + strings.ReplaceAll(c.Action, "{maintainer}", who)
	}
	return msg
}

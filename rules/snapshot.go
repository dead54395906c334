package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// What a restart must not forget: a pending for or clear_for, rate and
// trend windows, counter offsets, the first value of an unchanged run,
// when a calendar rule's device was last serviced (or first seen), each
// term's memory of an all condition, flap
// history, the alarms that hold other rules back (unless: kept as the
// episodes they are, and a held rule's pending episode stays held after
// a restart before its device's first reading), the alarm changes the
// sink has not taken yet. A Snapshotter saves it periodically and at
// shutdown, by device and only what changed (Engine.SaveChanges,
// snapshot_delta.go); Engine.RestoreState takes it back before the first
// reading. Engine.Snapshot writes it all out at once in the layout older
// instances saved, which RestoreSnapshot (and RestoreState) take back.

// snapshotFormat is the version of the snapshot's layout.
const snapshotFormat = 1

type snapshot struct {
	Format   int            `json:"format"`
	SavedAt  time.Time      `json:"saved_at"`
	Episodes []episodeState `json:"episodes"`
	Handoffs []Alarm        `json:"handoffs,omitempty"`
}

// episodeState is one episode as saved. Sig is what its rule tested
// (kind, metric or event, class of condition): the state is taken back
// only by a rule that still tests the same.
type episodeState struct {
	Rule         string      `json:"rule"`             // key: id, or id~shadow
	Device       string      `json:"device,omitempty"` // none in a device's row (StateDelta)
	Sig          string      `json:"sig"`
	LastTime     time.Time   `json:"last_time"`
	LastArrival  time.Time   `json:"last_arrival"`
	PendingSince time.Time   `json:"pending_since,omitzero"`
	ClearSince   time.Time   `json:"clear_since,omitzero"`
	On           bool        `json:"on,omitempty"`
	Announced    bool        `json:"announced,omitempty"`
	Held         bool        `json:"held,omitempty"`
	Flapping     bool        `json:"flapping,omitempty"`
	Toggles      []time.Time `json:"toggles,omitempty"`
	Mem          memoryState `json:"mem"`
	// Alarm: none until the rule first raised on the device; Value and
	// Peak of a run pending before that.
	Alarm *Alarm  `json:"alarm,omitempty"`
	Value float64 `json:"value,omitempty"`
	Peak  float64 `json:"peak,omitempty"`
	// Site and Building: where the device is, for a pending episode of a
	// rule that others may hold back (Rule.Unless) that has no alarm.
	Site     string `json:"site,omitempty"`
	Building string `json:"building,omitempty"`
}

type memoryState struct {
	HasPrev     bool         `json:"has_prev,omitempty"`
	PrevT       time.Time    `json:"prev_t,omitzero"`
	PrevX       float64      `json:"prev_x,omitempty"`
	Samples     [][2]float64 `json:"samples,omitempty"` // unix ms, value
	Predicted   time.Time    `json:"predicted,omitzero"`
	HasRaw      bool         `json:"has_raw,omitempty"`
	Raw         float64      `json:"raw,omitempty"`
	Offset      float64      `json:"offset,omitempty"`
	ServiceBase float64      `json:"service_base,omitempty"`
	BaseNext    bool         `json:"base_next,omitempty"`
	HasRef      bool         `json:"has_ref,omitempty"`
	Ref         float64      `json:"ref,omitempty"`
	RefSince    time.Time    `json:"ref_since,omitzero"`
	ServiceAt   time.Time    `json:"service_at,omitzero"`
	// Terms: the memory of each term of an all condition (a rate term's
	// previous value).
	Terms []memoryState `json:"terms,omitempty"`
}

// state writes a memory out as saved.
func (m *memory) state() memoryState {
	var ms memoryState
	switch m.of {
	case memPrev:
		ms.HasPrev, ms.PrevT, ms.PrevX = m.has, m.t.time(), m.x
	case memRef:
		ms.HasRef, ms.Ref, ms.RefSince = m.has, m.x, m.t.time()
	case memService:
		ms.ServiceAt = m.t.time()
	}
	if x := m.trend(); x != nil {
		ms.Predicted, ms.HasRaw, ms.Raw, ms.Offset, ms.ServiceBase, ms.BaseNext = x.predicted, x.hasRaw, x.raw, x.offset, x.serviceBase, x.baseNext
		for _, s := range x.samples {
			ms.Samples = append(ms.Samples, [2]float64{float64(s.t.UnixMilli()), s.x})
		}
	}
	for i := range m.terms() {
		ms.Terms = append(ms.Terms, m.ext.terms[i].state())
	}
	return ms
}

// memory takes a saved memory back.
func (ms memoryState) memory() memory {
	var m memory
	switch { // one of them at most: each op remembers one
	case ms.HasPrev || !ms.PrevT.IsZero() || ms.PrevX != 0:
		m = memory{of: memPrev, has: ms.HasPrev, t: stampOf(ms.PrevT), x: ms.PrevX}
	case ms.HasRef || !ms.RefSince.IsZero() || ms.Ref != 0:
		m = memory{of: memRef, has: ms.HasRef, t: stampOf(ms.RefSince), x: ms.Ref}
	case !ms.ServiceAt.IsZero():
		m = serviceMemory(stampOf(ms.ServiceAt))
	}
	if len(ms.Samples) > 0 || !ms.Predicted.IsZero() || ms.HasRaw || ms.Raw != 0 || ms.Offset != 0 || ms.ServiceBase != 0 || ms.BaseNext {
		x := m.more()
		x.predicted, x.hasRaw, x.raw, x.offset, x.serviceBase, x.baseNext = ms.Predicted, ms.HasRaw, ms.Raw, ms.Offset, ms.ServiceBase, ms.BaseNext
		for _, s := range ms.Samples {
			x.samples = append(x.samples, sample{time.UnixMilli(int64(s[0])).UTC(), s[1]})
		}
	}
	for _, t := range ms.Terms {
		m.withTerms().terms = append(m.withTerms().terms, t.memory())
	}
	return m
}

func signature(c *compiled) string {
	return string(c.Kind) + "|" + c.Metric + "|" + c.Condition.Event + "|" + c.op.class
}

// worthKeeping: the episode holds something a restart would lose (a
// value-rule episode at rest is rebuilt by the next reading).
func (st *episode) worthKeeping(c *compiled) bool {
	return st.on || st.announced || st.held || st.flapping || st.pendingSince != 0 || st.clearSince != 0 ||
		(c.FlapCount > 0 && len(st.toggles()) > 0) || st.mem.remembers()
}

// remembers tells whether a memory holds anything the next value needs.
func (m *memory) remembers() bool {
	if m.has || m.service() != 0 {
		return true
	}
	if x := m.trend(); x != nil && (len(x.samples) > 0 || x.hasRaw || x.baseNext || x.serviceBase != 0) {
		return true
	}
	for i := range m.terms() {
		if m.ext.terms[i].remembers() {
			return true
		}
	}
	return false
}

// Snapshot writes out the state a restart must not forget. Under the
// lock it copies each episode worth keeping (its fixed part, and what it
// points to); the JSON, the bulk of the memory, is written after, one
// episode at a time into one buffer sized from the last snapshot, so
// that 100 000 devices do not hold a second copy of their state as
// structs for the encoder nor a third in its growing buffer.
func (e *Engine) Snapshot() ([]byte, error) {
	e.mu.Lock()
	savedAt := e.cfg.Now().UTC()
	eps := make([]savedEpisode, 0, e.snapshotEpisodes+e.snapshotEpisodes/8)
	for dev, ds := range e.state.devs {
		for i := range ds.slots {
			if sv, ok := e.saveSlot(dev, *ds.rules.keys[i], &ds.slots[i]); ok {
				eps = append(eps, sv)
			}
		}
	}
	handoffs := e.handoffList()
	hint := e.snapshotSize
	e.snapshotEpisodes = len(eps)
	e.mu.Unlock()
	sort.Slice(eps, func(i, j int) bool {
		a, b := eps[i].k, eps[j].k
		return a.rule < b.rule || (a.rule == b.rule && a.device < b.device)
	})
	var buf bytes.Buffer
	buf.Grow(hint + hint/8)
	head, err := json.Marshal(struct {
		Format  int       `json:"format"`
		SavedAt time.Time `json:"saved_at"`
	}{snapshotFormat, savedAt})
	if err != nil {
		return nil, err
	}
	buf.Write(head[:len(head)-1])
	buf.WriteString(`,"episodes":`)
	if len(eps) == 0 {
		buf.WriteString("null")
	}
	enc := json.NewEncoder(&buf) // straight into buf: no copy of each episode's JSON
	var es episodeState
	for i := range eps {
		if i == 0 {
			buf.WriteByte('[')
		} else {
			buf.WriteByte(',')
		}
		if err := eps[i].encode(enc, &buf, &es, true); err != nil {
			return nil, err
		}
		eps[i] = savedEpisode{} // let it go as it is written
	}
	if len(eps) > 0 {
		buf.WriteByte(']')
	}
	if len(handoffs) > 0 {
		b, err := json.Marshal(handoffs)
		if err != nil {
			return nil, err
		}
		buf.WriteString(`,"handoffs":`)
		buf.Write(b)
	}
	buf.WriteByte('}')
	e.mu.Lock()
	e.snapshotSize = buf.Len()
	e.mu.Unlock()
	return buf.Bytes(), nil
}

// savedEpisode is an episode worth keeping, copied under the lock to be
// written out after.
type savedEpisode struct {
	k   stateKey
	c   *compiled
	st  episode
	loc *plan // where the device is, for a pending unless episode without an alarm
}

// saveSlot copies a slot's episode worth keeping, or what a calendar rule
// at rest keeps (its last service, saved as the episode it would be).
// Under the lock.
func (e *Engine) saveSlot(device, rule string, sl *slot) (savedEpisode, bool) {
	k := stateKey{rule, device}
	if sl.st != nil {
		return e.saveEpisode(k, sl.st)
	}
	if c := e.rules[k.rule]; c != nil && sl.last != 0 && c.op.subject == onCalendar {
		return savedEpisode{k: k, c: c, st: episode{mem: serviceMemory(sl.last)}}, true
	}
	return savedEpisode{}, false
}

// saveEpisode copies an episode worth keeping (its fixed part, and what it
// points to); false if a restart would not miss it. Under the lock.
func (e *Engine) saveEpisode(k stateKey, st *episode) (savedEpisode, bool) {
	c := e.rules[k.rule]
	if c == nil || !st.worthKeeping(c) {
		return savedEpisode{}, false
	}
	sv := savedEpisode{k: k, c: c, st: *st}
	sv.st.mem = st.mem.clone()
	if st.alarm != nil {
		a := *st.alarm
		sv.st.alarm = &a
	}
	if c.FlapCount > 0 { // flap history; without a flap guard toggles mean nothing
		ts := st.toggles()
		sv.st.setToggles(append([]time.Time(nil), ts[len(ts)-min(len(ts), c.FlapCount+1):]...))
	} else {
		sv.st.setToggles(nil)
	}
	if st.alarm == nil && len(c.Unless) > 0 && st.pendingSince != 0 && !e.registered(k.device) {
		// where the device is, so that after a restart, before its
		// next reading, the rules that hold this one back are found
		sv.loc = e.anyPlan(c, k.device)
	}
	return sv, true
}

// encode writes the episode as saved into buf through enc (an encoder
// writing into buf), without the newline; withDevice false leaves the
// device out (a device's row names it).
//
// es is the caller's scratch, reused from one episode to the next: the
// encoder takes its value as an interface, and a new one for every
// episode was the bulk of what a save allocated.
func (sv *savedEpisode) encode(enc *json.Encoder, buf *bytes.Buffer, es *episodeState, withDevice bool) error {
	st := &sv.st
	*es = episodeState{Rule: sv.k.rule, Sig: signature(sv.c), LastTime: st.lastTime.time(),
		LastArrival: st.lastArrival.time(), PendingSince: st.pendingSince.time(), ClearSince: st.clearSince.time(), On: st.on,
		Announced: st.announced, Held: st.held, Flapping: st.flapping,
		Mem: st.mem.state(), Value: st.value, Peak: st.peak, Alarm: st.alarm, Toggles: st.toggles()}
	if withDevice {
		es.Device = sv.k.device
	}
	if sv.loc != nil {
		es.Site, es.Building = sv.loc.site, sv.loc.building
	}
	if err := enc.Encode(es); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // the newline Encode ends with
	return nil
}

// handoffList is the alarm changes the sink has not taken, in order:
// those refused, then those queued (Config.HandOffLater), which go
// behind any refused change of the same alarm. Under the lock.
func (e *Engine) handoffList() []Alarm {
	var out []Alarm
	for _, id := range e.handoffs.order {
		out = append(out, e.handoffs.byID[id]...)
	}
	return append(out, e.out.list()...)
}

// registered tells whether the registry knows the device.
func (e *Engine) registered(device string) bool {
	if e.cfg.Devices == nil {
		return false
	}
	_, ok := e.cfg.Devices.Lookup(device)
	return ok
}

// clone copies a memory, and what it points to.
func (m memory) clone() memory {
	if m.ext == nil {
		return m
	}
	x := *m.ext
	if x.trendMemory != nil {
		tm := *x.trendMemory
		tm.samples = append([]sample(nil), tm.samples...)
		tm.toggles = append([]time.Time(nil), tm.toggles...)
		x.trendMemory = &tm
	}
	if x.terms != nil {
		x.terms = make([]memory, len(m.ext.terms))
		for i := range m.ext.terms {
			x.terms[i] = m.ext.terms[i].clone()
		}
	}
	m.ext = &x
	return m
}

// RestoreSnapshot takes back a whole snapshot (Snapshot, or what an
// older instance saved), before any reading comes. The
// state of a rule that is gone, or now tests something else, is dropped.
// Staleness is not in it: registered devices are watched from the first
// tick, so the time Caretaker was down does not count as their silence.
// Call it before Restore.
func (e *Engine) RestoreSnapshot(b []byte) (episodes int, err error) {
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return 0, fmt.Errorf("rule state snapshot: %w", err)
	}
	if s.Format != snapshotFormat {
		return 0, fmt.Errorf("rule state snapshot: format %d, want %d", s.Format, snapshotFormat)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, es := range s.Episodes {
		if e.restoreEpisode(es) {
			episodes++
		}
		// an older instance's snapshot: the device's row is written at
		// the next StateDelta
		e.unsave(es.Device)
	}
	for _, a := range s.Handoffs {
		e.handoffs.add(a)
	}
	return episodes, nil
}

// restoreEpisode takes back one saved episode; false if its rule is gone
// or now tests something else. Under the lock.
func (e *Engine) restoreEpisode(es episodeState) bool {
	c := e.rules[es.Rule]
	if c == nil || signature(c) != es.Sig {
		return false
	}
	k := stateKey{es.Rule, es.Device}
	if c.op.subject == onCalendar && atRest(es) {
		e.state.slotFor(k, 1).last = stampOf(es.Mem.ServiceAt) // a calendar rule at rest keeps its last service alone
		return true
	}
	st := &episode{lastTime: stampOf(es.LastTime), lastArrival: stampOf(es.LastArrival), pendingSince: stampOf(es.PendingSince),
		clearSince: stampOf(es.ClearSince), on: es.On, announced: es.Announced, held: es.Held, flapping: es.Flapping,
		alarm: es.Alarm, mem: es.Mem.memory(), value: es.Value, peak: es.Peak}
	if len(es.Toggles) > 0 {
		st.setToggles(es.Toggles)
	}
	if st.alarm != nil && st.alarm.RuleID == "" {
		st.alarm = nil // an older snapshot: a rule that never held kept an empty alarm
	}
	e.state.put(k, st)
	if !st.hasAlarm() && (es.Site != "" || es.Building != "") && e.plan[es.Device] == nil {
		e.planFor(es.Device, c.Kind, es.Site, es.Building)
	}
	e.track(k, c, st)
	return true
}

// atRest tells a saved calendar episode that holds nothing but the last
// service: not due, never raised.
func atRest(es episodeState) bool {
	return !es.On && !es.Announced && !es.Held && !es.Flapping && es.PendingSince.IsZero() && es.ClearSince.IsZero() &&
		es.LastTime.IsZero() && es.LastArrival.IsZero() && es.Value == 0 && es.Peak == 0 &&
		len(es.Toggles) == 0 && (es.Alarm == nil || es.Alarm.RuleID == "") && !es.Mem.ServiceAt.IsZero() &&
		es.Mem.memory() == serviceMemory(stampOf(es.Mem.ServiceAt))
}

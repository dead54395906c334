package rules

import (
	"iter"
	"time"
)

// stateTable holds the state of every rule on every device, by device: a
// few slots each, found by the rule's key. A slot holds the rule's episode
// once the rule needs one on the device (its condition held, or its
// memory keeps something for the next value: a previous value, a run,
// the last service); before that, a rule that only compares each value
// with a threshold keeps nothing on the device but the event time of the
// newest value it saw, so that an older value arriving later still
// decides nothing. A device gets slots only for rules that looked at its
// data, so only rules that apply to its kind and scope.
type stateTable struct {
	devs     map[string]*devState
	episodes int
	// keys: the rule keys, each kept once; root: the empty list of them,
	// from which every device's list is reached (see keySeq).
	keys map[string]*string
	root *keySeq
	// lastDev, lastDS: the device found last and its state (a reading
	// asks for one device's slots once per rule; a backtest asks for the
	// same device every time). Forgotten when the device's state is.
	lastDev string
	lastDS  *devState
}

// dev returns the device's state, nil if it has none.
func (s *stateTable) dev(device string) *devState {
	if s.lastDS != nil && s.lastDev == device {
		return s.lastDS
	}
	ds := s.devs[device]
	if ds != nil {
		s.lastDev, s.lastDS = device, ds
	}
	return ds
}

// devState is a device's slots, and the rule of each in order: a list
// shared by every device whose slots were made in the same order (all
// the devices of one kind, mostly), not a key in each slot (16 bytes a
// slot, not 24).
type devState struct {
	rules *keySeq
	slots []slot
}

type slot struct {
	last stamp    // at rest (st nil): event time of the newest value seen; of a calendar rule, its last service (ensureCalendar)
	st   *episode // nil: at rest
}

// service is a calendar rule's last service on the slot's device: in
// its episode's memory when it has one, else kept at rest in last.
func (sl *slot) service() stamp {
	if sl.st != nil {
		return sl.st.mem.service()
	}
	return sl.last
}

// setService records a calendar rule's last service where service reads it.
func (sl *slot) setService(at stamp) {
	if sl.st != nil {
		sl.st.mem.setService(at)
		return
	}
	sl.last = at
}

// keySeq is a list of rule keys, made once: the lists one key longer are
// found from it (next), so that devices whose slots were made in the
// same order share one list. Read only once made.
type keySeq struct {
	keys []*string
	next map[*string]*keySeq
}

// with is the list with key k added at the end.
func (q *keySeq) with(k *string) *keySeq {
	if n := q.next[k]; n != nil {
		return n
	}
	if q.next == nil {
		q.next = map[*string]*keySeq{}
	}
	n := &keySeq{keys: append(append(make([]*string, 0, len(q.keys)+1), q.keys...), k)}
	q.next[k] = n
	return n
}

// seq is the list of these keys, in this order.
func (s *stateTable) seq(keys []*string) *keySeq {
	q := s.root
	for _, k := range keys {
		q = q.with(k)
	}
	return q
}

// stamp is a time as unix nanoseconds, 0 for none: a third of a
// time.Time, for the times every episode keeps. Times come back in UTC.
type stamp int64

func stampOf(t time.Time) stamp {
	if t.IsZero() {
		return 0
	}
	return stamp(t.UnixNano())
}

func (s stamp) time() time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(s)).UTC()
}

func newStateTable() stateTable {
	return stateTable{devs: map[string]*devState{}, keys: map[string]*string{}, root: &keySeq{}}
}

// key is the rule key k, as the table keeps it.
func (s *stateTable) key(k string) *string {
	p := s.keys[k]
	if p == nil {
		p = &k
		s.keys[k] = p
	}
	return p
}

func (s *stateTable) slot(k stateKey) *slot {
	ds := s.dev(k.device)
	if ds == nil {
		return nil
	}
	for i, r := range ds.rules.keys {
		if *r == k.rule {
			return &ds.slots[i]
		}
	}
	return nil
}

// get returns the rule's episode on the device; nil if it has none.
func (s *stateTable) get(k stateKey) *episode {
	if sl := s.slot(k); sl != nil {
		return sl.st
	}
	return nil
}

// rest is the event time of the newest value a rule at rest on the device
// saw (zero: none, or the rule has an episode).
func (s *stateTable) rest(k stateKey) time.Time {
	if sl := s.slot(k); sl != nil && sl.st == nil {
		return sl.last.time()
	}
	return time.Time{}
}

// slotFor finds or makes the device's slot of a rule; room is how many
// slots a new device's list has room for.
func (s *stateTable) slotFor(k stateKey, room int) *slot {
	if sl := s.slot(k); sl != nil {
		return sl
	}
	ds := s.dev(k.device)
	if ds == nil {
		ds = &devState{rules: s.root, slots: make([]slot, 0, max(room, 1))}
		s.devs[k.device] = ds
	}
	ds.rules = ds.rules.with(s.key(k.rule))
	ds.slots = append(ds.slots, slot{})
	return &ds.slots[len(ds.slots)-1]
}

// put gives a rule an episode on a device (replacing what it had).
func (s *stateTable) put(k stateKey, st *episode) {
	sl := s.slotFor(k, 1)
	if sl.st == nil {
		s.episodes++
	}
	sl.st, sl.last = st, 0
}

// ensure returns the rule's episode on the device, making it if there is
// none: it takes over what the rule at rest remembered.
func (s *stateTable) ensure(k stateKey, room int) *episode {
	sl := s.slotFor(k, room)
	if sl.st == nil {
		sl.st = &episode{lastTime: sl.last}
		sl.last = 0
		s.episodes++
	}
	return sl.st
}

// ensureCalendar is ensure for a calendar rule (service_overdue): at
// rest, its slot's last is when the device was last serviced, or first
// seen, and the episode made takes it over as such.
func (s *stateTable) ensureCalendar(k stateKey, room int) *episode {
	sl := s.slotFor(k, room)
	if sl.st == nil {
		sl.st = &episode{mem: serviceMemory(sl.last)}
		sl.last = 0
		s.episodes++
	}
	return sl.st
}

// del forgets the rule on the device.
func (s *stateTable) del(k stateKey) {
	ds := s.devs[k.device]
	if ds == nil {
		return
	}
	for i, r := range ds.rules.keys {
		if *r != k.rule {
			continue
		}
		if ds.slots[i].st != nil {
			s.episodes--
		}
		ds.slots = append(ds.slots[:i], ds.slots[i+1:]...)
		if len(ds.slots) == 0 {
			delete(s.devs, k.device)
			if s.lastDS == ds {
				s.lastDev, s.lastDS = "", nil
			}
			return
		}
		keys := ds.rules.keys
		ds.rules = s.seq(append(append(make([]*string, 0, len(keys)-1), keys[:i]...), keys[i+1:]...))
		return
	}
}

// all yields every episode (not the rules at rest). The table must not
// change while it runs.
func (s *stateTable) all() iter.Seq2[stateKey, *episode] {
	return func(yield func(stateKey, *episode) bool) {
		for dev, ds := range s.devs {
			for i := range ds.slots {
				if st := ds.slots[i].st; st != nil && !yield(stateKey{*ds.rules.keys[i], dev}, st) {
					return
				}
			}
		}
	}
}

// devicesOf lists the devices with a slot of a rule, at rest or not.
func (s *stateTable) devicesOf(rule string) []string {
	var out []string
	for dev, ds := range s.devs {
		for _, r := range ds.rules.keys {
			if *r == rule {
				out = append(out, dev)
				break
			}
		}
	}
	return out
}

// Stats counts what the engine keeps.
type Stats struct {
	// Devices is how many devices have any rule state; Slots how many
	// (rule, device) pairs, at rest or not; Episodes how many of those
	// hold an episode; Alarms how many episodes hold an alarm record
	// (their rule held on the device at some time).
	Devices, Slots, Episodes, Alarms int
	// Plans is how many device plans are cached; RuleSets how many
	// distinct rule lists they share; Facts how many distinct device
	// facts (place, location, nominal values, ratings...) they share, and
	// Places how many distinct places (kind, site, building) the plans
	// and the devices heard from point to; SlotLists how many distinct
	// lists of the rules of their slots the devices share.
	Plans, RuleSets, Facts, Places, SlotLists int
	// Rules: the same by rule key (id, or id~shadow).
	Rules map[string]RuleStats
}

// RuleStats is the state one rule keeps over all devices.
type RuleStats struct{ Slots, Episodes, Alarms int }

// Stats counts the state the engine keeps, for tests and the memory
// benchmark.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := Stats{Devices: len(e.state.devs), Episodes: e.state.episodes, Plans: len(e.plan), Rules: map[string]RuleStats{}}
	lists := map[*keySeq]bool{}
	for _, ds := range e.state.devs {
		lists[ds.rules] = true
		s.Slots += len(ds.slots)
		for i := range ds.slots {
			sl, key := &ds.slots[i], *ds.rules.keys[i]
			r := s.Rules[key]
			r.Slots++
			if sl.st != nil {
				r.Episodes++
				if sl.st.alarm != nil {
					r.Alarms++
					s.Alarms++
				}
			}
			s.Rules[key] = r
		}
	}
	sets := map[*ruleSet]bool{}
	for _, p := range e.plan {
		sets[p.ruleSet] = true
	}
	s.RuleSets = len(sets)
	facts, places := map[*facts]bool{}, map[*place]bool{}
	for _, p := range e.plan {
		facts[p.facts] = true
		places[p.place] = true
	}
	for _, sd := range e.seen {
		places[sd.place] = true
	}
	s.Facts, s.Places, s.SlotLists = len(facts), len(places), len(lists)
	return s
}

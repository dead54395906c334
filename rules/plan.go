package rules

import (
	"sort"
	"strings"

	"github.com/caretaker-iot/caretaker/devices"
)

// plan is what the engine knows of one device: the rules that apply to it
// after scope resolution, and the registry facts alarms need. Plans are
// cached per device and dropped whenever a rule changes.
type plan struct {
	device string
	*facts // shared by the devices with the same facts
	*ruleSet
}

// ruleSet is the rules that apply to a device, shared (read only) by
// every device to which the same rules apply, so that a device's plan
// holds no list of its own.
type ruleSet struct {
	rules      []*compiled // metric and event rules, most severe first
	stale      []*compiled
	calendar   []*compiled // service_overdue rules
	inBuilding []*compiled // building_alarm rules that raise on this device
	// heldBy is, for each rule of rules that names families in Unless,
	// the live rules of rules in those families (see heldBack).
	heldBy map[*compiled][]*compiled
	// room is how many rules in all: a device's state has room for as
	// many slots.
	room int
}

// planFor returns the device's plan, building it when the cache has none
// or the device now reports another kind or place.
func (e *Engine) planFor(device string, kind devices.Kind, site, building string) *plan {
	p := e.lastFor(device).plan
	if p == nil {
		p = e.plan[device]
	}
	if p != nil && p.kind == kind && p.site == site && p.building == building {
		e.lastFor(device).plan = p
		return p
	}
	p = &plan{device: device}
	f := facts{place: e.placeOf(kind, site, building), parent: ParentIngest}
	who := devices.Device{ID: device, Kind: kind, Site: site, Building: building}
	if e.cfg.Devices != nil {
		if d, ok := e.cfg.Devices.Lookup(device); ok {
			f.location, f.nominal, f.parent, f.maintainer = d.Location, d.Nominal, parentOf(d), d.Maintainer
			who.BreakerA = d.BreakerA
			for _, name := range devices.Ratings() {
				if v := d.Rating(name); v > 0 {
					if f.ratings == nil {
						f.ratings = map[string]float64{}
					}
					f.ratings[name] = v
				}
			}
			who.PlaceType, who.MachineClass, who.Model = d.PlaceType, d.MachineClass, d.Model
		}
	}
	p.facts = e.factsOf(f)
	prof := e.profile(who)
	if p.ruleSet = e.byProfile[prof]; p.ruleSet == nil {
		all, stale := e.applicable(who)
		p.ruleSet = e.sharedSet(all, stale)
		e.byProfile[prof] = p.ruleSet
	}
	e.plan[device] = p
	e.lastFor(device).plan = p
	return p
}

// profile is what scope resolution looks at of a device: devices with
// the same profile get the same rules, so the rules are resolved once
// per profile, not once per device (100 000 devices start in a few
// kinds, sites, buildings and properties). The device's id is in it only
// when a rule's scope names the device.
func (e *Engine) profile(d devices.Device) string {
	if e.named == nil {
		e.named = map[string]bool{}
		for _, c := range e.rules {
			if c.Scope.Device != "" {
				e.named[c.Scope.Device] = true
			}
		}
	}
	id := ""
	if e.named[d.ID] {
		id = d.ID
	}
	var b strings.Builder
	for _, s := range []string{string(d.Kind), d.Site, d.Building, id, d.PlaceType, d.MachineClass, d.Model} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	for _, r := range devices.Ratings() {
		if d.Rating(r) > 0 {
			b.WriteString(r)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// sharedSet returns the rule set of these rules, made once for all the
// devices they apply to.
func (e *Engine) sharedSet(all, stale []*compiled) *ruleSet {
	var key strings.Builder
	for _, c := range all {
		key.WriteString(c.key())
		key.WriteByte(0)
	}
	key.WriteByte(1)
	for _, c := range stale {
		key.WriteString(c.key())
		key.WriteByte(0)
	}
	if rs := e.sets[key.String()]; rs != nil {
		return rs
	}
	rs := &ruleSet{stale: stale}
	for _, c := range all {
		switch c.op.subject {
		case onCalendar:
			rs.calendar = append(rs.calendar, c)
		case onBuilding:
			if c.Condition.Op == OpBuildingAlarm {
				rs.inBuilding = append(rs.inBuilding, c)
			}
		default:
			rs.rules = append(rs.rules, c)
		}
	}
	rs.heldBy = heldBy(rs.rules)
	rs.room = len(rs.rules) + len(rs.stale) + len(rs.calendar) + len(rs.inBuilding)
	e.sets[key.String()] = rs
	return rs
}

// applicable resolves scopes: of the enabled live rules of the device's
// kind whose scope matches it, each family (Rule.Family) keeps only its
// narrowest-scoped members (Scope.Narrowness: device > building > site >
// kind, then the number of properties selected on; members of equal
// narrowness all apply). Shadow versions apply wherever their own scope
// matches.
func (e *Engine) applicable(d devices.Device) (metric, stale []*compiled) {
	narrowest := map[string]int{}
	var cand []*compiled
	for _, c := range e.rules {
		if c.Kind != d.Kind || !c.IsEnabled() || !c.Scope.Matches(d) {
			continue
		}
		if r := c.Condition.Rating; r != "" && d.Rating(r) <= 0 {
			continue // a rule against a rating the device does not give
		}
		cand = append(cand, c)
		if c.Mode == ModeLive {
			f := c.Family()
			if n, ok := narrowest[f]; !ok || c.Scope.Narrowness() > n {
				narrowest[f] = c.Scope.Narrowness()
			}
		}
	}
	for _, c := range cand {
		if c.Mode == ModeLive && c.Scope.Narrowness() < narrowest[c.Family()] {
			continue
		}
		if c.op.subject == onDevice {
			stale = append(stale, c)
		} else {
			metric = append(metric, c)
		}
	}
	// The most severe rules first: when one reading crosses both the
	// pre-alarm and the alarm level, the emergency goes out first.
	order := func(s []*compiled) {
		sort.Slice(s, func(i, j int) bool {
			if s[i].Level != s[j].Level {
				return s[i].Level < s[j].Level
			}
			return s[i].key() < s[j].key()
		})
	}
	order(metric)
	order(stale)
	return metric, stale
}

// base is what a relative condition of c measures against on this
// device: the rating it names, or the device's nominal value of the
// metric.
func (p *plan) base(c *compiled) float64 {
	if r := c.Condition.Rating; r != "" {
		return p.ratings[r]
	}
	return p.nominal[c.Metric]
}

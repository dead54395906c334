package rules

import (
	"context"
	"slices"
	"sort"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Building rules watch the alarms of other rules across the devices of
// one building: several leak probes wet at once (building_count, one
// alarm for the building) or a power outage in a building with lifts
// (building_alarm, an alarm on every lift there). They are worked out
// after each reading, event and tick that raised or cleared an alarm
// (Engine.derive), from the devices the engine has seen; they watch
// plain rules, not other building rules.

// GroupID names the building of a building_count alarm, which stands in
// its Device.
func GroupID(site, building string) string { return "building:" + site + "/" + building }

type buildingKey struct{ site, building string }

// derive re-evaluates the building rules for the buildings whose devices
// raised or cleared an alarm since it last ran.
func (e *Engine) derive(ctx context.Context, now time.Time) {
	if len(e.dirty) == 0 {
		return
	}
	var watch []*compiled
	for _, c := range e.rules {
		if c.op.subject == onBuilding && c.IsEnabled() {
			watch = append(watch, c)
		}
	}
	if len(watch) == 0 {
		clear(e.dirty)
		return
	}
	sort.Slice(watch, func(i, j int) bool { return watch[i].key() < watch[j].key() })
	todo := map[buildingKey]bool{}
	for id := range e.dirty {
		if sd := e.seen[id]; sd != nil {
			todo[buildingKey{sd.site, sd.building}] = true
		}
	}
	clear(e.dirty)
	keys := make([]buildingKey, 0, len(todo))
	for b := range todo {
		keys = append(keys, b)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].site < keys[j].site || (keys[i].site == keys[j].site && keys[i].building < keys[j].building)
	})
	for _, b := range keys {
		members := e.inBuilding(b)
		for _, c := range watch {
			if !c.Scope.Matches(devices.Device{Site: b.site, Building: b.building}) {
				continue
			}
			n := e.countOn(members, c.Condition.Rules)
			switch c.Condition.Op {
			case OpBuildingCount:
				e.observe(ctx, c, e.groupPlan(c, b), now, now, devices.Num(float64(n)))
			case OpBuildingAlarm:
				for _, id := range members {
					sd := e.seen[id]
					if sd.kind != c.Kind {
						continue
					}
					p := e.planFor(id, sd.kind, sd.site, sd.building)
					if !slices.Contains(p.inBuilding, c) {
						continue
					}
					e.observe(ctx, c, p, now, now, devices.FlagValue(n > 0))
				}
			}
		}
	}
	// The building rules' own raises and clears count for nothing here.
	clear(e.dirty)
}

// inBuilding lists the devices seen in a building, sorted.
func (e *Engine) inBuilding(b buildingKey) []string {
	var out []string
	for id, sd := range e.seen {
		if sd.site == b.site && sd.building == b.building {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// countOn counts the devices with an alarm of one of the families on.
func (e *Engine) countOn(ids []string, families []string) int {
	n := 0
	for _, id := range ids {
		sd := e.seen[id]
		p := e.planFor(id, sd.kind, sd.site, sd.building)
		if e.anyOn(id, p.rules, families) || e.anyOn(id, p.stale, families) {
			n++
		}
	}
	return n
}

// anyOn tells whether one of rules, a live member of one of the families,
// has its alarm on for the device.
func (e *Engine) anyOn(id string, rules []*compiled, families []string) bool {
	for _, o := range rules {
		if o.Mode != ModeLive || !slices.Contains(families, o.Family()) {
			continue
		}
		if st := e.state.get(stateKey{o.key(), id}); st != nil && st.announced {
			return true
		}
	}
	return false
}

// groupPlan is the plan of a building_count alarm: the building stands
// for the device.
func (e *Engine) groupPlan(c *compiled, b buildingKey) *plan {
	id := GroupID(b.site, b.building)
	p := e.groups[id]
	if p == nil {
		p = &plan{device: id, facts: &facts{place: e.placeOf(c.Kind, b.site, b.building), parent: ParentIngest,
			location: "building " + b.building}, ruleSet: &ruleSet{}}
		e.groups[id] = p
	}
	return p
}

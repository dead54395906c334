package notify

import "time"

// Rosters are all the rosters of a site.
type Rosters []Roster

// OnDuty returns the names of the people on duty at the given moment for
// a ticket of the zone and skill, in roster order, each once. A roster
// without zones covers every zone, one without skills every skill; an
// empty zone or skill (the ticket has none) is covered by every roster.
// Shifts are read as wall-clock time in loc. Shifts that do not parse are
// skipped (Validate refuses them).
func (rs Rosters) OnDuty(at time.Time, loc *time.Location, zone, skill string) []string {
	if loc == nil {
		loc = time.UTC
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range rs {
		if zone != "" && len(r.Zones) > 0 && !contains(r.Zones, zone) {
			continue
		}
		if skill != "" && len(r.Skills) > 0 && !contains(r.Skills, skill) {
			continue
		}
		if !r.covers(at, loc) {
			continue
		}
		for _, p := range r.People {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func (r Roster) covers(at time.Time, loc *time.Location) bool {
	for _, s := range r.Shifts {
		sh, err := ParseShift(s)
		if err == nil && sh.Covers(at, loc) {
			return true
		}
	}
	return false
}

package rules

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/caretaker-iot/caretaker/devices"
)

// place is where a device is and what it is, as it reports itself: kept
// once for all the devices of the same kind, site and building (a few
// dozen of them for 100 000 devices), not three strings each.
type place struct {
	kind           devices.Kind
	site, building string
}

// facts is what a plan knows of a device besides its id and its rules:
// its place and the registry facts alarms and relative conditions need.
// Read only once made, and kept once for all the devices with the same
// facts (see factsOf), not in each device's plan.
type facts struct {
	*place
	location   string
	maintainer string
	nominal    map[string]float64
	ratings    map[string]float64 // the device's ratings (devices.Device.Rating), by name
	parent     string
}

// placeOf returns the place, the one kept for all devices there.
func (e *Engine) placeOf(kind devices.Kind, site, building string) *place {
	return e.places.Of(place{kind: kind, site: site, building: building})
}

// factsOf returns f as kept for every device with the same facts: the
// first device's maps stand for the equal maps of the others (nothing
// writes to them).
func (e *Engine) factsOf(f facts) *facts {
	var b strings.Builder
	for _, s := range []string{string(f.kind), f.site, f.building, f.location, f.maintainer, f.parent} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	for _, m := range []map[string]float64{f.nominal, f.ratings} {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			b.WriteString(n)
			b.WriteByte(0)
			b.WriteString(strconv.FormatUint(math.Float64bits(m[n]), 16))
			b.WriteByte(0)
		}
		b.WriteByte(1)
	}
	key := b.String()
	if p := e.facts[key]; p != nil {
		return p
	}
	p := &f
	e.facts[key] = p
	return p
}

package rules

import (
	"slices"
)

// heldBack tells whether rule c is held back on the plan's device by the
// alarm of a family it names in Unless (Rule.Unless); if so, a pending
// for-duration of c is dropped, so that the time spent held back does not
// count towards raising it.
func (e *Engine) heldBack(c *compiled, p *plan) bool {
	for _, o := range p.heldBy[c] {
		if st := e.state.get(stateKey{o.key(), p.device}); st == nil || !st.on {
			continue
		}
		k := stateKey{c.key(), p.device}
		if mine := e.state.get(k); mine != nil && !mine.on {
			if mine.pendingSince != 0 || mine.mem.hasRef() {
				e.unsave(p.device)
			}
			mine.pendingSince = 0
			if mine.mem.of == memRef {
				mine.mem.has = false // an unchanged run starts again after it
			}
			e.track(k, c, mine)
		}
		return true
	}
	return false
}

// heldBy finds, for each of rules that names families in Unless, the live
// rules among rules in those families, once per plan rather than on every
// reading.
func heldBy(rules []*compiled) map[*compiled][]*compiled {
	var by map[*compiled][]*compiled
	for _, c := range rules {
		if len(c.Unless) == 0 {
			continue
		}
		for _, o := range rules {
			if o.Mode == ModeLive && slices.Contains(c.Unless, o.Family()) {
				if by == nil {
					by = map[*compiled][]*compiled{}
				}
				by[c] = append(by[c], o)
			}
		}
	}
	return by
}

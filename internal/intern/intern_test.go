package intern

import "testing"

// TestPoolKeepsOneCopy: equal values come back as the one pointer kept,
// different ones as their own, and the zero Pool works.
func TestPoolKeepsOneCopy(t *testing.T) {
	type place struct{ site, building string }
	var p Pool[place]
	a := p.Of(place{"s1", "B1"})
	b := p.Of(place{"s1", "B" + "1"})
	c := p.Of(place{"s1", "B2"})
	if a != b {
		t.Errorf("equal values: two copies kept")
	}
	if a == c || *c != (place{"s1", "B2"}) {
		t.Errorf("different values: %v and %v", *a, *c)
	}
	if p.Len() != 2 {
		t.Errorf("%d kept, want 2", p.Len())
	}
}

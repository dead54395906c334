package cluster

import (
	"fmt"
	"testing"
)

// TestBalancerFairShare: an instance takes a free lease only below its
// share of the partitions among the live instances, and gives one back
// above it, one partition per excess.
func TestBalancerFairShare(t *testing.T) {
	cases := []struct {
		partitions, live int
		leading          []string
		mayTake          bool
		yields           int // of the partitions led, how many ShouldYield gives back
	}{
		{partitions: 2, live: 0, leading: nil, mayTake: false},                     // membership not known yet
		{partitions: 2, live: 1, leading: []string{"n"}, mayTake: true},            // alone: every partition
		{partitions: 2, live: 2, leading: []string{"n"}, mayTake: false},           // its share
		{partitions: 2, live: 2, leading: []string{"n", "s"}, yields: 1},           // one too many
		{partitions: 3, live: 2, leading: []string{"a", "b"}, mayTake: false},      // ceil(3/2) = 2
		{partitions: 4, live: 2, leading: []string{"a", "b", "c", "d"}, yields: 2}, // two too many
		{partitions: 3, live: 3, leading: nil, mayTake: true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d partitions %d live leading %v", tc.partitions, tc.live, tc.leading), func(t *testing.T) {
			b := &Balancer{Partitions: tc.partitions, live: tc.live}
			for _, p := range tc.leading {
				b.Changed(p, true)
			}
			if got := b.MayTake(); got != tc.mayTake {
				t.Errorf("MayTake = %v, want %v", got, tc.mayTake)
			}
			yields := 0
			for _, p := range tc.leading {
				if b.ShouldYield(p) {
					yields++
				}
			}
			if yields != tc.yields {
				t.Errorf("%d partitions given back, want %d", yields, tc.yields)
			}
		})
	}
}

package influx

import (
	"slices"
	"testing"
)

// TestDurableTrack: a callback runs once every line written before it is
// in a settled batch, whatever order the batches settle in.
func TestDurableTrack(t *testing.T) {
	tests := []struct {
		name    string
		batches []int    // lines per batch taken, in order
		waiters []uint64 // end (lines written before) of each callback
		settle  []int    // batch indexes, in settling order
		fired   [][]int  // waiter indexes fired after each settle
	}{
		{name: "in order",
			batches: []int{2, 3}, waiters: []uint64{1, 2, 5},
			settle: []int{0, 1}, fired: [][]int{{0, 1}, {2}}},
		{name: "a later batch settles first: nothing fires until the first does",
			batches: []int{2, 3, 1}, waiters: []uint64{2, 5, 6},
			settle: []int{1, 2, 0}, fired: [][]int{nil, nil, {0, 1, 2}}},
		{name: "a callback on lines still pending waits for their batch",
			batches: []int{2}, waiters: []uint64{2, 4},
			settle: []int{0}, fired: [][]int{{0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr durableTrack
			var spans []*span
			for _, n := range tc.batches {
				tr.enq += uint64(n)
				spans = append(spans, tr.take(n))
			}
			fired := map[int]bool{}
			for i, end := range tc.waiters {
				tr.waiters = append(tr.waiters, waiter{end: end, done: func() { fired[i] = true }})
			}
			for step, b := range tc.settle {
				before := len(fired)
				for _, f := range tr.settle(spans[b]) {
					f()
				}
				var got []int
				for i := range tc.waiters {
					if fired[i] {
						got = append(got, i)
					}
				}
				got = got[before:]
				if !slices.Equal(got, tc.fired[step]) {
					t.Errorf("after settling batch %d: fired %v, want %v", b, got, tc.fired[step])
				}
			}
		})
	}
}

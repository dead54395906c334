package cluster

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/fence"
)

// fakeClock fires its timers when the test moves it on.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
	waiting chan struct{} // a signal each time a timer is set
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), waiting: make(chan struct{}, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	}
	select {
	case c.waiting <- struct{}{}:
	default: // the test is not keeping up: it fails on its own
	}
	return ch
}

func (c *fakeClock) Advance(d time.Duration) (fired int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			fired++
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
	return fired
}

// waitTimer waits until the elector set a timer (is waiting on the clock).
func (c *fakeClock) waitTimer(t *testing.T) {
	t.Helper()
	select {
	case <-c.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the elector never waited on its clock")
	}
}

// fakeLeases answers as the test says.
type fakeLeases struct {
	mu       sync.Mutex
	acquire  bool  // Acquire succeeds
	renew    bool  // Renew finds the lease
	renewErr error // Renew fails to reach the database
	epoch    int64
	renewals int
	released []int64
}

func (f *fakeLeases) Acquire(context.Context, string, string, time.Duration) (int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.acquire {
		return 0, false, nil
	}
	f.epoch++
	return f.epoch, true, nil
}

func (f *fakeLeases) Renew(context.Context, string, string, int64, time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.renewals++
	return f.renew, f.renewErr
}

func (f *fakeLeases) Release(_ context.Context, _, _ string, epoch int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, epoch)
	return nil
}

func (f *fakeLeases) set(fn func(f *fakeLeases)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// TestLeaderWorkStopsWhenTheLeaseIsLost: the leader work runs with the
// lease's token and stops at once when a renewal finds the lease taken, or
// when renewals fail until the lease would have run out; a follower never
// leads.
func TestLeaderWorkStopsWhenTheLeaseIsLost(t *testing.T) {
	const lease = 9 * time.Second
	cases := []struct {
		name  string
		lose  func(f *fakeLeases)
		until time.Duration // clock moved on in renewal steps until the work stops
	}{
		{"deposed: a renewal finds another epoch", func(f *fakeLeases) { f.renew = false }, lease / 3},
		{"the database unreachable until expiry", func(f *fakeLeases) { f.renewErr = errors.New("connection refused") }, lease},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			leases := &fakeLeases{acquire: false, renew: true}
			started := make(chan fence.Token, 1)
			stopped := make(chan struct{}, 1)
			var changes []bool
			var mu sync.Mutex
			el, err := New(Config{Leases: leases, Partition: "north", Instance: "ct-a", Lease: lease, Clock: clock,
				Lead: func(ctx context.Context) error {
					tok, _ := fence.From(ctx)
					started <- tok
					<-ctx.Done()
					return nil
				},
				// Heard once the leader work has returned.
				OnChange: func(leading bool, _ fence.Token) {
					mu.Lock()
					changes = append(changes, leading)
					mu.Unlock()
					if !leading {
						stopped <- struct{}{}
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			runDone := make(chan error, 1)
			go func() { runDone <- el.Run(ctx) }()
			defer func() { cancel(); <-runDone }()

			// Another instance holds the lease: two tries, no leading.
			for range 2 {
				clock.waitTimer(t)
				select {
				case <-started:
					t.Fatal("led a partition whose lease another instance holds")
				default:
				}
				clock.Advance(lease / 3)
			}
			leases.set(func(f *fakeLeases) { f.acquire = true })
			clock.waitTimer(t)
			clock.Advance(lease / 3)
			var tok fence.Token
			select {
			case tok = <-started:
			case <-time.After(10 * time.Second):
				t.Fatal("the lease was taken but the leader work did not start")
			}
			if tok != (fence.Token{Partition: "north", Epoch: 1}) {
				t.Fatalf("leader work token = %+v, want north epoch 1", tok)
			}
			// Two renewals go through.
			for range 2 {
				clock.waitTimer(t)
				clock.Advance(lease / 3)
			}
			clock.waitTimer(t) // the second renewal is done
			leases.set(tc.lose)
			step := lease / 12
			for moved := step; moved <= tc.until+step; moved += step {
				if clock.Advance(step) == 0 {
					continue
				}
				select {
				case <-stopped:
				case <-clock.waiting:
					select {
					case <-stopped: // stopped, then waited to compete again
					default:
						continue
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the elector neither waited nor stopped")
				}
				if moved != tc.until {
					t.Fatalf("leader work stopped %s after the lease was lost, want %s", moved, tc.until)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(changes) != 2 || !changes[0] || changes[1] {
					t.Fatalf("OnChange heard %v, want [true false]", changes)
				}
				return
			}
			t.Fatalf("leader work still runs %s after the lease was lost", tc.until+step)
		})
	}
}

package rules

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// streamHistory is fakeHistory handed over as a stream, in time then
// metric order, as the stores do.
type streamHistory struct{ fakeHistory }

func (s streamHistory) ReadingsFunc(ctx context.Context, q devices.Query, fn func(devices.Point) error) error {
	pts, _ := s.fakeHistory.Readings(ctx, q)
	sort.SliceStable(pts, func(i, j int) bool {
		if !pts[i].Time.Equal(pts[j].Time) {
			return pts[i].Time.Before(pts[j].Time)
		}
		return pts[i].Metric < pts[j].Metric
	})
	for _, p := range pts {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// gasDay is two days of one-minute lel_pct, co_ppm and fault values of
// n detectors, metric by metric (as InfluxDB answers), with rises, a
// fault and a silence, so that every rule below raises and clears.
func gasDays(n int) (fakeHistory, fakeDevices) {
	hist, reg := fakeHistory{}, fakeDevices{}
	for d := range n {
		id := fmt.Sprintf("g%d", d)
		reg[id] = devices.Device{ID: id, Kind: devices.KindGas, Site: "s1", Building: fmt.Sprintf("B%d", d%2)}
		var lel, co, fault []devices.Point
		for i := range 2 * 24 * 60 {
			if (i+d*131)%700 > 690 { // a silence of ten minutes
				continue
			}
			ts := t0.Add(time.Duration(i) * time.Minute)
			v := 2 + float64((i*7+d)%3)
			if (i+d*53)%300 < 12 {
				v = 8 + float64((i+d)%20)
			}
			lel = append(lel, devices.Point{Time: ts, Metric: "lel_pct", Value: v})
			co = append(co, devices.Point{Time: ts, Metric: "co_ppm", Value: v * 3})
			if i%5 == 0 {
				f := 0.0
				if (i+d*17)%900 < 30 {
					f = 1
				}
				fault = append(fault, devices.Point{Time: ts, Metric: "fault", Value: f})
			}
		}
		hist[id] = append(append(fault, co...), lel...)
	}
	return hist, reg
}

// TestBacktestStreamedEqualsLoaded: a history read as a stream, one
// device at a time or several at once, gives the same result as the same
// history handed over as one slice per device, for rules reading one
// metric, every metric (an all rule), and none (staleness).
func TestBacktestStreamedEqualsLoaded(t *testing.T) {
	ctx := context.Background()
	hist, reg := gasDays(7)
	lel := Rule{ID: "lel", Kind: devices.KindGas, Metric: "lel_pct", Severity: Major,
		Condition: Condition{Op: ">=", Value: 10.0}, Clear: &Condition{Op: "<", Value: 8.0}, ClearFor: devices.Duration(2 * time.Minute)}
	both := Rule{ID: "both", Kind: devices.KindGas, Severity: Critical, For: devices.Duration(2 * time.Minute),
		Condition: Condition{Op: "all", Of: []Term{
			{Metric: "lel_pct", Condition: Condition{Op: ">=", Value: 9.0}},
			{Metric: "co_ppm", Condition: Condition{Op: ">=", Value: 30.0}}}}}
	stale := Rule{ID: "quiet", Kind: devices.KindGas, Severity: Major, Condition: Condition{Op: "stale", After: devices.Duration(5 * time.Minute)}}
	tickets := fakeTickets{"g1": {{ID: 1, Number: "T-1", Device: "g1", CreatedAt: t0.Add(9*time.Hour + 25*time.Minute)}},
		"g4": {{ID: 2, Number: "T-2", Device: "g4", CreatedAt: t0.Add(2*time.Hour + 52*time.Minute)}}}
	req := BacktestRequest{From: t0.Add(time.Hour), To: t0.Add(47 * time.Hour)}
	for _, tc := range []struct {
		name string
		rule Rule
		set  map[string]any
	}{
		{"one metric", lel, map[string]any{"condition.value": 12.0}},
		{"one metric changed to another", lel, map[string]any{"metric": "co_ppm", "condition.value": 30.0, "clear.value": 25.0}},
		{"every metric", both, map[string]any{"for": "5m"}},
		{"stale", stale, map[string]any{"condition.after": "8m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := req
			req.Set = tc.set
			loaded, err := (&Backtester{History: hist, Devices: reg, Tickets: tickets, Workers: 1}).Run(ctx, tc.rule, req)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.Count == 0 || loaded.CurrentCount == 0 || loaded.Readings == 0 {
				t.Fatalf("the data raises nothing: %+v", loaded)
			}
			for _, workers := range []int{1, 3, 0} {
				var seen []int
				streamed, err := (&Backtester{History: streamHistory{hist}, Devices: reg, Tickets: tickets, Workers: workers}).Run(ctx, tc.rule,
					BacktestRequest{From: req.From, To: req.To, Set: req.Set, Progress: func(done, total int) { seen = append(seen, done) }})
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(streamed, loaded) {
					t.Errorf("workers %d: streamed\n%+v\nloaded\n%+v", workers, streamed, loaded)
				}
				if want := []int{1, 2, 3, 4, 5, 6, 7}; !reflect.DeepEqual(seen, want) {
					t.Errorf("workers %d: progress %v, want %v", workers, seen, want)
				}
			}
		})
	}
}

type fakeTickets map[string][]PastTicket

func (f fakeTickets) TicketsOn(_ context.Context, device string, from, to time.Time) ([]PastTicket, error) {
	return f[device], nil
}

// countingHistory streams one value a minute per device and counts what
// it has handed over; it fails the test if asked for a whole slice.
type countingHistory struct {
	t                *testing.T
	handed           atomic.Int64
	open, mostOpen   atomic.Int64
	bothOpen         chan struct{}
	bothOnce         sync.Once
	waitForTwoStream bool
}

var _ StreamHistory = (*countingHistory)(nil)

func (c *countingHistory) Readings(_ context.Context, q devices.Query) ([]devices.Point, error) {
	c.t.Error("the backtest asked for a whole period at once")
	var out []devices.Point
	for ts := q.From; ts.Before(q.To); ts = ts.Add(time.Minute) {
		c.handed.Add(1)
		out = append(out, devices.Point{Time: ts, Metric: "lel_pct", Value: 3})
	}
	return out, nil
}

func (c *countingHistory) ReadingsFunc(ctx context.Context, q devices.Query, fn func(devices.Point) error) error {
	n := c.open.Add(1)
	defer c.open.Add(-1)
	for m := c.mostOpen.Load(); n > m && !c.mostOpen.CompareAndSwap(m, n); m = c.mostOpen.Load() {
	}
	if c.waitForTwoStream {
		if n == 2 {
			c.bothOnce.Do(func() { close(c.bothOpen) })
		}
		select { // both workers are replaying at once
		case <-c.bothOpen:
		case <-time.After(30 * time.Second):
			c.t.Error("a second device was not replayed beside the first")
		}
	}
	for ts := q.From; ts.Before(q.To); ts = ts.Add(time.Minute) {
		c.handed.Add(1)
		if err := fn(devices.Point{Time: ts, Metric: "lel_pct", Value: 3}); err != nil {
			return err
		}
	}
	return nil
}

// TestBacktestConsumesHistoryIncrementally: a month of one-minute values
// of four devices goes through two workers while the history hands it
// over: the values handed over and not yet replayed never exceed one
// progress step per worker (a loaded backtest holds a device's month),
// progress moves within a device, and at most two devices are read at
// once.
func TestBacktestConsumesHistoryIncrementally(t *testing.T) {
	reg := fakeDevices{}
	for i := range 4 {
		id := fmt.Sprintf("g%d", i)
		reg[id] = devices.Device{ID: id, Kind: devices.KindGas, Site: "s1", Building: "B1"}
	}
	h := &countingHistory{t: t, bothOpen: make(chan struct{}), waitForTwoStream: true}
	rule := Rule{ID: "lel", Kind: devices.KindGas, Metric: "lel_pct", Severity: Major, Condition: Condition{Op: ">=", Value: 10.0}}
	const month = 30 * 24 * 60
	var held, reports, within int64
	res, err := (&Backtester{History: h, Devices: reg, Workers: 2}).Run(context.Background(), rule, BacktestRequest{
		From: t0, To: t0.Add(month * time.Minute),
		OnProgress: func(p BacktestProgress) {
			reports++
			held = max(held, h.handed.Load()-int64(p.Readings))
			if p.Devices == 0 && p.Readings > 0 && p.Done > 0 {
				within++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Readings != 4*month {
		t.Fatalf("readings = %d, want %d", res.Readings, 4*month)
	}
	if limit := int64(2 * (progressEvery + 1)); held > limit {
		t.Errorf("%d values handed over and not yet replayed at once, want at most %d", held, limit)
	}
	if within == 0 {
		t.Errorf("no progress within the first devices (%d reports)", reports)
	}
	if n := h.mostOpen.Load(); n != 2 {
		t.Errorf("%d devices read at once, want 2 (the workers)", n)
	}
}

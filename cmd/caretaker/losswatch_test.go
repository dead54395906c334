package main

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// fakeLoss plays counters in order: each Lost call (one at the start,
// then one per tick) moves to the next entry; Spooled answers for it.
type fakeLoss struct {
	mu      sync.Mutex
	lost    []int64
	spooled []int64
	i       int
}

func (f *fakeLoss) Lost() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.i = min(f.i+1, len(f.lost)-1)
	return f.lost[f.i]
}

func (f *fakeLoss) Spooled() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.spooled[f.i]
}

type statusRecorder struct {
	mu sync.Mutex
	st []devices.Status
}

func (r *statusRecorder) Status(_ context.Context, s devices.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st = append(r.st, s)
}

func (r *statusRecorder) all() []devices.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]devices.Status(nil), r.st...)
}

// TestWatchLoss: at each tick the writer's counters are as given; the
// watch reports offline at every tick that lost more, and online once
// nothing more is lost and the spool is empty.
func TestWatchLoss(t *testing.T) {
	type tick struct{ lost, spooled int64 }
	tests := []struct {
		name  string
		start int64 // lost before the watch starts
		ticks []tick
		want  []bool // Online of each report, in order
	}{
		{"nothing lost", 0, []tick{{0, 0}, {0, 500}, {0, 0}}, nil},
		{"loss then recovery", 0, []tick{{0, 900}, {40, 1000}, {40, 1000}, {40, 200}, {40, 0}, {40, 0}}, []bool{false, true}},
		{"loss continues", 0, []tick{{10, 1000}, {20, 1000}, {20, 0}}, []bool{false, false, true}},
		{"lost before start is not news", 5, []tick{{5, 0}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &fakeLoss{lost: []int64{tc.start}, spooled: []int64{0}, i: -1}
			for _, tk := range tc.ticks {
				src.lost, src.spooled = append(src.lost, tk.lost), append(src.spooled, tk.spooled)
			}
			rec := &statusRecorder{}
			ticks := make(chan time.Time)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- watchLoss(ctx, lossSource{id: InfluxStatusID, what: "InfluxDB writer", why: "test", w: src}, rec, ticks, time.Now, slog.New(slog.DiscardHandler))
			}()
			for range tc.ticks {
				ticks <- time.Now()
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			got := rec.all()
			if len(got) != len(tc.want) {
				t.Fatalf("reports %+v, want online states %v", got, tc.want)
			}
			for i, s := range got {
				if s.Device != InfluxStatusID || s.Online != tc.want[i] || s.Reason == "" {
					t.Errorf("report %d = %+v, want online %v for %s with a reason", i, s, tc.want[i], InfluxStatusID)
				}
			}
		})
	}
}

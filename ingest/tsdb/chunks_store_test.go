package tsdb_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

// TestEmbeddedStoreChunks: whether values are still fresh rows, folded
// into chunks, appended to a chunk or cut by retention, what comes back is
// what was written, in time then metric order, nothing doubled or lost:
// values out of order, twice at the same time, NaN and flags included,
// before and after a reopen.
func TestEmbeddedStoreChunks(t *testing.T) {
	tests := []struct {
		name              string
		foldRows, chunkNs int
	}{
		{"never folded", 1 << 30, 512},
		{"folded often into small chunks", 7, 5},
		{"folded into chunks appended to", 50, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ts.db")
			cfg := tsdb.WithFold(tsdb.Config{Path: path, Logger: ingesttest.Logger(t)}, tt.foldRows, tt.chunkNs)
			st, err := tsdb.OpenWith(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(3, 4))
			t0 := time.UnixMilli(1795395500123)
			var want []devices.Point // of gas-1
			var others []time.Time   // gas-2's times
			for i := range 600 {
				at := t0.Add(time.Duration(i) * time.Second)
				switch {
				case i%97 == 0: // late
					at = at.Add(-time.Duration(rng.IntN(300)) * time.Second)
				case i%89 == 0: // sent twice
					at = t0.Add(time.Duration(i-1) * time.Second)
				}
				lel := math.Round(rng.NormFloat64()*10)/10 + 0 // -0 reads back as 0
				if i == 300 {
					lel = math.NaN()
				}
				r := devices.Reading{Device: "gas-1", Kind: devices.KindGas, Site: "s1", Building: "B", Time: at,
					Values: map[string]devices.Value{"lel_pct": devices.Num(lel), "fault": devices.FlagValue(i%10 == 0)}}
				if i%3 == 0 {
					r.Values["volts"] = devices.Num(230 + rng.Float64())
				}
				for m, v := range r.Values {
					want = append(want, devices.Point{Time: time.UnixMilli(at.UnixMilli()), Metric: m, Value: v.Float()})
				}
				if err := st.WriteReading(ctx, r); err != nil {
					t.Fatal(err)
				}
				other := devices.Reading{Device: "gas-2", Kind: devices.KindGas, Site: "s1", Time: at,
					Values: map[string]devices.Value{"lel_pct": devices.Num(float64(i))}}
				others = append(others, at)
				if err := st.WriteReading(ctx, other); err != nil {
					t.Fatal(err)
				}
				if i%40 == 0 {
					if err := st.Flush(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			slices.SortStableFunc(want, func(a, b devices.Point) int {
				return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Metric, b.Metric))
			})
			check := func(st *tsdb.Store, want []devices.Point, when string) {
				t.Helper()
				for _, r := range []struct{ from, to time.Time }{
					{t0.Add(-time.Hour), t0.Add(time.Hour)},
					{t0.Add(100 * time.Second), t0.Add(101 * time.Second)},
					{t0.Add(123*time.Second + 500*time.Millisecond), t0.Add(456 * time.Second)},
				} {
					var exp []devices.Point
					for _, p := range want {
						if !p.Time.Before(r.from) && p.Time.Before(r.to) {
							exp = append(exp, p)
						}
					}
					got, err := st.Readings(ctx, devices.Query{Device: "gas-1", From: r.from, To: r.to})
					if err != nil {
						t.Fatal(err)
					}
					if !samePoints(got, exp) {
						i := firstDiff(got, exp)
						t.Fatalf("%s, %s to %s: %d points, want %d; from %d:\ngot  %v\nwant %v", when, r.from.Sub(t0), r.to.Sub(t0), len(got), len(exp), i, head(got[i:]), head(exp[i:]))
					}
				}
				got, err := st.Readings(ctx, devices.Query{Device: "gas-1", Metric: "volts", From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
				var volts []devices.Point
				for _, p := range want {
					if p.Metric == "volts" {
						volts = append(volts, p)
					}
				}
				if !samePoints(got, volts) {
					t.Fatalf("%s, volts only: %d points, want %d", when, len(got), len(volts))
				}
			}
			check(st, want, "written")

			cut := t0.Add(200 * time.Second)
			n, err := st.DeleteBefore(ctx, cut)
			if err != nil {
				t.Fatal(err)
			}
			kept := slices.DeleteFunc(slices.Clone(want), func(p devices.Point) bool { return p.Time.Before(cut) })
			otherGone := 0
			for _, at := range others {
				if at.Before(cut) {
					otherGone++
				}
			}
			if n != int64(len(want)-len(kept)+otherGone) {
				t.Errorf("DeleteBefore = %d, want %d of gas-1 and %d of gas-2", n, len(want)-len(kept), otherGone)
			}
			check(st, kept, "after retention")
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			st, err = tsdb.OpenWith(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			check(st, kept, "reopened")
		})
	}
}

// samePoints compares times, metrics and values bit for bit, in order;
// values of the same time and metric may come in either order.
func samePoints(got, want []devices.Point) bool {
	return firstDiff(got, want) < 0
}

// firstDiff is the index of the first point that differs, or -1.
func firstDiff(got, want []devices.Point) int {
	norm := func(ps []devices.Point) []devices.Point {
		ps = slices.Clone(ps)
		slices.SortStableFunc(ps, func(a, b devices.Point) int {
			return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Metric, b.Metric), cmp.Compare(math.Float64bits(a.Value), math.Float64bits(b.Value)))
		})
		return ps
	}
	for i := 1; i < len(got); i++ { // in time then metric order
		if c := cmp.Or(got[i].Time.Compare(got[i-1].Time), cmp.Compare(got[i].Metric, got[i-1].Metric)); c < 0 {
			return i
		}
	}
	g, w := norm(got), norm(want)
	for i := range min(len(g), len(w)) {
		if !g[i].Time.Equal(w[i].Time) || g[i].Metric != w[i].Metric || math.Float64bits(g[i].Value) != math.Float64bits(w[i].Value) {
			return i
		}
	}
	if len(g) != len(w) {
		return min(len(g), len(w))
	}
	return -1
}

func head(p []devices.Point) string {
	if len(p) > 6 {
		return fmt.Sprint(p[:6], "...")
	}
	return fmt.Sprint(p)
}

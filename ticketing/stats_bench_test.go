package ticketing

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// BenchmarkStats: the KPI report over a month of n tickets, a third of
// them taken through to resolution.
func BenchmarkStats(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			f := &fixture{clock: testkit.NewFakeClock(t0), rec: &recorder{}, path: b.TempDir() + "/c.db"}
			f.cfg = Config{Path: f.path, Now: f.clock.Now, Location: beijing, Dispatch: DispatchPool}
			svc, err := Open(context.Background(), f.cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer svc.Close()
			ctx := context.Background()
			for i := 0; i < n; i++ {
				f.clock.Advance(30 * 24 * time.Hour / time.Duration(n))
				r := validReport()
				r.Location = fmt.Sprintf("spot %d", i%200)
				r.Building = fmt.Sprintf("B%d", i%7)
				tk, merged, err := svc.Report(ctx, patrol, r)
				if err != nil {
					b.Fatal(err)
				}
				if merged || i%3 != 0 {
					continue
				}
				for _, a := range []struct {
					by  Actor
					req ActionRequest
				}{{tech1, ActionRequest{Action: ActClaim}}, {tech1, ActionRequest{Action: ActArrive}},
					{tech1, ActionRequest{Action: ActResolve, Note: "done"}}, {operator, ActionRequest{Action: ActCallback, Score: 4 + i%2}}} {
					if _, err := svc.Act(ctx, a.by, tk.ID, a.req); err != nil {
						b.Fatal(err)
					}
				}
			}
			q := StatsQuery{From: t0, To: t0.Add(31 * 24 * time.Hour)}
			b.ResetTimer()
			for b.Loop() {
				if _, err := svc.Stats(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

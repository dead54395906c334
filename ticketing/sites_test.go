package ticketing

import (
	"context"
	"testing"
	"time"
)

// TestListAndStatsBySites: a list or KPI query limited to sites (a
// site-limited token's) counts those sites' tickets only.
func TestListAndStatsBySites(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, site := range []string{"s1", "s2", "s3"} {
		if _, _, err := f.svc.Report(ctx, patrol, Report{Source: SourcePatrol, Category: "civil", Site: site, Building: "B1",
			Location: "gate", Description: "gate bent"}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := f.svc.List(ctx, Filter{Sites: []string{"s1", "s3"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Site == "s2" || list[1].Site == "s2" {
		t.Fatalf("tickets of s1 and s3: %+v", list)
	}
	if list, err := f.svc.List(ctx, Filter{Site: "s2", Sites: []string{"s1"}}); err != nil || len(list) != 0 {
		t.Fatalf("site s2 within sites [s1]: %v %v, want none", list, err)
	}
	st, err := f.svc.Stats(ctx, StatsQuery{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Sites: []string{"s1", "s3"}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Overall.Tickets != 2 {
		t.Fatalf("KPIs of s1 and s3 count %d tickets, want 2", st.Overall.Tickets)
	}
	if st, err := f.svc.Stats(ctx, StatsQuery{From: t0.Add(-time.Hour), To: t0.Add(time.Hour), Site: "s2", Sites: []string{"s1"}}); err != nil || st.Overall.Tickets != 0 {
		t.Fatalf("KPIs of s2 within [s1]: %d %v, want 0", st.Overall.Tickets, err)
	}
}

package ticketing

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// statsFixture builds a month of hand-timed tickets at site s1 (and one at
// s2, one after the month). The expected figures in TestStatsFixture are
// computed by hand from this timeline.
//
//	T1 sensor L1 gas B2 "B2 boiler room" at 0: resident report merged +1m,
//	   claimed +10m, on site +40m, resolved +2h, callback 5 at +3h (closed)
//	T2 patrol L2 water_electric B1 "B1 stairwell" at +1h: assigned +1h30,
//	   accepted +1h40, on site +2h30, resolved +3h, callback 2 at +4h ->
//	   T3 rework (cancelled at +1d)
//	T5 operator L3 civil B2 "B2 lobby" at +2d: claimed +2d1h, answered
//	   (resolved without a visit) +2d3h, confirmed +2d4h
//	T4 resident L2 water_electric B1 "B1 stairwell" at +10d: nobody
//	   dispatched (a repeat of T2)
//	T7 at site s2, +11d; T6 at +31d (after the month).
func statsFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, func(c *Config) { c.Dispatch = DispatchPool })
	ctx := context.Background()
	at := func(d time.Duration) { f.clock.Set(t0.Add(d)) }
	report := func(r Report) int64 {
		t.Helper()
		tk, merged, err := f.svc.Report(ctx, operator, r)
		if err != nil || merged {
			t.Fatalf("report %+v: merged %v err %v", r, merged, err)
		}
		return tk.ID
	}
	const day = 24 * time.Hour

	mustHandle(t, f, gasAlarm(f, 35))
	t1 := mustOpenTickets(t, f)[0].ID
	at(time.Minute)
	if _, merged, err := f.svc.Report(ctx, operator, Report{Source: SourceResident, Category: "gas", Site: "s1", Building: "B2",
		Location: "B2 boiler room", Description: "gas smell"}); err != nil || !merged {
		t.Fatalf("resident report not merged: %v", err)
	}
	at(10 * time.Minute)
	mustAct(t, f, tech1, t1, ActionRequest{Action: ActClaim})
	at(40 * time.Minute)
	mustAct(t, f, tech1, t1, ActionRequest{Action: ActArrive})
	at(time.Hour)
	stairwell := Report{Source: SourcePatrol, Category: "water_electric", Site: "s1", Building: "B1", Location: "B1 stairwell",
		Description: "socket sparks", Level: 2}
	t2 := report(stairwell)
	at(90 * time.Minute)
	mustAct(t, f, operator, t2, ActionRequest{Action: ActAssign, Technician: "tech1"})
	at(100 * time.Minute)
	mustAct(t, f, tech1, t2, ActionRequest{Action: ActAccept})
	at(2 * time.Hour)
	mustAct(t, f, tech1, t1, ActionRequest{Action: ActResolve, Note: "valve replaced", Override: true, Reason: "the detector lags the valve"})
	at(150 * time.Minute)
	mustAct(t, f, tech1, t2, ActionRequest{Action: ActArrive})
	at(3 * time.Hour)
	mustAct(t, f, tech1, t2, ActionRequest{Action: ActResolve, Note: "socket replaced"})
	mustAct(t, f, operator, t1, ActionRequest{Action: ActCallback, Score: 5})
	at(4 * time.Hour)
	t3 := mustAct(t, f, operator, t2, ActionRequest{Action: ActCallback, Score: 2}).Opened.ID
	at(day)
	mustAct(t, f, operator, t3, ActionRequest{Action: ActCancel, Reason: "owner fixed it himself"})
	at(2 * day)
	t5 := report(Report{Source: SourcePhone, Category: "civil", Site: "s1", Building: "B2", Location: "B2 lobby",
		Description: "question about renovation hours"})
	at(2*day + time.Hour)
	mustAct(t, f, tech1, t5, ActionRequest{Action: ActClaim})
	at(2*day + 3*time.Hour)
	mustAct(t, f, tech1, t5, ActionRequest{Action: ActResolve, Note: "answered: 8:00-18:00 on weekdays"})
	at(2*day + 4*time.Hour)
	mustAct(t, f, operator, t5, ActionRequest{Action: ActConfirm})
	at(10 * day)
	stairwell.Source, stairwell.Description = SourceResident, "socket sparks again"
	report(stairwell)
	at(11 * day)
	report(Report{Source: SourcePhone, Category: "civil", Site: "s2", Building: "C1", Location: "gate", Description: "gate stuck"})
	at(31 * day)
	report(Report{Source: SourcePhone, Category: "civil", Site: "s1", Building: "B1", Location: "roof", Description: "roof leaks"})
	return f
}

func TestStatsFixture(t *testing.T) {
	f := statsFixture(t)
	st, err := f.svc.Stats(context.Background(), StatsQuery{From: t0, To: t0.Add(30 * 24 * time.Hour), Site: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	o := st.Overall
	if o.Tickets != 5 || o.Cancelled != 1 || o.Callbacks != 2 || o.SensorAhead != 1 {
		t.Fatalf("tickets %d cancelled %d callbacks %d sensor-ahead %d, want 5 1 2 1", o.Tickets, o.Cancelled, o.Callbacks, o.SensorAhead)
	}
	rates := []struct {
		name     string
		r        Rate
		num, den int
	}{
		{"response timeliness (T1 T2 T5 in time, T4 overdue)", o.ResponseTimeliness, 3, 4},
		{"on-time arrival (T2 T5; T1 late, T4 overdue)", o.OnTimeArrival, 2, 4},
		{"closure (T1 T2 T5 of T1 T2 T4 T5)", o.ClosureRate, 3, 4},
		{"first-time fix (T1 T5; T2 needed rework)", o.FirstTimeFix, 2, 3},
		{"repeat reports (T4)", o.RepeatReports, 1, 4},
		{"satisfied (T1's 5, not T2's 2)", o.Satisfied, 1, 2},
		{"sensor first (T1)", o.SensorFirst, 1, 4},
	}
	for _, c := range rates {
		if c.r.Num != c.num || c.r.Den != c.den || c.r.Value == nil || !near(*c.r.Value, float64(c.num)/float64(c.den)) {
			t.Errorf("%s: %d/%d (%v), want %d/%d", c.name, c.r.Num, c.r.Den, c.r.Value, c.num, c.den)
		}
	}
	if o.SatisfactionMean == nil || !near(*o.SatisfactionMean, 3.5) {
		t.Errorf("satisfaction mean %v, want 3.5", o.SatisfactionMean)
	}
	checkTimes(t, "response (10, 30, 60 min)", o.ResponseTime, 3, 100.0/3, 60)
	checkTimes(t, "arrival (40, 90 min)", o.ArrivalTime, 2, 65, 90)
	checkTimes(t, "resolution (120, 120, 180 min)", o.ResolutionTime, 3, 140, 180)

	group := func(gs []Group, key string) Summary {
		for _, g := range gs {
			if g.Key == key {
				return g.Summary
			}
		}
		t.Fatalf("no group %q in %+v", key, gs)
		return Summary{}
	}
	if l2 := group(st.ByLevel, "L2"); l2.Tickets != 3 || l2.Cancelled != 1 || l2.ResponseTimeliness.Num != 1 || l2.ResponseTimeliness.Den != 2 {
		t.Errorf("L2: %+v", l2)
	}
	if len(st.ByLevel) != 3 || len(st.ByCategory) != 3 || len(st.ByBuilding) != 2 {
		t.Errorf("groups: %d levels, %d categories, %d buildings", len(st.ByLevel), len(st.ByCategory), len(st.ByBuilding))
	}
	checkTimes(t, "B2 resolution (T1 120, T5 180)", group(st.ByBuilding, "B2").ResolutionTime, 2, 150, 180)
	if gas := group(st.ByCategory, "gas"); gas.SensorFirst.Num != 1 || gas.SensorFirst.Den != 1 {
		t.Errorf("gas: %+v", gas)
	}

	// The whole estate: T7 of site s2 counts too.
	all, err := f.svc.Stats(context.Background(), StatsQuery{From: t0, To: t0.Add(30 * 24 * time.Hour)})
	if err != nil || all.Overall.Tickets != 6 {
		t.Fatalf("all sites: %d tickets (err %v), want 6", all.Overall.Tickets, err)
	}

	var buf bytes.Buffer
	if err := st.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1+1+3+3+2 {
		t.Fatalf("%d CSV lines:\n%s", len(lines), buf.String())
	}
	const wantOverall = "overall,all,5,1,0.7500,0.5000,0.7500,0.6667,0.2500,2,3.5000,0.5000,0.2500,1,33.3333,60.0000,65.0000,90.0000,140.0000,180.0000"
	if lines[0] != strings.Join(csvHeader, ",") || lines[1] != wantOverall {
		t.Errorf("CSV head:\n%s\n%s\nwant\n%s", lines[0], lines[1], wantOverall)
	}
	if !strings.HasPrefix(lines[2], "level,L1,1,0,1.0000,0.0000,1.0000,1.0000,0.0000,1,5.0000") {
		t.Errorf("L1 line %s", lines[2])
	}
}

func TestStatsNeedsAPeriod(t *testing.T) {
	f := newFixture(t)
	for _, q := range []StatsQuery{{}, {From: t0}, {From: t0, To: t0}} {
		if _, err := f.svc.Stats(context.Background(), q); err == nil {
			t.Errorf("Stats(%+v) accepted", q)
		}
	}
	st, err := f.svc.Stats(context.Background(), StatsQuery{From: t0, To: t0.Add(time.Hour)})
	if err != nil || st.Overall.Tickets != 0 || st.Overall.ClosureRate.Value != nil || st.ByLevel == nil {
		t.Fatalf("empty period: %+v err %v", st, err)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func checkTimes(t *testing.T, name string, got Times, n int, mean, p90 float64) {
	t.Helper()
	if got.Count != n || got.MeanMinutes == nil || got.P90Minutes == nil || !near(*got.MeanMinutes, mean) || !near(*got.P90Minutes, p90) {
		t.Errorf("%s: %+v (mean %v p90 %v), want %d, mean %v, p90 %v", name, got, deref(got.MeanMinutes), deref(got.P90Minutes), n, mean, p90)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

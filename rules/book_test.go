package rules

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

func newBook(t *testing.T, h *harness, where StoreConfig, seed []Rule) (*Book, *Store) {
	t.Helper()
	ctx := context.Background()
	where.Now = h.clock.Now
	st, err := OpenStore(ctx, where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rs, err := LoadRules(ctx, st, seed)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(Config{Rules: rs, Sink: h.sink, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	b, err := NewBook(BookConfig{Store: st, Engine: e, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return b, st
}

// TestBookVersions: a change is validated, stored with who/why/old/new,
// applied live; history, rollback, shadow and promote work; the store
// survives a reopen and wins over the configuration.
func TestBookVersions(t *testing.T) {
	forEachStore(t, func(t *testing.T, where StoreConfig) {
		ctx := context.Background()
		h := newHarness(t, nil)
		b, st := newBook(t, h, where, []Rule{gasRule})
		eng := Author{Name: "eng1", Role: "engineer"}

		// invalid: refused, nothing stored
		bad := with(gasRule, func(r *Rule) { r.Clear = &Condition{Op: "<", Value: 30} })
		if _, err := b.Put(ctx, eng, "gas", bad, "oops"); err == nil || err.(*FieldError).Field != "clear.value" {
			t.Fatalf("overlapping clear accepted: %v", err)
		}
		if _, err := b.Put(ctx, eng, "gas", with(gasRule, func(r *Rule) { r.ID = "other" }), ""); err == nil {
			t.Fatal("id mismatch accepted")
		}

		// raise the threshold to 25: applied live
		v2, err := b.Put(ctx, eng, "gas", with(gasRule, func(r *Rule) { r.Condition.Value = 25 }), "boiler room runs high")
		if err != nil {
			t.Fatal(err)
		}
		if v2.Version != 2 || v2.Old == nil || v2.Old.Condition.Value != 20.0 || v2.By != "eng1" || v2.Reason != "boiler room runs high" {
			t.Fatalf("version = %+v old %+v", v2, v2.Old)
		}
		h.run(gasRule, []step{at(0, 22.0)})
		if got := h.sink.states(); got != "" {
			t.Fatalf("22 raised under a threshold of 25: %q", got)
		}

		// shadow trial at 21: runs beside, marked shadow
		if _, err := b.Put(ctx, eng, "gas", with(gasRule, func(r *Rule) { r.Condition.Value, r.Mode = 21, ModeShadow }), "try 21"); err != nil {
			t.Fatal(err)
		}
		got, err := b.Get(ctx, "gas")
		if err != nil || got.Version != 2 || got.Shadow == nil || got.Shadow.Version != 3 {
			t.Fatalf("get = %+v, %v", got, err)
		}
		h.run(gasRule, []step{at(1, 22.0)})
		if got := h.sink.states(); got != "shadow:raised@1" {
			t.Fatalf("shadow trial: %q", got)
		}

		// promote: the shadow becomes live
		v4, err := b.Promote(ctx, eng, "gas", "trial good")
		if err != nil || v4.Version != 4 || v4.Rule.Mode != ModeLive || v4.Old.Condition.Value != 25.0 {
			t.Fatalf("promote = %+v, %v", v4, err)
		}
		if _, err := b.Promote(ctx, eng, "gas", ""); err == nil {
			t.Fatal("promoted with no shadow")
		}
		h.run(gasRule, []step{at(2, 22.0)})
		if got := h.sink.states(); got != "shadow:raised@1 shadow:cleared@1 raised@2" { // the trial's alarm ends with it
			t.Fatalf("after promote: %q", got)
		}

		// rollback to version 1
		v5, err := b.Rollback(ctx, eng, "gas", 1, "")
		if err != nil || v5.Version != 5 || v5.Rule.Condition.Value != 20.0 || v5.Action != ActionRollback {
			t.Fatalf("rollback = %+v, %v", v5, err)
		}
		if _, err := b.Rollback(ctx, eng, "gas", 99, ""); err == nil {
			t.Fatal("rollback to a missing version")
		}
		hist, err := b.History(ctx, "gas")
		if err != nil || len(hist) != 5 {
			t.Fatalf("history = %d, %v", len(hist), err)
		}
		actions := []string{}
		for _, v := range hist {
			actions = append(actions, v.Action)
		}
		if strings.Join(actions, " ") != "seed update update promote rollback" {
			t.Fatalf("actions = %v", actions)
		}
		if _, err := b.History(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("history of unknown: %v", err)
		}

		// reopen with a configuration that says 20: the store wins
		st.Close()
		h2 := newHarness(t, nil)
		b2, _ := newBook(t, h2, where, []Rule{with(gasRule, func(r *Rule) { r.Condition.Value = 99 })})
		v, err := b2.Get(ctx, "gas")
		if err != nil || v.Version != 5 || v.Condition.Value != 20.0 {
			t.Fatalf("after reopen = %+v, %v", v, err)
		}
	})
}

func TestBookServiceRearms(t *testing.T) {
	forEachStore(t, func(t *testing.T, where StoreConfig) {
		ctx := context.Background()
		counter := Rule{ID: "doors", Kind: devices.KindElevator, Metric: "door_cycles", Severity: Maintenance,
			Condition: Condition{Op: "counter_every", Every: 1000}}
		h := newHarness(t, nil)
		b, st := newBook(t, h, where, []Rule{counter})
		h.run(counter, []step{at(0, 1200)})
		h.clock.Set(t0.Add(10 * time.Second))
		s, err := b.RecordService(ctx, Author{Name: "tech1"}, "doors", "d1", "rollers changed")
		if err != nil || s.Base == nil || *s.Base != 1200 {
			t.Fatalf("service = %+v, %v", s, err)
		}
		if _, err := b.RecordService(ctx, Author{Name: "tech1"}, "nope", "d1", ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown rule: %v", err)
		}
		st.Close()
		// after a restart the base is restored: 2100 is not due, 2200 is
		h2 := newHarness(t, nil)
		b2, _ := newBook(t, h2, where, []Rule{counter})
		if err := b2.RestoreServices(ctx); err != nil {
			t.Fatal(err)
		}
		h2.run(counter, []step{at(20, 2100), at(30, 2200)})
		if got := h.sink.states() + " | " + h2.sink.states(); got != "raised@0 cleared@10 | raised@30" {
			t.Fatalf("alarms = %q", got)
		}
	})
}

// fakeHistory serves samples per device.
type fakeHistory map[string][]devices.Point

func (f fakeHistory) Readings(_ context.Context, q devices.Query) ([]devices.Point, error) {
	var out []devices.Point
	for _, s := range f[q.Device] {
		if (q.Metric == "" || s.Metric == q.Metric) && !s.Time.Before(q.From) && s.Time.Before(q.To) {
			out = append(out, s)
		}
	}
	return out, nil
}

func TestBacktestSetAndEpisodes(t *testing.T) {
	ctx := context.Background()
	reg := fakeDevices{
		"g1": {ID: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1"},
		"g2": {ID: "g2", Kind: devices.KindGas, Site: "s1", Building: "B2"},
		"l1": {ID: "l1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1"},
	}
	s := func(sec int, v float64) devices.Point {
		return devices.Point{Time: t0.Add(time.Duration(sec) * time.Second), Metric: "lel_pct", Value: v}
	}
	hist := fakeHistory{
		"g1": {s(0, 5), s(10, 22), s(20, 26), s(30, 10), s(40, 5)},
		"g2": {s(0, 21), s(10, 14), s(50, 30)},
	}
	bt := &Backtester{History: hist, Devices: reg}
	var progress []int
	res, err := bt.Run(ctx, gasRule, BacktestRequest{From: t0, To: t0.Add(time.Minute),
		Set: map[string]any{"condition.value": 25.0}, Progress: func(done, total int) { progress = append(progress, done*10+total) }})
	if err != nil {
		t.Fatal(err)
	}
	end := func(sec int) *time.Time { x := t0.Add(time.Duration(sec) * time.Second); return &x }
	want := []Episode{{"g1", t0.Add(20 * time.Second), end(30), 26}, {"g2", t0.Add(50 * time.Second), nil, 30}}
	wantCur := []Episode{{"g1", t0.Add(10 * time.Second), end(30), 26}, {"g2", t0, end(10), 21}, {"g2", t0.Add(50 * time.Second), nil, 30}}
	if res.Count != 2 || res.CurrentCount != 3 || !sameEpisodes(res.Episodes, want) || !sameEpisodes(res.CurrentEpisodes, wantCur) {
		t.Fatalf("result = %+v", res)
	}
	if res.Devices != 2 || res.Readings != 8 || len(progress) != 2 || progress[1] != 22 {
		t.Fatalf("devices %d readings %d progress %v", res.Devices, res.Readings, progress)
	}
	for _, tc := range []struct {
		req   BacktestRequest
		field string
	}{
		{BacktestRequest{To: t0}, "from"},
		{BacktestRequest{From: t0, To: t0}, "to"},
		{BacktestRequest{From: t0, To: t0.Add(time.Hour), Set: map[string]any{"condition.nope": 1}}, "set"},
		{BacktestRequest{From: t0, To: t0.Add(time.Hour), Set: map[string]any{"condition.value": "x"}}, "condition.value"},
		{BacktestRequest{From: t0, To: t0.Add(time.Hour), Set: map[string]any{"clear.value": 30.0}}, "clear.value"},
	} {
		_, err := bt.Run(ctx, gasRule, tc.req)
		if fe, ok := err.(*FieldError); !ok || fe.Field != tc.field {
			t.Errorf("request %+v: error %v, want field %s", tc.req, err, tc.field)
		}
	}
}

func sameEpisodes(got, want []Episode) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Device != w.Device || !g.Start.Equal(w.Start) || g.Peak != w.Peak || (g.End == nil) != (w.End == nil) ||
			(g.End != nil && !g.End.Equal(*w.End)) {
			return false
		}
	}
	return true
}

func TestParseSet(t *testing.T) {
	got, err := ParseSet([]string{"condition.value=25", "for=5s", "enabled=false"})
	if err != nil || got["condition.value"] != 25.0 || got["for"] != "5s" || got["enabled"] != false {
		t.Fatalf("ParseSet = %v, %v", got, err)
	}
	if _, err := ParseSet([]string{"novalue"}); err == nil {
		t.Fatal("a pair without = was accepted")
	}
	r, err := ApplySet(leakRule, map[string]any{"for": "30s", "severity": "major"})
	if err != nil || r.For.Std() != 30*time.Second || r.Severity != Major {
		t.Fatalf("ApplySet = %+v, %v", r, err)
	}
}

type fakePastTickets []PastTicket

func (f fakePastTickets) TicketsOn(_ context.Context, device string, from, to time.Time) ([]PastTicket, error) {
	var out []PastTicket
	for _, t := range f {
		if t.Device == device && !t.CreatedAt.Before(from) && t.CreatedAt.Before(to) {
			out = append(out, t)
		}
	}
	return out, nil
}

func TestBacktestComparesPastTickets(t *testing.T) {
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	end := func(min int) *time.Time { x := at(min); return &x }
	ticket := PastTicket{ID: 7, Device: "g1", CreatedAt: at(60)}
	tests := []struct {
		name             string
		changed, current []Episode
		verdict          string
		lead             float64
	}{
		{"lower threshold catches it 20 min sooner", []Episode{{"g1", at(40), end(70), 30}}, []Episode{{"g1", at(55), end(70), 30}}, "earlier", 1200},
		{"only the change catches it", []Episode{{"g1", at(58), nil, 30}}, nil, "earlier", 120},
		{"higher threshold misses it", nil, []Episode{{"g1", at(59), end(61), 30}}, "missed", 0},
		{"higher threshold catches it later", []Episode{{"g1", at(65), end(70), 30}}, []Episode{{"g1", at(50), end(70), 30}}, "later", -300},
		{"same episode", []Episode{{"g1", at(50), end(70), 30}}, []Episode{{"g1", at(50), end(70), 30}}, "same", 600},
		{"episode long over is another fault", []Episode{{"g1", at(0), end(10), 30}}, nil, "not caught", 0},
		{"other device does not count", []Episode{{"g2", at(59), nil, 30}}, nil, "not caught", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := compareTicket(ticket, tc.changed, tc.current)
			if m.Verdict != tc.verdict || m.LeadSeconds != tc.lead {
				t.Fatalf("match = %+v, want %s with lead %gs", m, tc.verdict, tc.lead)
			}
		})
	}

	// Through Run: a resident report on g1 at +12s; the current rule's
	// episode started at +10s, the raised threshold's at +20s.
	reg := fakeDevices{"g1": {ID: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1"}}
	s := func(sec int, v float64) devices.Point {
		return devices.Point{Time: t0.Add(time.Duration(sec) * time.Second), Metric: "lel_pct", Value: v}
	}
	bt := &Backtester{History: fakeHistory{"g1": {s(0, 5), s(10, 22), s(20, 26), s(30, 10)}}, Devices: reg,
		Tickets: fakePastTickets{{ID: 3, Device: "g1", Source: "resident", CreatedAt: t0.Add(12 * time.Second)}}}
	res, err := bt.Run(context.Background(), gasRule, BacktestRequest{From: t0, To: t0.Add(time.Minute),
		Set: map[string]any{"condition.value": 25.0}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tickets) != 1 || res.Tickets[0].Verdict != "later" || res.Tickets[0].LeadSeconds != -8 ||
		res.Tickets[0].CurrentLeadSeconds != 2 || res.CaughtEarlier != 0 || res.Missed != 0 {
		t.Fatalf("tickets = %+v", res.Tickets)
	}
}

// TestBacktestSetChangesMetricOrKind: a set that moves the rule to another
// metric or kind replays the history of that metric, on the devices of
// that kind, while the current rule keeps reading its own.
func TestBacktestSetChangesMetricOrKind(t *testing.T) {
	ctx := context.Background()
	reg := fakeDevices{
		"g1": {ID: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1"},
		"l1": {ID: "l1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1"},
	}
	s := func(sec int, metric string, v float64) devices.Point {
		return devices.Point{Time: t0.Add(time.Duration(sec) * time.Second), Metric: metric, Value: v}
	}
	hist := fakeHistory{
		"g1": {s(0, "lel_pct", 5), s(10, "co_ppm", 80), s(20, "lel_pct", 25), s(30, "co_ppm", 10), s(40, "lel_pct", 5)},
		"l1": {s(5, "leak", 0), s(15, "leak", 1), s(25, "leak", 0)},
	}
	bt := &Backtester{History: hist, Devices: reg}
	end := func(sec int) *time.Time { x := t0.Add(time.Duration(sec) * time.Second); return &x }
	cur := []Episode{{"g1", t0.Add(20 * time.Second), end(40), 25}}
	for _, tc := range []struct {
		name string
		set  map[string]any
		want []Episode
	}{
		{"metric", map[string]any{"metric": "co_ppm", "condition.value": 50.0, "clear.value": 30.0},
			[]Episode{{"g1", t0.Add(10 * time.Second), end(30), 80}}},
		{"kind and metric", map[string]any{"kind": "water_leak", "metric": "leak", "condition.op": "is", "condition.value": true, "clear": nil},
			[]Episode{{"l1", t0.Add(15 * time.Second), end(25), 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := bt.Run(ctx, gasRule, BacktestRequest{From: t0, To: t0.Add(time.Minute), Set: tc.set})
			if err != nil {
				t.Fatal(err)
			}
			if !sameEpisodes(res.Episodes, tc.want) || !sameEpisodes(res.CurrentEpisodes, cur) {
				t.Fatalf("changed %+v (want %+v), current %+v (want %+v)", res.Episodes, tc.want, res.CurrentEpisodes, cur)
			}
		})
	}
}

// TestBookParallelPutsLeaveTheLatestLive: changes saved at once by many
// engineers end with the engine running the version the store holds as
// current, never an older one.
func TestBookParallelPutsLeaveTheLatestLive(t *testing.T) {
	forEachStore(t, func(t *testing.T, where StoreConfig) {
		ctx := context.Background()
		h := newHarness(t, nil)
		b, st := newBook(t, h, where, []Rule{gasRule})
		eng := Author{Name: "eng1", Role: "engineer"}
		for round := 0; round < 20; round++ {
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := with(gasRule, func(r *Rule) { r.Condition.Value = 20 + float64(round*16+i)/10 })
					if _, err := b.Put(ctx, eng, "gas", r, "parallel"); err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			cur, err := st.Current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var live Rule
			for _, r := range h.e.Rules() {
				if r.ID == "gas" && r.Mode == ModeLive {
					live = r
				}
			}
			if live.Version != cur["gas"].Live.Version || live.Condition.Value != cur["gas"].Live.Condition.Value {
				t.Fatalf("round %d: engine runs version %d (value %v), store holds version %d (value %v)", round,
					live.Version, live.Condition.Value, cur["gas"].Live.Version, cur["gas"].Live.Condition.Value)
			}
		}
	})
}

// TestBookServiceOverdue: a service recorded for a calendar rule is
// stored with its time and no counter base, and after a restart the
// engine counts the interval from it (not from the restart): overdue 15
// days after the service.
func TestBookServiceOverdue(t *testing.T) {
	forEachStore(t, func(t *testing.T, where StoreConfig) { testBookServiceOverdue(t, where) })
}

func testBookServiceOverdue(t *testing.T, where StoreConfig) {
	ctx := context.Background()
	overdue := Rule{ID: "lift-maint", Kind: devices.KindElevator, Severity: Minor,
		Condition: Condition{Op: OpServiceOverdue, After: dur("360h")}}
	reg := fakeDevices{"d1": {ID: "d1", Kind: devices.KindElevator, Site: "s1", Building: "B1"}}
	h := newHarness(t, nil)
	b, st := newBook(t, h, where, []Rule{overdue})
	h.clock.Set(t0)
	s, err := b.RecordService(ctx, Author{Name: "tech1"}, "lift-maint", "d1", "half-monthly")
	if err != nil || s.Base != nil || !s.At.Equal(t0) {
		t.Fatalf("service = %+v, %v", s, err)
	}
	st.Close()
	day := 24 * time.Hour
	h2 := newHarness(t, nil)
	h2.clock.Set(t0.Add(10 * day))
	where.Now = h2.clock.Now
	st2, err := OpenStore(ctx, where)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	e, err := NewEngine(Config{Rules: []Rule{overdue}, Sink: h2.sink, Now: h2.clock.Now, Devices: reg})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := NewBook(BookConfig{Store: st2, Engine: e, Now: h2.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.RestoreServices(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{10 * day, 15*day - time.Minute, 15 * day} {
		h2.clock.Set(t0.Add(d))
		e.Tick(ctx, t0.Add(d))
	}
	if got := h2.sink.states(); got != "raised@1296000" {
		t.Fatalf("alarms %q, want a raise 15 days after the service", got)
	}
}

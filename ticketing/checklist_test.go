package ticketing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/rules"
)

func withDefaultChecklists(c *Config) { c.Checklists = DefaultChecklists() }

// entrapment is the controller of lift el-e3 reporting passengers
// trapped, at the fixture's current time.
func entrapment(f *fixture) rules.Alarm {
	at := f.clock.Now()
	return rules.Alarm{
		ID: rules.AlarmID("elevator-entrapment", "el-e3", at), RuleID: "elevator-entrapment",
		RuleName: "Passengers trapped in elevator", Device: "el-e3", Kind: devices.KindElevator,
		Site: "s1", Building: "B1", Location: "Lift E3", Event: "entrapment",
		Severity: rules.Critical, Level: 1, State: rules.Raised, Value: 1, Peak: 1,
		Message: "event entrapment", RaisedAt: at,
	}
}

func missingOf(t *testing.T, err error) []string {
	t.Helper()
	var ae *ActionError
	if !errors.As(err, &ae) || !errors.Is(err, ErrIllegal) || ae.Field != "checklist" || ae.Code != "checklist_incomplete" {
		t.Fatalf("resolve with the checklist incomplete: %v, want an illegal step naming the checklist", err)
	}
	items, _ := ae.Params["items"].([]string)
	return items
}

// An elevator entrapment ticket cannot be resolved until the required
// items of its checklist are checked; each check keeps who, when and
// its value, in the store (both engines, across a restart) and in the
// history; the assignee and an operator may check, nobody else.
func TestChecklistGatesResolveOfEntrapment(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend, withDefaultChecklists)
		ctx := context.Background()
		mustHandle(t, f, entrapment(f))
		tk := mustOpenTickets(t, f)[0]
		got := mustGet(t, f, tk.ID)
		if got.Checklist == nil || got.Checklist.Name != "elevator_entrapment" || len(got.Checklist.Items) != 5 {
			t.Fatalf("checklist of the entrapment ticket: %+v", got.Checklist)
		}
		wantMissing := []string{"power_isolated", "car_levelled", "passengers_out", "freed_at"}
		if !slices.Equal(got.Checklist.Missing, wantMissing) {
			t.Fatalf("missing %v, want %v", got.Checklist.Missing, wantMissing)
		}
		mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActClaim})
		mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActArrive})
		resolve := ActionRequest{Action: ActResolve, Note: "passengers out, car parked", Override: true, Reason: "controller still latched"}
		_, err := f.svc.Act(ctx, tech1, tk.ID, resolve)
		if m := missingOf(t, err); !slices.Equal(m, wantMissing) {
			t.Fatalf("refusal names %v, want %v", m, wantMissing)
		}
		if !strings.Contains(err.Error(), "power_isolated (Main power to the lift isolated and locked off)") {
			t.Errorf("refusal does not say the item in words: %v", err)
		}

		// Who may check: the assignee and an operator; a patrol, another
		// technician and a checklist item that does not exist are refused.
		f.clock.Advance(time.Minute)
		mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActCheck, Item: "power_isolated"})
		mustAct(t, f, operator, tk.ID, ActionRequest{Action: ActCheck, Item: "car_levelled", Note: "told by phone"})
		for _, c := range []struct {
			by   Actor
			req  ActionRequest
			kind error
			fld  string
		}{
			{patrol, ActionRequest{Action: ActCheck, Item: "passengers_out"}, ErrForbidden, ""},
			{Actor{Name: "tech2", Role: RoleTechnician}, ActionRequest{Action: ActCheck, Item: "passengers_out"}, ErrForbidden, ""},
			{tech1, ActionRequest{Action: ActCheck, Item: "passengers_outt"}, nil, "item"},
			{tech1, ActionRequest{Action: ActCheck}, nil, "item"},
			{tech1, ActionRequest{Action: ActCheck, Item: "freed_at"}, nil, "value"},
			{tech1, ActionRequest{Action: ActCheck, Item: "freed_at", Value: "quarter past"}, nil, "value"},
			{tech1, ActionRequest{Action: ActCheck, Item: "freed_at", Value: "2026-11-23T09:00:00+08:00"}, nil, "value"}, // future
			{tech1, ActionRequest{Action: ActCheck, Item: "power_isolated", Value: "yes"}, nil, "value"},
			{tech1, ActionRequest{Action: ActUncheck, Item: "passengers_out"}, nil, "item"}, // not checked
		} {
			_, err := f.svc.Act(ctx, c.by, tk.ID, c.req)
			var fe *FieldError
			switch {
			case c.kind != nil && !errors.Is(err, c.kind):
				t.Errorf("%s %s %s: %v, want %v", c.by.Name, c.req.Action, c.req.Item, err, c.kind)
			case c.kind == nil && (!errors.As(err, &fe) || fe.Field != c.fld):
				t.Errorf("%s %s %s %q: %v, want a field error on %s", c.by.Name, c.req.Action, c.req.Item, c.req.Value, err, c.fld)
			}
		}
		// The time the passengers were freed: "00:40" is the site's time
		// today (t0 is 01:00 on 23 Nov in Beijing).
		mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActCheck, Item: "freed_at", Value: "00:40"})
		mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActCheck, Item: "passengers_out"})
		mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActUncheck, Item: "passengers_out"})
		_, err = f.svc.Act(ctx, tech1, tk.ID, resolve)
		if m := missingOf(t, err); !slices.Equal(m, []string{"passengers_out"}) {
			t.Fatalf("after the uncheck the refusal names %v", m)
		}
		f.clock.Advance(time.Minute)
		mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActCheck, Item: "passengers_out"})

		f.reopen(t) // the checks are in the store
		cl := mustGet(t, f, tk.ID).Checklist
		if len(cl.Missing) != 0 {
			t.Fatalf("missing after every required check: %v", cl.Missing)
		}
		byID := map[string]CheckItem{}
		for _, it := range cl.Items {
			byID[it.ID] = it
		}
		if c := byID["car_levelled"]; !c.Checked || c.By != "ops1" || c.Role != RoleOperator || c.At == nil || !c.At.Equal(t0.Add(time.Minute)) {
			t.Errorf("car_levelled check %+v", c)
		}
		if h := res0History(t, f, tk.ID, ActCheck, "freed_at"); h != "checked freed_at “Time the passengers were freed” = 2026-11-23T00:40:00+08:00" {
			t.Errorf("history of the freed_at check: %q", h)
		}
		if c := byID["freed_at"]; c.Answer != "2026-11-23T00:40:00+08:00" || c.By != "tech1" {
			t.Errorf("freed_at check %+v", c)
		}
		if c := byID["passengers_out"]; !c.At.Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("passengers_out checked again at %v", c.At)
		}
		if c := byID["out_of_service"]; c.Checked || !c.Optional {
			t.Errorf("optional item %+v", c)
		}
		res := mustAct(t, f, tech1, tk.ID, resolve)
		if res.Status != StatusResolved {
			t.Fatalf("resolve once checked: %s", res.Status)
		}
		var checks []string
		for _, h := range res.History {
			if h.Action == ActCheck || h.Action == ActUncheck {
				checks = append(checks, h.Actor+" "+h.Action+" "+strings.Join(strings.Fields(h.Note)[:2], " "))
			}
		}
		want := []string{"tech1 check checked power_isolated", "ops1 check checked car_levelled", "tech1 check checked freed_at",
			"tech1 check checked passengers_out", "tech1 uncheck unchecked passengers_out", "tech1 check checked passengers_out"}
		if !slices.Equal(checks, want) {
			t.Errorf("history of the checks:\n got %q\nwant %q", checks, want)
		}
		// A closed ticket's checklist cannot change.
		if _, err := f.svc.Act(ctx, tech1, tk.ID, ActionRequest{Action: ActUncheck, Item: "passengers_out"}); !errors.Is(err, ErrIllegal) {
			t.Errorf("uncheck after resolve: %v", err)
		}
	})
}

// Which tickets get which list: by an alarm's rule (a prefix with *),
// else, for tickets people reported, by the words of the description,
// else by category; none for the rest.
func TestChecklistFor(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Checklists = append(DefaultChecklists(), Checklist{Name: "fire", Categories: []string{"fire"},
			Items: []ChecklistItem{{ID: "panel_reset", Text: "Fire panel reset"}}})
	})
	ctx := context.Background()
	n := 0
	reportSaying := func(category, description string) int64 {
		n++
		r := validReport()
		r.Category, r.Location, r.Description = category, fmt.Sprintf("spot %d", n), description
		tk, _, err := f.svc.Report(ctx, patrol, r)
		if err != nil {
			t.Fatal(err)
		}
		return tk.ID
	}
	report := func(category string) int64 {
		r := validReport()
		r.Category, r.Location = category, "spot "+category
		tk, _, err := f.svc.Report(ctx, patrol, r)
		if err != nil {
			t.Fatal(err)
		}
		return tk.ID
	}
	alarm := func(rule, device string) int64 {
		a := gasAlarm(f, 30)
		a.RuleID, a.Device, a.ID = rule, device, rules.AlarmID(rule, device, f.clock.Now())
		mustHandle(t, f, a)
		for _, tk := range mustOpenTickets(t, f) {
			if tk.DeviceID == device {
				return tk.ID
			}
		}
		t.Fatalf("no ticket for %s", device)
		return 0
	}
	for _, c := range []struct {
		name string
		id   int64
		want string
	}{
		{"gas smell reported", report("gas"), "gas_leak"},
		{"fire reported", report("fire"), "fire"},
		{"stair light reported", report("water_electric"), ""},
		{"entrapment phoned in as equipment", reportSaying("equipment", "Two people Trapped in lift 3 between floors"), "elevator_entrapment"},
		{"entrapment in Chinese", reportSaying("equipment", "3号梯困人，请速来"), "elevator_entrapment"},
		{"a word inside another is not the word", reportSaying("equipment", "the untrapped-door sensor is loose"), ""},
		{"burst pipe reported", reportSaying("water_electric", "burst pipe in the basement"), "water_leak"},
		{"power cut reported in Chinese", reportSaying("water_electric", "2单元停电了"), "power_fault"},
		{"door closer reported", reportSaying("equipment", "door closer broken"), ""},
		{"gas alarm", alarm("gas-lel-critical", "gas-x1"), "gas_leak"},
		{"gas alarm of a plant room variant", alarm("gas-lel-warning.plant", "gas-x2"), "gas_leak"},
		{"gas detector offline: not a leak", alarm("gas-offline", "gas-x3"), ""},
		{"power outage", alarm("power-outage", "pm-x1"), "power_fault"},
		{"power factor low: no emergency", alarm("power-factor-low", "pm-x2"), ""},
		{"leak probe wet", alarm("water-leak.flat", "wl-x1"), "water_leak"},
		{"leak probe battery: not a leak", alarm("water-leak-battery-low", "wl-x2"), ""},
	} {
		cl := mustGet(t, f, c.id).Checklist
		got := ""
		if cl != nil {
			got = cl.Name
		}
		if got != c.want {
			t.Errorf("%s: checklist %q, want %q", c.name, got, c.want)
		}
	}
}

func TestChecklistConfigErrorsNameTheKey(t *testing.T) {
	item := ChecklistItem{ID: "a", Text: "A"}
	for _, c := range []struct {
		lists []Checklist
		key   string
	}{
		{[]Checklist{{Name: "", Rules: []string{"x"}, Items: []ChecklistItem{item}}}, "tickets.checklists[0].name"},
		{[]Checklist{{Name: "a", Rules: []string{"x"}, Items: []ChecklistItem{item}}, {Name: "a", Rules: []string{"y"}, Items: []ChecklistItem{item}}}, "tickets.checklists[1].name"},
		{[]Checklist{{Name: "a", Items: []ChecklistItem{item}}}, "tickets.checklists[0]"},
		{[]Checklist{{Name: "a", Rules: []string{"x"}}}, "tickets.checklists[0].items"},
		{[]Checklist{{Name: "a", Words: []string{"trapped", " "}, Items: []ChecklistItem{item}}}, "tickets.checklists[0].words[1]"},
		{[]Checklist{{Name: "a", Rules: []string{"x*y"}, Items: []ChecklistItem{item}}}, "tickets.checklists[0].rules[0]"},
		{[]Checklist{{Name: "a", Rules: []string{"x"}, Items: []ChecklistItem{{ID: "A b", Text: "A"}}}}, "tickets.checklists[0].items[0].id"},
		{[]Checklist{{Name: "a", Rules: []string{"x"}, Items: []ChecklistItem{item, item}}}, "tickets.checklists[0].items[1].id"},
		{[]Checklist{{Name: "a", Rules: []string{"x"}, Items: []ChecklistItem{{ID: "a"}}}}, "tickets.checklists[0].items[0].text"},
		{[]Checklist{{Name: "a", Rules: []string{"x"}, Items: []ChecklistItem{{ID: "a", Text: "A", Value: "date"}}}}, "tickets.checklists[0].items[0].value"},
	} {
		cfg := Config{Path: "x.db", Checklists: c.lists}.WithDefaults()
		err := cfg.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.key+":") {
			t.Errorf("%+v: %v, want an error on %s", c.lists, err, c.key)
		}
	}
	if err := (Config{Path: "x.db"}).WithDefaults().Validate(); err != nil {
		t.Errorf("the default checklists do not validate: %v", err)
	}
}

// The parts and the fee agreed on site are what the owner accepts: the
// confirmation (through the link, or by phone to an operator) and the
// dispute record them with who and when; the history says it; a new
// resolution needs a new acceptance.
func TestAcceptanceRecordsPartsAndFee(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		parts := []Part{{"valve DN15", 1}, {"seal", 2}}
		resolved := func() int64 {
			id := ticketIn(t, f, StatusOnSite)
			mustAct(t, f, tech1, id, ActionRequest{Action: ActResolve, Note: "valve replaced", Parts: parts, Paid: true, FeeCents: 12050})
			return id
		}
		byLink := resolved()
		f.clock.Advance(time.Hour)
		tk, err := f.svc.ReporterByLink(ctx, byLink, ReporterVerdict{Action: ActConfirm})
		if err != nil {
			t.Fatal(err)
		}
		a := tk.Acceptance
		if a == nil || a.Verdict != OutcomeConfirmed || a.By != "Li Wei" || a.Role != RoleReporterLink || !a.At.Equal(t0.Add(time.Hour)) ||
			!slices.Equal(a.Parts, parts) || !a.Paid || a.FeeCents != 12050 {
			t.Fatalf("acceptance through the link: %+v", a)
		}
		last := tk.History[len(tk.History)-1]
		if want := "owner confirmed the work; parts: valve DN15 x1, seal x2; paid service, fee ¥120.50: via the reporter's link"; last.Note != want {
			t.Errorf("history %q\n want %q", last.Note, want)
		}
		resolve := tk.History[len(tk.History)-2]
		if !strings.HasSuffix(resolve.Note, "; parts: valve DN15 x1, seal x2; paid service, fee ¥120.50") {
			t.Errorf("resolve history %q", resolve.Note)
		}

		byPhone := resolved()
		res := mustAct(t, f, operator, byPhone, ActionRequest{Action: ActConfirm})
		if a := res.Acceptance; a == nil || a.By != "ops1" || a.Role != RoleOperator || a.FeeCents != 12050 {
			t.Fatalf("acceptance by phone: %+v", a)
		}
		if n := res.History[len(res.History)-1].Note; !strings.HasPrefix(n, "owner confirmed the work by phone; parts: valve DN15 x1") {
			t.Errorf("history %q", n)
		}

		disputed := resolved()
		res = mustAct(t, f, operator, disputed, ActionRequest{Action: ActDispute, Reason: "the fee was ¥100 on site"})
		if a := res.Acceptance; a == nil || a.Verdict != OutcomeDisputed || a.Reason != "the fee was ¥100 on site" || a.FeeCents != 12050 {
			t.Fatalf("dispute: %+v", a)
		}
		if n := res.History[len(res.History)-1].Note; !strings.HasPrefix(n, "owner disputes the result; parts: valve DN15 x1, seal x2; paid service, fee ¥120.50; re-inspection ticket ") ||
			!strings.HasSuffix(n, ": the fee was ¥100 on site") {
			t.Errorf("history %q", n)
		}

		// Reopened and resolved again: nothing accepted yet.
		f.reopen(t)
		if a := mustGet(t, f, byPhone).Acceptance; a == nil || a.By != "ops1" {
			t.Fatalf("acceptance after a restart: %+v", a)
		}
		mustAct(t, f, operator, byPhone, ActionRequest{Action: ActReopen, Reason: "leaks again"})
		resolveTicket(t, f, byPhone, "tightened")
		if a := mustGet(t, f, byPhone).Acceptance; a != nil {
			t.Errorf("a new resolution keeps the old acceptance: %+v", a)
		}
	})
}

func TestResolveValidatesPartsAndFee(t *testing.T) {
	f := newFixture(t)
	id := ticketIn(t, f, StatusOnSite)
	for _, c := range []struct {
		req   ActionRequest
		field string
	}{
		{ActionRequest{Parts: []Part{{"valve", 0}}}, "parts[0].qty"},
		{ActionRequest{Parts: []Part{{"valve", 1}, {"seal", -2}}}, "parts[1].qty"},
		{ActionRequest{Parts: []Part{{" ", 1}}}, "parts[0].name"},
		{ActionRequest{Paid: true, FeeCents: -1}, "fee_cents"},
		{ActionRequest{Paid: true, FeeCents: MaxFeeCents + 1}, "fee_cents"},
		{ActionRequest{FeeCents: 500}, "fee_cents"},
	} {
		c.req.Action, c.req.Note = ActResolve, "fixed"
		_, err := f.svc.Act(context.Background(), tech1, id, c.req)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: %v, want an error on %s", c.req, err, c.field)
		}
	}
	res := mustAct(t, f, tech1, id, ActionRequest{Action: ActResolve, Note: "fixed", Paid: true, FeeCents: MaxFeeCents})
	if res.FeeCents != MaxFeeCents || Yuan(res.FeeCents) != "100000.00" {
		t.Errorf("largest fee: %d (%s)", res.FeeCents, Yuan(res.FeeCents))
	}
	if got := fmt.Sprint(Yuan(0), " ", Yuan(5), " ", Yuan(1250)); got != "0.00 0.05 12.50" {
		t.Errorf("Yuan: %s", got)
	}
}

// res0History is the note of the first history entry of action whose
// note names item.
func res0History(t *testing.T, f *fixture, id int64, action, item string) string {
	t.Helper()
	for _, h := range mustGet(t, f, id).History {
		if h.Action == action && strings.Contains(h.Note, " "+item+" ") {
			return h.Note
		}
	}
	return ""
}

package ticketing

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func validReport() Report {
	return Report{Source: SourcePatrol, Category: "water_electric", Site: "s1", Building: "B1",
		Location: "B1 stairwell", Description: "light out on landing 3", Reporter: Reporter{Name: "Li Wei", Phone: "13800000000"}}
}

func TestReportOpensNumberedTicketWithHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tk, merged, err := f.svc.Report(ctx, patrol, validReport())
	if err != nil || merged {
		t.Fatalf("Report: merged %v err %v", merged, err)
	}
	if tk.Number != "BX20261123-0001" || tk.Status != StatusNew || tk.Level != 2 || tk.Source != SourcePatrol ||
		tk.Scope != ScopePublic || tk.CreatedBy != "pat1" || tk.Reporter.Name != "Li Wei" || tk.VerificationCode != "" {
		t.Fatalf("ticket %+v", tk)
	}
	if len(tk.History) != 1 || tk.History[0].Action != "created" || tk.History[0].Actor != "pat1" ||
		tk.History[0].Role != "patrol" || !tk.History[0].At.Equal(t0) {
		t.Errorf("history %+v", tk.History)
	}

	// The next report of the day, in a home: the next number and a code, once.
	f.clock.Advance(time.Hour)
	home := Report{Source: SourcePhone, Category: "water_electric", Site: "s1", Building: "B3", Scope: ScopeInHome,
		Unit: "2", Floor: "12", Room: "1201", Location: "kitchen", Description: "tap drips"}
	tk2, _, err := f.svc.Report(ctx, Actor{"desk1", "operator"}, home)
	if err != nil {
		t.Fatal(err)
	}
	if tk2.Number != "BX20261123-0002" {
		t.Errorf("second number %q", tk2.Number)
	}
	if !regexp.MustCompile(`^\d{6}$`).MatchString(tk2.VerificationCode) {
		t.Errorf("verification code %q, want 6 digits", tk2.VerificationCode)
	}
	if got := mustGet(t, f, tk2.ID); got.VerificationCode != "" {
		t.Errorf("Get shows the verification code")
	}
	list, err := f.svc.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != tk2.ID || list[0].VerificationCode != "" || list[0].History != nil {
		t.Errorf("list %+v, want newest first, no code, no history", list)
	}
	f.rec.mu.Lock()
	for _, e := range f.rec.events {
		if tk, ok := e.Data.(Ticket); ok && tk.VerificationCode != "" {
			t.Errorf("event %s carries the verification code", e.Type)
		}
	}
	f.rec.mu.Unlock()

	// Another home in the same building, same room name: not the same incident.
	other := home
	other.Unit, other.Room = "3", "1202"
	if _, merged, err := f.svc.Report(ctx, Actor{"desk1", "operator"}, other); err != nil || merged {
		t.Errorf("report of another home: merged %v err %v, want a new ticket", merged, err)
	}
}

func TestReportNamingDeviceMergesIntoSensorTicket(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mustHandle(t, f, gasAlarm(f, 35))
	sensor := mustOpenTickets(t, f)[0]
	f.rec.reset()

	f.clock.Advance(2 * time.Minute)
	r := Report{Source: SourcePatrol, Category: "equipment", Site: "s1", Building: "B2", Location: "next to the boiler",
		DeviceID: "gas-b2-07", Description: "detector beeping, smell of gas", Reporter: Reporter{Name: "Zhang"}}
	tk, merged, err := f.svc.Report(ctx, patrol, r)
	if err != nil {
		t.Fatal(err)
	}
	if !merged || tk.ID != sensor.ID || tk.Number != sensor.Number {
		t.Fatalf("merged %v into %d (%s), want the sensor ticket %d", merged, tk.ID, tk.Number, sensor.ID)
	}
	last := tk.History[len(tk.History)-1]
	if last.Action != "report_merged" || last.Actor != "pat1" || !strings.Contains(last.Note, "Zhang") ||
		!strings.Contains(last.Note, "detector beeping, smell of gas") {
		t.Errorf("last history %+v, want the report", last)
	}
	if n := len(mustOpenTickets(t, f)); n != 1 {
		t.Errorf("%d open tickets, want 1", n)
	}
	if got := f.rec.types(); !slices.Equal(got, []string{EventTicketUpdated}) {
		t.Errorf("events %v", got)
	}
}

func TestReportOfSamePlaceMergesAndRaisesLevel(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first, _, err := f.svc.Report(ctx, patrol, Report{Source: SourcePatrol, Category: "water_electric", Site: "s1",
		Building: "B1", Location: "B1 basement", Description: "damp wall"})
	if err != nil || first.Level != 2 {
		t.Fatalf("first report: level %d err %v", first.Level, err)
	}
	tk, merged, err := f.svc.Report(ctx, Actor{"desk1", "operator"}, Report{Source: SourceResident, Category: "water_electric",
		Site: "s1", Building: "B1", Location: "B1 basement", Description: "water pouring from the ceiling"})
	if err != nil || !merged || tk.ID != first.ID {
		t.Fatalf("second report: merged %v id %d err %v, want merged into %d", merged, tk.ID, err, first.ID)
	}
	if tk.Level != 1 || !slices.Contains(actions(tk.History), "level_raised") {
		t.Errorf("level %d history %v, want raised to 1", tk.Level, actions(tk.History))
	}
	// A report without a location is not matched by place.
	if _, merged, err := f.svc.Report(ctx, patrol, Report{Source: SourcePatrol, Category: "water_electric", Site: "s1",
		Building: "B1", Description: "something"}); err != nil || merged {
		t.Errorf("report without location: merged %v err %v", merged, err)
	}
}

func TestDeriveLevel(t *testing.T) {
	for _, c := range []struct {
		category, description string
		want                  int
	}{
		{"water_electric", "strong gas smell in the corridor", 1},
		{"civil", "Smell of gas near unit 2", 1},
		{"public_area", "楼道里有煤气味", 1},
		{"water_electric", "燃气泄漏", 1},
		{"water_electric", "Water pouring through the ceiling", 1},
		{"water_electric", "pipe burst in the garage", 1},
		{"water_electric", "厨房漏水", 1},
		{"water_electric", "地下室爆管", 1},
		{"equipment", "two people trapped in lift 3", 1},
		{"equipment", "电梯困人", 1},
		{"water_electric", "short circuit in the meter box", 1},
		{"water_electric", "Power cut in block 5", 1},
		{"water_electric", "整栋停电", 1},
		{"water_electric", "插座短路", 1},
		{"public_area", "smoke in the stairwell", 1},
		{"public_area", "垃圾房起火", 1},
		{"gas", "meter reading question", 1},
		{"civil", "door does not close", 2},
		{"water_electric", "firewall of the gate PC", 2},
		{"civil", "warranty of the new windows", 3},
		{"civil", "question about renovation hours", 3},
		{"civil", "装修咨询", 3},
		{"civil", "smoke coming from a socket, warranty?", 1},
	} {
		if got := DeriveLevel(c.category, c.description); got != c.want {
			t.Errorf("DeriveLevel(%q, %q) = %d, want %d", c.category, c.description, got, c.want)
		}
	}
}

func TestReportValidationNamesTheField(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		field  string
		change func(*Report)
	}{
		{"source", func(r *Report) { r.Source = "" }},
		{"source", func(r *Report) { r.Source = SourceSensor }},
		{"source", func(r *Report) { r.Source = "email" }},
		{"site", func(r *Report) { r.Site = "  " }},
		{"building", func(r *Report) { r.Building = "" }},
		{"category", func(r *Report) { r.Category = "" }},
		{"description", func(r *Report) { r.Description = "" }},
		{"description", func(r *Report) { r.Description = strings.Repeat("漏", MaxDescription+1) }},
		{"scope", func(r *Report) { r.Scope = "private" }},
		{"level", func(r *Report) { r.Level = 4 }},
		{"level", func(r *Report) { r.Level = -1 }},
		{"location", func(r *Report) { r.Location = strings.Repeat("x", 201) }},
	} {
		r := validReport()
		c.change(&r)
		_, _, err := f.svc.Report(context.Background(), patrol, r)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: err %v, want a FieldError on %s", c.field, err, c.field)
			continue
		}
		if !strings.HasPrefix(fe.Error(), c.field+": ") {
			t.Errorf("Error() %q, want it to start with %q", fe.Error(), c.field+": ")
		}
	}
	r := validReport()
	r.Description = strings.Repeat("漏", MaxDescription) // 4000 characters, more bytes: fine
	if _, _, err := f.svc.Report(context.Background(), patrol, r); err != nil {
		t.Errorf("description of exactly %d characters: %v", MaxDescription, err)
	}
	if n := len(f.rec.types()); n != 1 {
		t.Errorf("%d events after rejected reports, want only the accepted one", n)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for i, loc := range []string{"L1", "L2", "L3", "L4"} {
		r := validReport()
		r.Location = loc
		if i == 3 {
			r.Site, r.Source = "s2", SourcePhone
		}
		if _, _, err := f.svc.Report(ctx, patrol, r); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Minute)
	}
	mustHandle(t, f, gasAlarm(f, 30))

	for _, c := range []struct {
		name   string
		filter Filter
		want   []string // locations, newest first
	}{
		{"all", Filter{}, []string{"B2 boiler room", "L4", "L3", "L2", "L1"}},
		{"site", Filter{Site: "s2"}, []string{"L4"}},
		{"source", Filter{Source: SourceSensor}, []string{"B2 boiler room"}},
		{"level", Filter{Level: 1}, []string{"B2 boiler room"}},
		{"status", Filter{Status: StatusClosed}, []string{}},
		{"page", Filter{Limit: 2, Offset: 1}, []string{"L4", "L3"}},
		{"from-to", Filter{From: t0.Add(time.Minute), To: t0.Add(3 * time.Minute)}, []string{"L3", "L2"}},
	} {
		got, err := f.svc.List(ctx, c.filter)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		locs := []string{}
		for _, tk := range got {
			locs = append(locs, tk.Location)
		}
		if !slices.Equal(locs, c.want) {
			t.Errorf("%s: %v, want %v", c.name, locs, c.want)
		}
	}
	if open := mustOpenTickets(t, f); len(open) != 5 || open[0].Level != 1 || open[1].Location != "L4" {
		t.Errorf("open tickets not level first then newest: %+v", open)
	}
	if _, err := f.svc.Get(ctx, 9999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(9999): %v, want ErrNotFound", err)
	}
}

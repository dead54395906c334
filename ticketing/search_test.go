package ticketing

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/rules"
)

// TestSearchTickets: the archive searched by free text, fault type, house
// and time, on both stores; a ticket over five years old is still found.
func TestSearchTickets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		old := t0.AddDate(-5, 0, -1)
		f.clock.Set(old)
		for _, r := range []Report{
			{Category: "civil", Building: "B3", Unit: "2", Room: "1201", Location: "B3-2-1201 bathroom", Description: "Ceiling CRACK over the bath", Scope: ScopeInHome},
			{Category: "water_electric", Building: "B3", Unit: "2", Room: "1202", Location: "B3-2-1202 kitchen", Description: "tap drips 50% of the time", Scope: ScopeInHome},
			{Category: "water_electric", Building: "B3", Unit: "1", Room: "1201", Location: "B3-1-1201 kitchen", Description: "卫生间漏水 under_sink", Scope: ScopeInHome},
			{Category: "equipment", Building: "B4", Location: "B4 lift 1", Description: "lift door stuck", DeviceID: "lift-b4-1"},
		} {
			r.Source, r.Site, r.Reporter = SourcePhone, "s1", Reporter{Name: "Zhao", Phone: "13900000000"}
			if _, merged, err := f.svc.Report(ctx, operator, r); err != nil || merged {
				t.Fatalf("Report %s: merged %v, %v", r.Location, merged, err)
			}
			if f.clock.Now().Equal(old) {
				f.clock.Set(t0) // the first is the archive's oldest
			}
			f.clock.Advance(time.Hour)
		}
		first, err := f.svc.List(ctx, Filter{Search: Search{Text: "crack"}})
		if err != nil || len(first) != 1 {
			t.Fatalf("text crack: %d tickets, %v", len(first), err)
		}
		number := first[0].Number

		for _, c := range []struct {
			name   string
			filter Filter
			want   []string // locations, newest first
		}{
			{"text any case", Filter{Search: Search{Text: "cRaCk"}}, []string{"B3-2-1201 bathroom"}},
			{"text words all match", Filter{Search: Search{Text: "kitchen 1202"}}, []string{"B3-2-1202 kitchen"}},
			{"text chinese", Filter{Search: Search{Text: "漏水"}}, []string{"B3-1-1201 kitchen"}},
			{"text number", Filter{Search: Search{Text: number}}, []string{"B3-2-1201 bathroom"}},
			{"text device", Filter{Search: Search{Text: "LIFT-B4"}}, []string{"B4 lift 1"}},
			{"percent literal", Filter{Search: Search{Text: "%"}}, []string{"B3-2-1202 kitchen"}},
			{"underscore is no wildcard", Filter{Search: Search{Text: "tap_drips"}}, []string{}},
			{"underscore found", Filter{Search: Search{Text: "under_sink"}}, []string{"B3-1-1201 kitchen"}},
			{"escape char literal", Filter{Search: Search{Text: "!"}}, []string{}},
			{"category", Filter{Search: Search{Category: "water_electric"}}, []string{"B3-1-1201 kitchen", "B3-2-1202 kitchen"}},
			{"building", Filter{Search: Search{Building: "B3"}}, []string{"B3-1-1201 kitchen", "B3-2-1202 kitchen", "B3-2-1201 bathroom"}},
			{"house", Filter{Search: Search{Building: "B3", Unit: "2", Room: "1201"}}, []string{"B3-2-1201 bathroom"}},
			{"room in both units", Filter{Search: Search{Room: "1201"}}, []string{"B3-1-1201 kitchen", "B3-2-1201 bathroom"}},
			{"house and category", Filter{Search: Search{Building: "B3", Category: "civil"}}, []string{"B3-2-1201 bathroom"}},
			{"five years back", Filter{From: old.Add(-time.Hour), To: old.Add(time.Hour)}, []string{"B3-2-1201 bathroom"}},
			{"time and text", Filter{From: t0, Search: Search{Text: "kitchen"}}, []string{"B3-1-1201 kitchen", "B3-2-1202 kitchen"}},
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
	})
}

// TestFindAlarms: the alarm list by free text, level, time and site, on
// both stores.
func TestFindAlarms(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		gas := gasAlarm(f, 30)
		mustHandle(t, f, gas)
		f.clock.Advance(time.Hour)
		leak := rules.Alarm{ID: rules.AlarmID("leak-wet", "leak-b5-1", f.clock.Now()), RuleID: "leak-wet", RuleName: "Water on the floor",
			Device: "leak-b5-1", Kind: devices.KindWaterLeak, Site: "s2", Building: "B5", Location: "B5 pump room", Event: "wet",
			Severity: rules.Major, Level: 2, State: rules.Raised, Message: "wet 100%", RaisedAt: f.clock.Now()}
		mustHandle(t, f, leak)
		for _, c := range []struct {
			name string
			af   AlarmFilter
			want []string // devices, newest first
		}{
			{"all", AlarmFilter{}, []string{"leak-b5-1", "gas-b2-07"}},
			{"rule name any case", AlarmFilter{Text: "WATER"}, []string{"leak-b5-1"}},
			{"device", AlarmFilter{Text: "gas-b2"}, []string{"gas-b2-07"}},
			{"message", AlarmFilter{Text: "lel_pct"}, []string{"gas-b2-07"}},
			{"percent literal", AlarmFilter{Text: "100%"}, []string{"leak-b5-1"}},
			{"underscore literal", AlarmFilter{Text: "lel_p"}, []string{"gas-b2-07"}},
			{"underscore is no wildcard", AlarmFilter{Text: "wet_1"}, []string{}},
			{"level", AlarmFilter{Level: 1}, []string{"gas-b2-07"}},
			{"from", AlarmFilter{From: t0.Add(time.Minute)}, []string{"leak-b5-1"}},
			{"to", AlarmFilter{To: t0.Add(time.Minute)}, []string{"gas-b2-07"}},
			{"sites", AlarmFilter{Sites: []string{"s2"}}, []string{"leak-b5-1"}},
			{"state and text", AlarmFilter{State: AlarmsActive, Text: "boiler"}, []string{"gas-b2-07"}},
		} {
			got, err := f.svc.FindAlarms(ctx, c.af)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			devs := []string{}
			for _, a := range got {
				devs = append(devs, a.Device)
			}
			if !slices.Equal(devs, c.want) {
				t.Errorf("%s: %v, want %v", c.name, devs, c.want)
			}
		}
	})
}

func TestSearchTerms(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"  Leak  B3 ", []string{"leak", "b3"}},
		{"", nil},
		{"a b c d e f g h i j", []string{"a", "b", "c", "d", "e", "f", "g", "h"}},
	} {
		if got := SearchTerms(c.in); !slices.Equal(got, c.want) {
			t.Errorf("SearchTerms(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if likePattern("5%_!") != "%5!%!_!!%" {
		t.Errorf("likePattern: %q", likePattern("5%_!"))
	}
}

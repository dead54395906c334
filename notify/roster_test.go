package notify

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func TestParseShift(t *testing.T) {
	cases := []struct {
		in         string
		days       string // which of sun..sat are on, as "smtwtfs" with '-' for off
		start, end int
		err        string
	}{
		{in: "mon-fri 08:00-20:00", days: "-mtwtf-", start: 480, end: 1200},
		{in: "mon-sun 00:00-24:00", days: "smtwtfs", start: 0, end: 1440},
		{in: "sat,sun 20:00-08:00", days: "s-----s", start: 1200, end: 480},
		{in: "fri-mon 22:30-06:15", days: "sm---fs", start: 1350, end: 375},
		{in: "mon,wed-thu 09:00-12:00", days: "-m-wt--", start: 540, end: 720},
		{in: "mon-fri 08:00-00:00", days: "-mtwtf-", start: 480, end: 1440}, // ends at midnight
		{in: "mon 00:00-00:00", err: "cannot end when it starts"},
		{in: "08:00-20:00", days: "smtwtfs", start: 480, end: 1200},
		{in: "MON-FRI 08:00-20:00", days: "-mtwtf-", start: 480, end: 1200},
		{in: "mon-fri 25:00-08:00", err: "hour out of range"},
		{in: "mon 24:30-08:00", err: "hour out of range"},
		{in: "mon 24:00-08:00", err: "cannot start at 24:00"},
		{in: "mon 8:00-20:00", err: `"8:00" is not hh:mm`},
		{in: "mon 08:00", err: "is not hh:mm-hh:mm"},
		{in: "noday 08:00-09:00", err: `"noday" is not a day`},
		{in: "mon fri 08:00-09:00", err: "want"},
		{in: "", err: "want"},
	}
	for _, tc := range cases {
		sh, err := ParseShift(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseShift(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseShift(%q): %v", tc.in, err)
			continue
		}
		days := ""
		for d, on := range sh.Days {
			if on {
				days += string("smtwtfs"[d])
			} else {
				days += "-"
			}
		}
		if days != tc.days || sh.Start != tc.start || sh.End != tc.end {
			t.Errorf("ParseShift(%q) = %s %d-%d, want %s %d-%d", tc.in, days, sh.Start, sh.End, tc.days, tc.start, tc.end)
		}
	}
}

// The site's rosters: days 08:00-20:00 and nights 20:00-08:00 (a shift
// across midnight, belonging to the day it starts), a weekend night
// cover, and an electrician for zone z2 on weekdays.
var siteRosters = Rosters{
	{Name: "day", Zones: []string{"z1"}, People: []string{"tech1"}, Shifts: []string{"mon-sun 08:00-20:00"}},
	{Name: "night", Zones: []string{"z1"}, People: []string{"tech2"}, Shifts: []string{"mon-thu 20:00-08:00"}},
	{Name: "weekend-night", Zones: []string{"z1"}, People: []string{"tech3"}, Shifts: []string{"fri-sun 20:00-08:00"}},
	{Name: "elec", Zones: []string{"z2"}, Skills: []string{"electrical"}, People: []string{"elec1", "tech1"}, Shifts: []string{"mon-fri 09:00-17:00"}},
	{Name: "all-zones", People: []string{"boss"}, Shifts: []string{"wed 12:00-13:00"}},
}

func TestOnDuty(t *testing.T) {
	sh := mustLoc(t, "Asia/Shanghai")
	ny := mustLoc(t, "America/New_York")
	at := func(loc *time.Location, s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// 2026-12-02 is a Wednesday.
	cases := []struct {
		name  string
		at    time.Time
		loc   *time.Location
		zone  string
		skill string
		want  []string
	}{
		{"day shift", at(sh, "2026-12-02 08:00"), sh, "z1", "", []string{"tech1"}},
		{"last minute of the day shift", at(sh, "2026-12-02 19:59"), sh, "z1", "", []string{"tech1"}},
		{"shift change at 20:00", at(sh, "2026-12-02 20:00"), sh, "z1", "", []string{"tech2"}},
		{"night shift after midnight belongs to the day it started (wed night, thu 03:00)", at(sh, "2026-12-03 03:00"), sh, "z1", "", []string{"tech2"}},
		{"thu night runs into fri morning", at(sh, "2026-12-04 07:59"), sh, "z1", "", []string{"tech2"}},
		{"fri night is the weekend cover", at(sh, "2026-12-04 23:00"), sh, "z1", "", []string{"tech3"}},
		{"sun night runs into mon morning", at(sh, "2026-12-07 02:00"), sh, "z1", "", []string{"tech3"}},
		{"mon night is tech2 again", at(sh, "2026-12-07 21:00"), sh, "z1", "", []string{"tech2"}},
		{"zone filter", at(sh, "2026-12-02 10:00"), sh, "z2", "electrical", []string{"elec1", "tech1"}},
		{"skill filter", at(sh, "2026-12-02 10:00"), sh, "z2", "plumbing", nil},
		{"no zone on the ticket: every roster", at(sh, "2026-12-02 10:00"), sh, "", "", []string{"tech1", "elec1"}},
		{"roster without zones covers any zone, once per person", at(sh, "2026-12-02 12:30"), sh, "z1", "", []string{"tech1", "boss"}},
		{"elec off at 17:00", at(sh, "2026-12-02 17:00"), sh, "z2", "electrical", nil},
		{"same instant, read in another zone", at(sh, "2026-12-02 08:00"), mustLoc(t, "UTC"), "z1", "", []string{"tech2"}},
		// America/New_York: DST ends Sun 2026-11-01 02:00 (clocks back to 01:00).
		{"DST zone: wall-clock 08:00 after the change", at(ny, "2026-11-01 08:00"), ny, "z1", "", []string{"tech1"}},
		{"DST zone: 07:59 is still the weekend night", at(ny, "2026-11-01 07:59"), ny, "z1", "", []string{"tech3"}},
		{"DST zone: repeated 01:30 hour is night cover", at(ny, "2026-11-01 01:30").Add(time.Hour), ny, "z1", "", []string{"tech3"}},
		// DST starts Sun 2026-03-08 02:00 (clocks forward to 03:00): the shift still ends at wall-clock 08:00.
		{"DST zone: spring forward, 08:00 local", at(ny, "2026-03-08 08:00"), ny, "z1", "", []string{"tech1"}},
		{"DST zone: spring forward, 07:59 local", at(ny, "2026-03-08 07:59"), ny, "z1", "", []string{"tech3"}},
	}
	for _, tc := range cases {
		got := siteRosters.OnDuty(tc.at, tc.loc, tc.zone, tc.skill)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: OnDuty(%s) = %v, want %v", tc.name, tc.at.In(tc.loc).Format("Mon 2006-01-02 15:04 MST"), got, tc.want)
		}
	}
}

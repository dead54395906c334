package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"
)

// On a fake clock across the shift changes of a day and a night roster
// (the night one crossing midnight), in the site's zone: who dispatch
// sees on duty (ticketing's OnDuty, by zone and category) and what
// GET /api/duty shows follow the rosters.
func TestDutyFollowsTheRosters(t *testing.T) {
	cfg, err := parseConfig([]byte(`
technicians:
  - {name: day1, skills: [gas], on_duty: false}
  - {name: night1, skills: [gas], on_duty: true}
  - {name: plumber, skills: [plumbing], on_duty: true}
people: [{name: day1}, {name: night1}, {name: plumber}]
rosters:
  - {zones: [z1], skills: [gas], people: [day1], shifts: ["mon-fri 08:00-20:00"]}
  - {zones: [z1], skills: [gas], people: [night1], shifts: ["mon-fri 20:00-08:00"]}
  - {people: [plumber], skills: [plumbing], shifts: ["08:00-20:00"]}
notify: {timezone: Asia/Shanghai}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := newPaging(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := func(day, hh, mm int) time.Time { return time.Date(2026, 12, day, hh, mm, 0, 0, sh) } // 2026-12-01 is a Tuesday
	onDuty := pg.onDuty()
	if onDuty == nil {
		t.Fatal("rosters given, no OnDuty")
	}
	var now time.Time
	duty := newDutyService(cfg, pg, func() time.Time { return now })
	names := func() []string {
		v, err := duty.OnDutyNow(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		var got struct {
			Source string
			People []struct{ Name string }
		}
		_ = json.Unmarshal(b, &got)
		if got.Source != "rosters" {
			t.Fatalf("source %q", got.Source)
		}
		var out []string
		for _, p := range got.People {
			out = append(out, p.Name)
		}
		return out
	}
	tests := []struct {
		name     string
		at       time.Time
		zone     string
		category string
		dispatch []string // OnDuty for the ticket
		panel    []string // GET /api/duty
	}{
		{"Tuesday 07:59: the night shift from Monday", at(1, 7, 59), "z1", "gas", []string{"night1"}, []string{"night1"}},
		{"Tuesday 08:00: the day shift", at(1, 8, 0), "z1", "gas", []string{"day1"}, []string{"day1", "plumber"}},
		{"Tuesday 19:59", at(1, 19, 59), "z1", "gas", []string{"day1"}, []string{"day1", "plumber"}},
		{"Tuesday 20:00: the night shift", at(1, 20, 0), "z1", "gas", []string{"night1"}, []string{"night1"}},
		{"Wednesday 00:30, across midnight", at(2, 0, 30), "z1", "gas", []string{"night1"}, []string{"night1"}},
		{"a plumbing ticket by day: the plumber's roster", at(1, 9, 0), "z1", "water_electric", []string{"plumber"}, []string{"day1", "plumber"}},
		{"another zone: only the roster without zones", at(1, 9, 0), "z9", "gas", nil, []string{"day1", "plumber"}},
		{"Saturday 09:00: nobody for gas", at(5, 9, 0), "z1", "gas", nil, []string{"plumber"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := onDuty(tc.at, tc.zone, tc.category); !slices.Equal(got, tc.dispatch) {
				t.Errorf("OnDuty(%s, %s) = %v, want %v", tc.zone, tc.category, got, tc.dispatch)
			}
			now = tc.at
			if got := names(); !slices.Equal(got, tc.panel) {
				t.Errorf("on duty now = %v, want %v", got, tc.panel)
			}
		})
	}

	// Without rosters: the technicians' on_duty flags.
	cfg.Config.Rosters = nil
	pg, err = newPaging(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if pg.onDuty() != nil {
		t.Error("no rosters, still an OnDuty")
	}
	v, _ := newDutyService(cfg, pg, time.Now).OnDutyNow(context.Background())
	if d := v.(dutyView); d.Source != "technicians" || len(d.People) != 2 || d.People[0].Name != "night1" {
		t.Errorf("without rosters: %+v", d)
	}
}

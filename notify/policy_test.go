package notify

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

const policyYAML = `
people:
  - {name: tech1, phone: "+8613800000001", email: "tech1@example.com"}
  - {name: tech2, phone: "+8613800000002", email: "tech2@example.com", lang: en}
  - {name: cr1, email: "cr1@example.com", roles: [control_room]}
  - {name: sup1, email: "sup1@example.com", roles: [supervisor, control_room]}
  - {name: pm1, email: "pm1@example.com", roles: [project_manager]}
rosters:
  - {zones: [z1], people: [tech1], shifts: ["mon-sun 08:00-20:00"]}
  - {zones: [z1], people: [tech2], shifts: ["mon-sun 20:00-08:00"]}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:9000/hook", secret: "at-least-16-chars"}
  - {name: mail, type: email, smtp: {addr: "127.0.0.1:2525", from: "caretaker@example.com", tls: none}}
  - {name: sms, type: sms_http, url: "http://127.0.0.1:9001/sms", body: '{"to":"{{phone}}","text":"{{text}}"}'}
notify:
  timezone: Asia/Shanghai
  policies:
    - level: 1
      steps:
        - {after: 0s, to: [on_duty, control_room, reporter], via: [mail, hook, sms]}
        - {after: 5m, to: [supervisor, sup1], via: [mail, hook]}
        - {after: 15m, to: [project_manager], via: [mail]}
    - level: 2
      steps:
        - {after: 0s, to: [assignee], via: [mail]}
`

func planner(t *testing.T) *Planner {
	t.Helper()
	p, err := NewPlanner(parse(t, policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// timeline asks the planner every 30 s from the incident's opening until
// end, as a worker would, and keeps each page once by id, with the time
// it was first seen.
func timeline(p *Planner, in func(now time.Time) Incident, start time.Time, end time.Duration) []string {
	seen := map[string]bool{}
	var out []string
	for d := time.Duration(0); d <= end; d += 30 * time.Second {
		now := start.Add(d)
		for _, pg := range p.Due(in(now), now) {
			if seen[pg.ID] {
				continue
			}
			seen[pg.ID] = true
			out = append(out, fmt.Sprintf("+%s step %s %s via %s", d, pg.Step, pg.Recipient.Name, pg.Channel))
		}
	}
	return out
}

var opened = time.Date(2026, 12, 2, 19, 50, 0, 0, time.FixedZone("CST", 8*3600)) // Wed 19:50 Shanghai

func TestPolicyTimelineAckStopsLaterSteps(t *testing.T) {
	p := planner(t)
	ackAt := opened.Add(7 * time.Minute)
	got := timeline(p, func(now time.Time) Incident {
		in := Incident{TicketID: 42, Number: "BX20261202-0001", Level: 1, Zone: "z1", OpenedAt: opened}
		if !now.Before(ackAt) {
			in.AckedAt = ackAt // the technician claims the ticket at +7m
		}
		return in
	}, opened, time.Hour)
	want := []string{
		"+0s step 1 tech1 via mail", "+0s step 1 tech1 via hook", "+0s step 1 tech1 via sms",
		"+0s step 1 cr1 via mail", "+0s step 1 cr1 via hook", "+0s step 1 cr1 via sms",
		"+0s step 1 sup1 via mail", "+0s step 1 sup1 via hook", "+0s step 1 sup1 via sms",
		// step 2 names sup1 twice (role and name): one page per channel.
		"+5m0s step 2 sup1 via mail", "+5m0s step 2 sup1 via hook",
		// acked at +7m: no step 3 at +15m.
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, ok := p.NextDue(Incident{Level: 1, OpenedAt: opened, AckedAt: ackAt}, ackAt); ok {
		t.Error("NextDue after the ack should be none")
	}
	if next, ok := p.NextDue(Incident{Level: 1, OpenedAt: opened}, opened.Add(6*time.Minute)); !ok || !next.Equal(opened.Add(15*time.Minute)) {
		t.Errorf("NextDue at +6m = %s %v, want +15m", next, ok)
	}
}

func TestPolicyTimelineUnackedReachesProjectManager(t *testing.T) {
	p := planner(t)
	got := timeline(p, func(time.Time) Incident {
		return Incident{TicketID: 42, Level: 1, Zone: "z1", OpenedAt: opened}
	}, opened, time.Hour)
	last := got[len(got)-1]
	if last != "+15m0s step 3 pm1 via mail" || len(got) != 12 {
		t.Fatalf("timeline:\n%s", strings.Join(got, "\n"))
	}
}

// TestPolicyShiftChangeDuringIncident: the ticket opens at 19:50 in zone
// z1 (tech1 on the day shift); a step to on_duty due at 20:05 reaches
// tech2, whose night shift began at 20:00; asked again later, the first
// step still names tech1 (recipients are fixed by each step's own time).
func TestPolicyShiftChangeDuringIncident(t *testing.T) {
	cfg := parse(t, policyYAML)
	cfg.Notify.Policies[0].Steps[1].To = []string{ToOnDuty}
	cfg.Notify.Policies[0].Steps[1].After = 15 * 60 * 1e9
	cfg.Notify.Policies[0].Steps[2].After = 30 * 60 * 1e9
	p, err := NewPlanner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in := Incident{TicketID: 7, Level: 1, Zone: "z1", OpenedAt: opened}
	names := func(pages []Page, step string) []string {
		set := map[string]bool{}
		for _, pg := range pages {
			if pg.Step == step {
				set[pg.Recipient.Name] = true
			}
		}
		var out []string
		for n := range set {
			out = append(out, n)
		}
		sort.Strings(out)
		return out
	}
	at := opened.Add(20 * time.Minute) // 20:10
	pages := p.Due(in, at)
	if got := names(pages, "1"); strings.Join(got, ",") != "cr1,sup1,tech1" {
		t.Errorf("step 1 (19:50) = %v, want tech1 on the day shift", got)
	}
	if got := names(pages, "2"); strings.Join(got, ",") != "tech2" {
		t.Errorf("step 2 (20:05) = %v, want tech2 on the night shift", got)
	}
}

func TestPolicyReporterAndAssignee(t *testing.T) {
	p := planner(t)
	in := Incident{TicketID: 9, Level: 1, Zone: "zX", OpenedAt: opened, Code: "4711",
		Reporter: &Reporter{Name: "Ms Wang", Phone: "+8613900000009"}}
	var rep []Page
	for _, pg := range p.Due(in, opened) {
		if pg.Recipient.IsReporter {
			rep = append(rep, pg)
		}
	}
	// The reporter is paged through the personal channel only (sms; she
	// has no email), never through the webhook.
	if len(rep) != 1 || rep[0].Channel != "sms" || rep[0].Recipient.Phone != "+8613900000009" {
		t.Fatalf("reporter pages = %+v", rep)
	}
	// A person named like the reporter is another recipient.
	if rep[0].ID == DeliveryID(9, opened, "1", "Ms Wang", "sms") {
		t.Error("reporter's delivery id collides with a person's")
	}
	l2 := Incident{TicketID: 10, Level: 2, OpenedAt: opened, Assignee: "tech2"}
	pages := p.Due(l2, opened)
	if len(pages) != 1 || pages[0].Recipient.Email != "tech2@example.com" || pages[0].Recipient.Lang != LangEN {
		t.Fatalf("assignee pages = %+v", pages)
	}
	if got := p.Due(Incident{TicketID: 11, Level: 2, OpenedAt: opened}, opened); len(got) != 0 {
		t.Errorf("no assignee: %+v", got)
	}
	if got := p.Due(Incident{TicketID: 12, Level: 3, OpenedAt: opened}, opened.Add(time.Hour)); len(got) != 0 {
		t.Errorf("level without a policy: %+v", got)
	}
}

// TestPolicyNoDoublePages: asked again and again (a flapping alarm keeps
// updating the incident), the planner returns the same ids, so the
// outbox keeps one row per page.
func TestPolicyNoDoublePages(t *testing.T) {
	p := planner(t)
	in := Incident{TicketID: 42, Level: 1, Zone: "z1", OpenedAt: opened, AlarmID: "a1"}
	first := p.Due(in, opened.Add(6*time.Minute))
	in.AlarmID, in.Observation = "a2", "gas 40 %LEL"
	again := p.Due(in, opened.Add(9*time.Minute))
	if len(first) != len(again) {
		t.Fatalf("%d pages, then %d", len(first), len(again))
	}
	ids := map[string]bool{}
	for i := range first {
		if first[i].ID != again[i].ID {
			t.Errorf("page %d id changed: %s -> %s", i, first[i].ID, again[i].ID)
		}
		if ids[first[i].ID] {
			t.Errorf("id %s twice", first[i].ID)
		}
		ids[first[i].ID] = true
	}
	// A reopened ticket starts again: new ids.
	in.OpenedAt = opened.Add(2 * time.Hour)
	if re := p.Due(in, in.OpenedAt); ids[re[0].ID] {
		t.Error("reopened ticket reuses a delivery id")
	}
}

func TestPolicyEscalation(t *testing.T) {
	p := planner(t)
	in := Incident{TicketID: 42, Level: 1, Zone: "z1", OpenedAt: opened, AckedAt: opened.Add(time.Minute)}
	// The claim clock: same ids as step 2, so nobody gets both.
	esc := p.Escalation(in, RoleSupervisor, "", opened.Add(5*time.Minute))
	step2 := p.Due(Incident{TicketID: 42, Level: 1, Zone: "z1", OpenedAt: opened}, opened.Add(5*time.Minute))
	ids := map[string]bool{}
	for _, pg := range step2 {
		ids[pg.ID] = true
	}
	if len(esc) != 2 {
		t.Fatalf("escalation pages = %+v", esc)
	}
	for _, pg := range esc {
		if !ids[pg.ID] || pg.Recipient.Name != "sup1" {
			t.Errorf("escalation page %+v is not one of step 2's", pg)
		}
	}
	// The arrive clock, later, acknowledged or not: pages of its own.
	arr := p.Escalation(in, RoleSupervisor, "arrive", opened.Add(30*time.Minute))
	if len(arr) != 2 || arr[0].Step != "2:arrive" || ids[arr[0].ID] {
		t.Errorf("arrive escalation = %+v", arr)
	}
	// A target no step names: paged alone through the first step's channels.
	pm := p.Escalation(Incident{TicketID: 1, Level: 2, OpenedAt: opened}, RoleProjectMgr, "close", opened)
	if len(pm) != 1 || pm[0].Recipient.Name != "pm1" || pm[0].Channel != "mail" {
		t.Errorf("unlisted target = %+v", pm)
	}
}

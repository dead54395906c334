package notify

import (
	"strings"
	"testing"
	"time"
)

// The reporter hears of acceptance and resolution through the personal
// channels of the steps that name them, once per event, without the
// code; incidents without a reporter, or levels whose steps do not name
// one, tell nobody.
func TestPlannerReporterUpdates(t *testing.T) {
	p := planner(t)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	eta := time.Date(2026, 12, 1, 20, 30, 0, 0, p.Location())
	base := Incident{TicketID: 9, Number: "BX20261201-0009", Level: 1, OpenedAt: at, Assignee: "tech2", Code: "123456", ETA: eta,
		Reporter: &Reporter{Name: "Wang", Phone: "+8613900000009", Lang: LangEN}}
	tests := []struct {
		name  string
		in    Incident
		event string
		want  []string // "channel" of each page
		text  []string
	}{
		{"accepted: sms only (no email address; hook and mail are not the reporter's)", base, TypeAccepted, []string{"sms"},
			[]string{"Technician tech2 has taken on your report BX20261201-0009.", "Expected on site by 2026-12-01 20:30."}},
		{"resolved", base, TypeResolved, []string{"sms"}, []string{"is done", "call you back"}},
		{"eta: the technician is late", base, TypeETA, []string{"sms"}, []string{"tech2 cannot be there within 20 minutes: expected on site by 2026-12-01 20:30."}},
		{"eta in Chinese", func() Incident { in := base; r := *in.Reporter; r.Lang = LangZH; in.Reporter = &r; return in }(), TypeETA, []string{"sms"},
			[]string{"tech2 无法在 20 分钟内到达，预计 2026-12-01 20:30 前到场。"}},
		{"no reporter", func() Incident { in := base; in.Reporter = nil; return in }(), TypeAccepted, nil, nil},
		{"level whose steps do not name the reporter", func() Incident { in := base; in.Level = 2; return in }(), TypeAccepted, nil, nil},
		{"unknown event", base, "opened", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pages := p.Reporter(tc.in, tc.event, at)
			if len(pages) != len(tc.want) {
				t.Fatalf("pages %+v, want %v", pages, tc.want)
			}
			for i, pg := range pages {
				if pg.Channel != tc.want[i] || !pg.Recipient.IsReporter || pg.Type != tc.event || pg.Step != "reporter:"+tc.event {
					t.Errorf("page %+v", pg)
				}
				m := NewMessage(pg, tc.in, "https://x/ack/r/y")
				// Only the resolved message carries the reporter's link.
				link := tc.event == TypeResolved
				if m.Type != tc.event || (m.AckURL != "") != link || strings.Contains(m.Body, "https://x/ack/r/y") != link ||
					m.Incident.Code != "" || strings.Contains(m.Body, "123456") {
					t.Errorf("message %+v: want type %s, link %v, no code", m, tc.event, link)
				}
				if l := m.ForListing(); l.AckURL != "" || strings.Contains(l.Body, "/ack/r/") {
					t.Errorf("listing shows the reporter's link: %+v", l)
				}
				for _, s := range tc.text {
					if !strings.Contains(m.Body, s) {
						t.Errorf("body %q lacks %q", m.Body, s)
					}
				}
			}
			if again := p.Reporter(tc.in, tc.event, at.Add(time.Hour)); len(again) > 0 && again[0].ID != pages[0].ID {
				t.Errorf("asked again: id %s, want %s (told once)", again[0].ID, pages[0].ID)
			}
		})
	}
}

package notify

import (
	"strings"
	"testing"
)

// TestPersonLimitedToSites: a project manager limited to estate s1 is
// paged for s1's tickets only; the others, limited to none, for all; a
// bad site id is refused naming the key.
func TestPersonLimitedToSites(t *testing.T) {
	cfg := parse(t, strings.Replace(policyYAML, "roles: [project_manager]}", "roles: [project_manager], sites: [s1]}", 1))
	p, err := NewPlanner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	step := Step{To: []string{RoleProjectMgr, RoleControlRoom, "pm1"}, Via: []string{"mail"}}
	for _, tc := range []struct {
		site   string
		wantPM bool
	}{{"s1", true}, {"s2", false}} {
		var names []string
		for _, pg := range p.pages(Incident{TicketID: 1, Site: tc.site, OpenedAt: opened}, "1", step, opened) {
			names = append(names, pg.Recipient.Name)
		}
		got := strings.Join(names, ",")
		if strings.Contains(got, "pm1") != tc.wantPM || !strings.Contains(got, "cr1") {
			t.Errorf("site %s: paged %s, want pm1 %v and cr1", tc.site, got, tc.wantPM)
		}
	}
	bad := parse(t, strings.Replace(policyYAML, "roles: [project_manager]}", "roles: [project_manager], sites: [\"s 1\"]}", 1))
	if err := bad.WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "people[4].sites[0]") {
		t.Fatalf("bad site id: %v", err)
	}
}

package rules

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestRuleOpen: a rule's open key is ticket or triage (or empty: triage),
// anything else names the field; the default pack opens tickets by
// itself for exactly its preventive rules (services due, wear trends, a
// battery round), each saying so in its rationale.
func TestRuleOpen(t *testing.T) {
	base := Rule{ID: "x", Kind: "gas", Metric: "lel_pct", Condition: Condition{Op: ">=", Value: 30}, Severity: Major}
	for _, tc := range []struct {
		open    string
		wantErr bool
	}{{"", false}, {OpenTriage, false}, {OpenTicket, false}, {"page", true}, {"Ticket", true}} {
		r := base
		r.Open = tc.open
		err := r.Validate()
		var fe *FieldError
		switch {
		case tc.wantErr && (!errors.As(err, &fe) || fe.Field != "open"):
			t.Errorf("open %q: %v, want a field error on open", tc.open, err)
		case !tc.wantErr && err != nil:
			t.Errorf("open %q: %v", tc.open, err)
		}
	}
	pack, err := DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	var opens []string
	for _, r := range pack {
		if r.Open == OpenTicket {
			opens = append(opens, r.ID)
			if !strings.Contains(r.Rationale, "open: ticket") {
				t.Errorf("%s opens its ticket by itself but its rationale does not say why", r.ID)
			}
		}
	}
	want := []string{"elevator-door-service", "elevator-maintenance-overdue", "elevator-motor-temp-trend", "elevator-vibration-trend",
		"elevator-vibration-trend.class-ii", "elevator-vibration-trend.class-iii", "elevator-vibration-trend.class-iv",
		"gas-calibration-due", "water-leak-battery-low"}
	slices.Sort(opens)
	if !slices.Equal(opens, want) {
		t.Errorf("rules that open their ticket by itself:\n%v\nwant\n%v", opens, want)
	}
}

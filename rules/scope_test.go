package rules

import (
	"strings"
	"testing"

	"github.com/caretaker-iot/caretaker/devices"
)

// TestScopeSelectsByDeviceProperty: a family member scoped to a place
// type, machine class or model replaces the kind-wide member on the
// devices that have it, and a place-scoped member (building) still beats
// a property-scoped one.
func TestScopeSelectsByDeviceProperty(t *testing.T) {
	kind := with(gasRule, func(r *Rule) { r.ID, r.Clear = "gas-crit", nil })
	boiler := with(kind, func(r *Rule) {
		r.ID, r.Scope, r.Condition.Value = "gas-crit.boiler", Scope{PlaceType: []string{"boiler_room", "kitchen"}}, 12
	})
	model := with(kind, func(r *Rule) { r.ID, r.Scope, r.Condition.Value = "gas-crit.gd4", Scope{Model: []string{"gd4"}}, 15 })
	both := with(kind, func(r *Rule) {
		r.ID, r.Scope, r.Condition.Value = "gas-crit.gd4-boiler", Scope{PlaceType: []string{"boiler_room"}, Model: []string{"gd4"}}, 17
	})
	b3 := with(kind, func(r *Rule) { r.ID, r.Scope, r.Condition.Value = "gas-crit.b3", Scope{Building: "B3"}, 30 })
	reg := fakeDevices{
		"g1": {ID: "g1", Kind: devices.KindGas, Site: "s1", Building: "B1"},
		"g2": {ID: "g2", Kind: devices.KindGas, Site: "s1", Building: "B1", PlaceType: "boiler_room"},
		"g3": {ID: "g3", Kind: devices.KindGas, Site: "s1", Building: "B1", PlaceType: "kitchen"},
		"g4": {ID: "g4", Kind: devices.KindGas, Site: "s1", Building: "B1", Model: "gd4"},
		"g5": {ID: "g5", Kind: devices.KindGas, Site: "s1", Building: "B1", PlaceType: "boiler_room", Model: "gd4"},
		"g6": {ID: "g6", Kind: devices.KindGas, Site: "s1", Building: "B3", PlaceType: "boiler_room"},
		"g7": {ID: "g7", Kind: devices.KindGas, Site: "s1", Building: "B1", PlaceType: "flat"},
	}
	tests := []struct {
		dev  string
		lel  float64
		want string
	}{
		{"g1", 13, ""}, // kind-wide: 20
		{"g1", 21, "gas-crit"},
		{"g2", 13, "gas-crit.boiler"}, // place type: 12
		{"g3", 13, "gas-crit.boiler"}, // either listed place type
		{"g7", 13, ""},                // a flat is not listed
		{"g4", 16, "gas-crit.gd4"},    // model: 15
		{"g5", 16, ""},                // two properties beat one: 17
		{"g5", 18, "gas-crit.gd4-boiler"},
		{"g6", 21, ""}, // building beats place type: 30
		{"g6", 31, "gas-crit.b3"},
	}
	for _, tc := range tests {
		t.Run(tc.dev, func(t *testing.T) {
			h := newHarness(t, reg, kind, boiler, model, both, b3)
			h.run(kind, []step{atDev(0, tc.dev, tc.lel)})
			var got []string
			for _, a := range h.sink.alarms {
				got = append(got, a.RuleID)
			}
			if strings.Join(got, " ") != tc.want {
				t.Fatalf("raised %v, want %q", got, tc.want)
			}
		})
	}
}

func TestScopeRefusesUnknownProperties(t *testing.T) {
	tests := []struct {
		scope Scope
		field string
	}{
		{Scope{PlaceType: []string{"basement"}}, "scope.place_type"},
		{Scope{PlaceType: []string{""}}, "scope.place_type"},
		{Scope{MachineClass: []string{"2"}}, "scope.machine_class"},
		{Scope{Model: []string{""}}, "scope.model"},
	}
	for _, tc := range tests {
		r := with(gasRule, func(r *Rule) { r.Scope = tc.scope })
		err := r.Validate()
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != tc.field {
			t.Errorf("%+v: error = %v, want field %s", tc.scope, err, tc.field)
		}
	}
}

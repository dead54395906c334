package devices

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Place types: what kind of room or space a device watches. Rules select
// on it (a wet probe in a pump room is an emergency, in a flat it is not);
// "" is a device whose place is not given.
var placeTypes = []string{
	"switch_room",  // 配电室: switchgear, transformers
	"pump_room",    // 水泵房: water and fire pumps
	"tank_room",    // 水箱间: water tanks
	"lift_pit",     // 电梯底坑
	"machine_room", // 电梯机房 and other plant rooms
	"riser",        // 管井/电井: pipe or cable shaft
	"boiler_room",  // 锅炉房
	"kitchen",      // a kitchen of a public or commercial building (canteen, restaurant); a flat's kitchen is flat
	"garage",       // 地下车库
	"flat",         // inside a dwelling
	"corridor",     // common areas: halls, stairs, corridors
	"outdoor",
	"other",
}

// PlaceTypes returns the accepted place types, in a fixed order.
func PlaceTypes() []string { return append([]string(nil), placeTypes...) }

// ValidPlaceType tells whether s is "" or one of PlaceTypes.
func ValidPlaceType(s string) bool {
	if s == "" {
		return true
	}
	for _, p := range placeTypes {
		if p == s {
			return true
		}
	}
	return false
}

// Machine classes of ISO 10816-1 (Annex B), which set the vibration zones
// of a rotating machine: I small machines (up to 15 kW, most residential
// lift traction machines), II medium (15-75 kW, or up to 300 kW on special
// foundations), III large on rigid foundations, IV large on soft ones.
var machineClasses = []string{"I", "II", "III", "IV"}

// MachineClasses returns the accepted machine classes.
func MachineClasses() []string { return append([]string(nil), machineClasses...) }

// ValidMachineClass tells whether s is "" or one of MachineClasses.
func ValidMachineClass(s string) bool {
	if s == "" {
		return true
	}
	for _, c := range machineClasses {
		if c == s {
			return true
		}
	}
	return false
}

// Actuators are what an actuator device may be: a valve closes (open 0)
// or opens (open 1), a fan starts (running 1) or stops (running 0).
var actuators = []string{"water_valve", "gas_valve", "fan"}

// Actuators returns the accepted actuator names.
func Actuators() []string { return append([]string(nil), actuators...) }

// ValidActuator tells whether s is one of Actuators.
func ValidActuator(s string) bool {
	for _, a := range actuators {
		if a == s {
			return true
		}
	}
	return false
}

// checkProperties validates the properties rules may select on; the error
// names the field.
func checkProperties(d Device) error {
	switch {
	case d.Kind == KindActuator && !ValidActuator(d.Actuator):
		return fmt.Errorf("actuator: %q is not one of %s", d.Actuator, strings.Join(actuators, ", "))
	case d.Kind != KindActuator && d.Actuator != "":
		return fmt.Errorf("actuator: a %s device is not an actuator", d.Kind)
	}
	for _, f := range []struct{ name, v string }{{"building", d.Building}, {"floor", d.Floor}} {
		if len(f.v) > 64 || !utf8.ValidString(f.v) || strings.IndexFunc(f.v, unicode.IsControl) >= 0 {
			return fmt.Errorf("%s: %q must be at most 64 bytes of text, without control characters", f.name, f.v)
		}
	}
	if !ValidPlaceType(d.PlaceType) {
		return fmt.Errorf("place_type: %q is not one of %s", d.PlaceType, strings.Join(placeTypes, ", "))
	}
	if !ValidMachineClass(d.MachineClass) {
		return fmt.Errorf("machine_class: %q is not one of %s (ISO 10816-1)", d.MachineClass, strings.Join(machineClasses, ", "))
	}
	if d.MachineClass != "" && d.Kind != KindElevator && d.Kind != KindUnknown {
		return fmt.Errorf("machine_class: a %s device has no machine to classify", d.Kind)
	}
	if d.BreakerA < 0 || d.BreakerA != d.BreakerA {
		return fmt.Errorf("breaker_a: %g must be a positive rating in amperes", d.BreakerA)
	}
	if d.BreakerA > 0 && d.Kind != KindPower && d.Kind != KindUnknown {
		return fmt.Errorf("breaker_a: a %s device has no breaker to rate", d.Kind)
	}
	return nil
}

// Ratings names the device ratings rules may measure against (a
// condition's rating): breaker_a, the rated current In of the breaker
// that protects a power meter's feeder.
func Ratings() []string { return []string{"breaker_a"} }

// Rating returns the device's rating of that name, 0 when it gives none.
func (d Device) Rating(name string) float64 {
	switch name {
	case "breaker_a":
		return d.BreakerA
	}
	return 0
}

package devices

import "fmt"

// Kind is the class of a device; it is also the InfluxDB measurement name.
type Kind string

// The kinds Caretaker knows. KindUnknown is given to devices that were
// auto-registered from MQTT traffic.
const (
	KindElevator  Kind = "elevator"
	KindWaterLeak Kind = "water_leak"
	KindPower     Kind = "power"
	KindGas       Kind = "gas"
	KindUnknown   Kind = "unknown"
)

// KindActuator is a device Caretaker commands: a valve or a fan
// (Device.Actuator says which), on its MQTT command topic. It reports its
// state back like any device: open (a valve), running (a fan).
const KindActuator Kind = "actuator"

// MetricType says how a metric's value is carried.
type MetricType int

// Metric types: a gauge is a float that goes up and down, a counter only
// grows (it may reset when a controller restarts), a flag is a boolean.
const (
	Gauge MetricType = iota
	Counter
	Flag
)

// MetricSpec describes one canonical metric of a kind.
type MetricSpec struct {
	Name string
	Type MetricType
	Unit string
}

// KindSpec lists what a kind of device reports.
type KindSpec struct {
	Kind    Kind
	Metrics []MetricSpec
	Events  []string
}

// kindSpecs is the catalogue of contract.md, "Devices and readings".
var kindSpecs = map[Kind]KindSpec{
	KindElevator: {Kind: KindElevator, Metrics: []MetricSpec{
		{"motor_temp_c", Gauge, "°C"},
		{"vibration_mm_s", Gauge, "mm/s"},
		{"door_cycles", Counter, ""},
		{"car_floor", Gauge, ""},
		{"running", Flag, ""},
		{"door_open", Flag, ""},
		{"door_zone", Flag, ""},
		{"overload", Flag, ""},
		{"load_fault", Flag, ""},
		{"inspection", Flag, ""},
		{"machine_room_temp_c", Gauge, "°C"},
	}, Events: []string{"entrapment", "door_fault", "overspeed", "safety_gear"}},
	KindWaterLeak: {Kind: KindWaterLeak, Metrics: []MetricSpec{
		{"leak", Flag, ""},
		{"battery_pct", Gauge, "%"},
		{"fault", Flag, ""},
	}},
	KindPower: {Kind: KindPower, Metrics: []MetricSpec{
		{"voltage_v", Gauge, "V"},
		{"current_a", Gauge, "A"},
		{"power_kw", Gauge, "kW"},
		{"frequency_hz", Gauge, "Hz"},
		{"power_factor", Gauge, ""},
		{"energy_kwh", Counter, "kWh"},
		{"l1_v", Gauge, "V"},
		{"l2_v", Gauge, "V"},
		{"l3_v", Gauge, "V"},
		{"l1_a", Gauge, "A"},
		{"l2_a", Gauge, "A"},
		{"l3_a", Gauge, "A"},
		{"residual_ma", Gauge, "mA"},
		{"voltage_unbalance_pct", Gauge, "%"},
	}, Events: []string{"outage"}},
	KindGas: {Kind: KindGas, Metrics: []MetricSpec{
		{"lel_pct", Gauge, "%LEL"},
		{"co_ppm", Gauge, "ppm"},
		{"fault", Flag, ""},
	}},
	KindActuator: {Kind: KindActuator, Metrics: []MetricSpec{
		{"open", Flag, ""},
		{"running", Flag, ""},
		{"fault", Flag, ""},
	}},
}

// Kinds returns the known kinds of sensing devices (those with a Modbus
// model in the library), in a fixed order; KindActuator is not one.
func Kinds() []Kind {
	return []Kind{KindElevator, KindWaterLeak, KindPower, KindGas}
}

// SpecOf returns the catalogue entry of a kind.
func SpecOf(k Kind) (KindSpec, bool) {
	s, ok := kindSpecs[k]
	return s, ok
}

// ParseKind checks a kind name from configuration or a payload.
func ParseKind(s string) (Kind, error) {
	k := Kind(s)
	if _, ok := kindSpecs[k]; ok || k == KindUnknown {
		return k, nil
	}
	return "", fmt.Errorf("unknown device kind %q (want elevator, water_leak, power, gas or actuator)", s)
}

// Metric returns the spec of a metric of this kind.
func (s KindSpec) Metric(name string) (MetricSpec, bool) {
	for _, m := range s.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return MetricSpec{}, false
}

// HasEvent tells whether the kind reports the named event.
func (s KindSpec) HasEvent(name string) bool {
	for _, e := range s.Events {
		if e == name {
			return true
		}
	}
	return false
}

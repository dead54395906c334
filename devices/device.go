package devices

import (
	"fmt"
	"time"
)

// Device is one registered sensor or controller.
type Device struct {
	ID       string  `yaml:"id" json:"id"`
	Kind     Kind    `yaml:"kind" json:"kind"`
	Site     string  `yaml:"site" json:"site"`
	Building string  `yaml:"building" json:"building"`
	Floor    string  `yaml:"floor" json:"floor,omitempty"`
	Location string  `yaml:"location" json:"location,omitempty"`
	Zone     string  `yaml:"zone" json:"zone,omitempty"`
	Model    string  `yaml:"model" json:"model,omitempty"`
	Modbus   *Modbus `yaml:"modbus" json:"modbus,omitempty"`
	// Nominal values a rule may refer to, e.g. nominal voltage 220.
	Nominal map[string]float64 `yaml:"nominal" json:"nominal,omitempty"`

	// PlaceType is the kind of room the device watches (PlaceTypes), and
	// MachineClass the ISO 10816-1 class of the machine it sits on; rules
	// may select on both (rules.Scope).
	PlaceType    string `yaml:"place_type" json:"place_type,omitempty"`
	MachineClass string `yaml:"machine_class" json:"machine_class,omitempty"`
	// Maintainer is the lift maintenance contractor (维保单位) of an
	// elevator, named in its entrapment tickets; BreakerA the rating in
	// amperes of the breaker that protects a power meter's feeder, which
	// the over-current rules compare the phase currents with.
	Maintainer string  `yaml:"maintainer" json:"maintainer,omitempty"`
	BreakerA   float64 `yaml:"breaker_a" json:"breaker_a,omitempty"`
	// Actuator is what an actuator device is (Actuators): the water or
	// gas valve of its zone, or its fan. Rules command actuators by it.
	Actuator string `yaml:"actuator" json:"actuator,omitempty"`
}

// Modbus is how a device is polled. Address is tcp://host:port or
// rtu:///dev/ttyUSB0?baud=9600.
type Modbus struct {
	Address  string   `yaml:"address" json:"address"`
	Unit     byte     `yaml:"unit" json:"unit"`
	Interval Duration `yaml:"interval" json:"interval"`
	Timeout  Duration `yaml:"timeout" json:"timeout"`
}

// Model is a reusable register map for one device model.
type Model struct {
	Registers []Register `yaml:"registers" json:"registers"`
}

// Register maps one metric to Modbus registers.
type Register struct {
	Metric    string   `yaml:"metric" json:"metric"`
	Table     string   `yaml:"table" json:"table"`
	Address   uint16   `yaml:"address" json:"address"`
	Type      string   `yaml:"type" json:"type"`
	ByteOrder string   `yaml:"byte_order" json:"byte_order,omitempty"`
	WordOrder string   `yaml:"word_order" json:"word_order,omitempty"`
	Scale     float64  `yaml:"scale" json:"scale,omitempty"`
	Offset    float64  `yaml:"offset" json:"offset,omitempty"`
	Min       *float64 `yaml:"min" json:"min,omitempty"`
	Max       *float64 `yaml:"max" json:"max,omitempty"`
	// Writable lets Caretaker write this entry to carry out a device
	// action (an actuator's open or running); only a coil or a holding
	// register can be. Nothing else is ever written.
	Writable bool `yaml:"writable" json:"writable,omitempty"`
}

// Duration is a time.Duration written as "1s" in YAML and JSON.
type Duration time.Duration

// UnmarshalText parses "500ms", "1s", "5m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as Go does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// Std returns the standard library duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// ValidID tells whether s can name a device or site: it is used in MQTT
// topics and InfluxDB tags, so wildcards, slashes and spaces are refused.
// It is ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, checked byte by byte (it runs
// twice for every message).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// RegisterTables and RegisterTypes are the accepted register map values.
var (
	registerTables = map[string]bool{"holding": true, "input": true, "coil": true, "discrete": true}
	registerTypes  = map[string]int{ // width in 16-bit registers
		"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2,
		"int64": 4, "uint64": 4, "float64": 4, "bool": 1,
	}
)

// RegisterWidth is the number of 16-bit registers a type takes (1 for bool
// and for coils).
func RegisterWidth(typ string) int { return registerTypes[typ] }

// Validate checks one register entry; the error names the field.
func (r Register) Validate() error {
	if r.Metric == "" {
		return fmt.Errorf("metric: missing")
	}
	if !registerTables[r.Table] {
		return fmt.Errorf("table: %q is not holding, input, coil or discrete", r.Table)
	}
	if _, ok := registerTypes[r.Type]; !ok {
		return fmt.Errorf("type: %q is not one of int16 uint16 int32 uint32 int64 uint64 float32 float64 bool", r.Type)
	}
	if (r.Table == "coil" || r.Table == "discrete") && r.Type != "bool" {
		return fmt.Errorf("type: a %s register must be bool, not %s", r.Table, r.Type)
	}
	for name, v := range map[string]string{"byte_order": r.ByteOrder, "word_order": r.WordOrder} {
		if v != "" && v != "big" && v != "little" {
			return fmt.Errorf("%s: %q is not big or little", name, v)
		}
	}
	if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
		return fmt.Errorf("min: %g is above max %g", *r.Min, *r.Max)
	}
	if r.Writable && r.Table != "coil" && r.Table != "holding" {
		return fmt.Errorf("writable: %s is read-only; only a coil or a holding register can be written", r.Table)
	}
	return nil
}

package devices

import (
	"strconv"
	"time"
)

// Value is one metric value: a number, or a flag for boolean metrics.
type Value struct {
	Number float64
	Flag   bool
	IsFlag bool
}

// Num makes a numeric value.
func Num(f float64) Value { return Value{Number: f} }

// FlagValue makes a boolean value.
func FlagValue(b bool) Value { return Value{Flag: b, IsFlag: true} }

// Float returns the value as a number; a flag is 1 when true.
func (v Value) Float() float64 {
	if v.IsFlag {
		if v.Flag {
			return 1
		}
		return 0
	}
	return v.Number
}

// String formats the value for logs and messages.
func (v Value) String() string {
	if v.IsFlag {
		return strconv.FormatBool(v.Flag)
	}
	return strconv.FormatFloat(v.Number, 'g', -1, 64)
}

// Reading is what one device measured at one instant. Time is the device's
// own timestamp (event time); Received is when Caretaker took it.
type Reading struct {
	Device   string
	Kind     Kind
	Site     string
	Building string
	Time     time.Time
	Received time.Time
	Values   map[string]Value
}

// Event is a discrete condition a device reports, such as an elevator
// entrapment or a power outage; Active false means it has ended.
type Event struct {
	Device   string
	Kind     Kind
	Site     string
	Building string
	Time     time.Time
	Received time.Time
	Name     string
	Active   bool
}

// Status says whether a device is reachable.
type Status struct {
	Device string
	Time   time.Time
	Online bool
	Reason string
}

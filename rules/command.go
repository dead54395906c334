package rules

import (
	"github.com/caretaker-iot/caretaker/devices"
)

// Command is a device action a rule's alarm calls for: set the actuators
// of the alarm device's zone (its water valve, its gas valve, its fan).
// The rule only describes it; whoever receives the alarm carries it out
// (cmd wires the executor), reads back whether it took effect and writes
// it to the ticket's history.
type Command struct {
	// Actuator is what to command in the alarm device's site and zone:
	// one of devices.Actuators (water_valve, gas_valve, fan).
	Actuator string `yaml:"actuator" json:"actuator"`
	// Set is what to do: close or open (a valve), start or stop (a fan).
	Set string `yaml:"set" json:"set"`
	// Confirm: "operator" waits for an operator to press the button on
	// the alarm's ticket (who pressed it is recorded); "auto" acts at once.
	Confirm string `yaml:"confirm" json:"confirm"`
}

// Confirmations of a command.
const (
	ConfirmOperator = "operator"
	ConfirmAuto     = "auto"
)

// Want is the reading that shows the command took effect: the metric of
// the actuator and its value (a closed valve reads open 0, a started fan
// running 1).
func (c Command) Want() (metric string, value float64) {
	switch c.Set {
	case "close":
		return "open", 0
	case "open":
		return "open", 1
	case "start":
		return "running", 1
	default: // stop
		return "running", 0
	}
}

func (c Command) validate() error {
	if !devices.ValidActuator(c.Actuator) {
		return fieldErr("actuator", "%q is not one of %v", c.Actuator, devices.Actuators())
	}
	valve := c.Actuator != "fan"
	switch {
	case valve && c.Set != "close" && c.Set != "open":
		return fieldErr("set", "a valve is set to close or open, not %q", c.Set)
	case !valve && c.Set != "start" && c.Set != "stop":
		return fieldErr("set", "a fan is set to start or stop, not %q", c.Set)
	}
	if c.Confirm != ConfirmOperator && c.Confirm != ConfirmAuto {
		return fieldErr("confirm", "%q is not operator or auto", c.Confirm)
	}
	return nil
}

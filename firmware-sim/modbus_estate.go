package firmwaresim

import (
	"fmt"
	"net"
	"strconv"

	"github.com/caretaker-iot/caretaker/devices"
)

// MaxUnits is how many units one Modbus gateway serves (unit ids 1..247).
const MaxUnits = 247

// AssignModbus puts the devices of the given kinds on Modbus TCP: each
// gets its kind's built-in model and a unit id behind a gateway at listen
// (host:port); past 247 units the next gateway takes the next port. The
// other devices stay on MQTT. Actuators (kind actuator) get the built-in
// model of their actuator (ActuatorModel), whose writable entry takes
// Caretaker's commands. The estate is returned as a new slice.
func AssignModbus(estate []devices.Device, listen string, kinds []devices.Kind) ([]devices.Device, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("modbus listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return nil, fmt.Errorf("modbus listen address %q: port must be 1-65535", listen)
	}
	want := map[devices.Kind]bool{}
	for _, k := range kinds {
		if devices.BuiltinModelFor(k) == "" && k != devices.KindActuator {
			return nil, fmt.Errorf("modbus kinds: %q has no built-in model (want elevator, water_leak, power, gas or actuator)", k)
		}
		want[k] = true
	}
	out := make([]devices.Device, len(estate))
	n := 0
	for i, d := range estate {
		model := devices.BuiltinModelFor(d.Kind)
		if d.Kind == devices.KindActuator {
			model = ActuatorModel(d.Actuator)
		}
		if want[d.Kind] && model != "" {
			gw := port + n/MaxUnits
			if gw > 65535 {
				return nil, fmt.Errorf("modbus: %d devices need ports past 65535", n)
			}
			d.Model = model
			d.Modbus = &devices.Modbus{
				Address: "tcp://" + net.JoinHostPort(host, strconv.Itoa(gw)),
				Unit:    byte(n%MaxUnits + 1),
			}
			n++
		}
		out[i] = d
	}
	return out, nil
}

// ActuatorModel names the built-in Modbus model of an actuator: valvo-mv2
// for a water or gas valve (a writable coil), ventco-f1 for a fan (a
// writable holding register); "" for anything else.
func ActuatorModel(actuator string) string {
	switch actuator {
	case "water_valve", "gas_valve":
		return "valvo-mv2"
	case "fan":
		return "ventco-f1"
	}
	return ""
}

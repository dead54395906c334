package firmwaresim

import (
	"encoding/json"
	"sync"

	"github.com/caretaker-iot/caretaker/devices"
)

// DemoActuators are the demo estate's valves and fan: zone z1's water
// valve (it feeds the B1 pump room and lift pit), its gas valve and the
// B2 boiler room's fan. They honour Caretaker's commands on their cmd
// topic and report their state: a closed water valve dries the zone's
// leak probes, a shut gas valve with the fan running clears the zone's
// gas.
func DemoActuators() []devices.Device {
	return []devices.Device{
		{ID: "wv-z1", Kind: devices.KindActuator, Actuator: "water_valve", Site: "s1", Building: "B1", Floor: "B1", Location: "B1 water main valve", Zone: "z1"},
		{ID: "gv-z1", Kind: devices.KindActuator, Actuator: "gas_valve", Site: "s1", Building: "B2", Floor: "B1", Location: "B2 gas shut-off valve", Zone: "z1"},
		{ID: "fan-z1", Kind: devices.KindActuator, Actuator: "fan", Site: "s1", Building: "B2", Floor: "B1", Location: "B2 boiler room fan", Zone: "z1"},
	}
}

// plant is the state the actuators of each site and zone set: which
// valves are shut and which fans run. The devices of a zone read it: a
// leak probe behind a shut water valve dries, a gas head behind a shut
// gas valve with the fan running reads clean air.
type plant struct {
	mu    sync.Mutex
	zones map[string]*zoneState // site/zone
}

type zoneState struct {
	waterShut, gasShut, fanOn bool
}

func newPlant() *plant { return &plant{zones: map[string]*zoneState{}} }

func zoneKey(d devices.Device) string { return d.Site + "/" + d.Zone }

func (p *plant) zone(d devices.Device) *zoneState {
	z := p.zones[zoneKey(d)]
	if z == nil {
		z = &zoneState{}
		p.zones[zoneKey(d)] = z
	}
	return z
}

// command applies a command message to actuator d; false: not one it
// takes.
func (p *plant) command(d devices.Device, payload []byte) bool {
	var m struct {
		Set string `json:"set"`
	}
	if json.Unmarshal(payload, &m) != nil {
		return false
	}
	return p.set(d, m.Set)
}

// setMetric applies a write of an actuator's state metric (a valve's
// open, a fan's running; Modbus): the same as the command it means.
func (p *plant) setMetric(d devices.Device, metric string, on bool) bool {
	set := map[string][2]string{"open": {"close", "open"}, "running": {"stop", "start"}}[metric]
	if set[0] == "" {
		return false
	}
	if on {
		return p.set(d, set[1])
	}
	return p.set(d, set[0])
}

// set applies one command (close, open, start, stop) to actuator d;
// false: not one it takes.
func (p *plant) set(d devices.Device, set string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	z := p.zone(d)
	switch {
	case d.Actuator == "water_valve" && (set == "close" || set == "open"):
		z.waterShut = set == "close"
	case d.Actuator == "gas_valve" && (set == "close" || set == "open"):
		z.gasShut = set == "close"
	case d.Actuator == "fan" && (set == "start" || set == "stop"):
		z.fanOn = set == "start"
	default:
		return false
	}
	return true
}

// state is what actuator d reports: a valve open 0 or 1, a fan running
// 0 or 1.
func (p *plant) state(d devices.Device) map[string]devices.Value {
	p.mu.Lock()
	defer p.mu.Unlock()
	z := p.zone(d)
	switch d.Actuator {
	case "water_valve":
		return map[string]devices.Value{"open": devices.FlagValue(!z.waterShut), "fault": devices.FlagValue(false)}
	case "gas_valve":
		return map[string]devices.Value{"open": devices.FlagValue(!z.gasShut), "fault": devices.FlagValue(false)}
	default:
		return map[string]devices.Value{"running": devices.FlagValue(z.fanOn), "fault": devices.FlagValue(false)}
	}
}

// apply makes a sensor's values follow its zone's actuators.
func (p *plant) apply(d devices.Device, vals map[string]devices.Value) {
	p.mu.Lock()
	defer p.mu.Unlock()
	z, ok := p.zones[zoneKey(d)]
	if !ok {
		return
	}
	switch d.Kind {
	case devices.KindWaterLeak:
		if _, has := vals["leak"]; has && z.waterShut {
			vals["leak"] = devices.FlagValue(false)
		}
	case devices.KindGas:
		if v, has := vals["lel_pct"]; has && z.gasShut && z.fanOn && v.Number > 1 {
			vals["lel_pct"] = devices.Num(1)
		}
	}
}

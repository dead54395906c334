package firmwaresim

import (
	"testing"

	"github.com/caretaker-iot/caretaker/devices"
)

// TestPlantFollowsActuators: a shut water valve dries its zone's probes
// (not another zone's); a shut gas valve clears the zone's gas only with
// the fan running; an actuator reports what it was set to and refuses a
// command it does not take.
func TestPlantFollowsActuators(t *testing.T) {
	p := newPlant()
	acts := DemoActuators()
	wv, gv, fan := acts[0], acts[1], acts[2]
	probe := devices.Device{ID: "leak-b1-01", Kind: devices.KindWaterLeak, Site: "s1", Zone: "z1"}
	other := devices.Device{ID: "leak-b4-01", Kind: devices.KindWaterLeak, Site: "s1", Zone: "z2"}
	gas := devices.Device{ID: "gas-b2-01", Kind: devices.KindGas, Site: "s1", Zone: "z1"}
	wet := func(d devices.Device) bool {
		v := map[string]devices.Value{"leak": devices.FlagValue(true)}
		p.apply(d, v)
		return v["leak"].Flag
	}
	lel := func() float64 {
		v := map[string]devices.Value{"lel_pct": devices.Num(35)}
		p.apply(gas, v)
		return v["lel_pct"].Number
	}
	if !wet(probe) || p.state(wv)["open"].Flag != true {
		t.Fatal("before any command: the probe is wet and the valve open")
	}
	if p.command(wv, []byte(`{"set":"start"}`)) || p.command(fan, []byte(`{"set":"close"}`)) || p.command(wv, []byte(`not json`)) {
		t.Fatal("a command the actuator does not take was taken")
	}
	if !p.command(wv, []byte(`{"id":1,"set":"close","attempt":1}`)) {
		t.Fatal("close refused")
	}
	if wet(probe) || !wet(other) || p.state(wv)["open"].Flag {
		t.Fatalf("after close: probe wet %v, z2 probe wet %v, valve open %v", wet(probe), wet(other), p.state(wv)["open"].Flag)
	}
	p.command(gv, []byte(`{"set":"close"}`))
	if lel() != 35 {
		t.Fatal("gas cleared without the fan")
	}
	p.command(fan, []byte(`{"set":"start"}`))
	if lel() != 1 || !p.state(fan)["running"].Flag {
		t.Fatalf("valve shut and fan on: lel %v, running %v", lel(), p.state(fan)["running"].Flag)
	}
	p.command(wv, []byte(`{"set":"open"}`))
	if !wet(probe) {
		t.Fatal("reopened: the probe stays dry")
	}
}

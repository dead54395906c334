package firmwaresim

import (
	"fmt"

	"github.com/caretaker-iot/caretaker/devices"
)

// DemoEstate is a small estate with two devices of each kind (three leak
// probes, two of them in B1, so that a flood can reach more than one),
// named after the places a control room would recognise, with their place
// types (B3's kitchen is a canteen) and the lifts' machine class.
func DemoEstate() []devices.Device {
	return []devices.Device{
		{ID: "gas-b2-01", Kind: devices.KindGas, Site: "s1", Building: "B2", Floor: "B1", Location: "B2 boiler room", Zone: "z1", PlaceType: "boiler_room"},
		{ID: "gas-b3-01", Kind: devices.KindGas, Site: "s1", Building: "B3", Floor: "1", Location: "B3 kitchen gas meter", Zone: "z2", PlaceType: "kitchen"},
		{ID: "leak-b1-01", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1", Floor: "B1", Location: "B1 pump room", Zone: "z1", PlaceType: "pump_room"},
		{ID: "leak-b4-01", Kind: devices.KindWaterLeak, Site: "s1", Building: "B4", Floor: "B2", Location: "B4 water tank room", Zone: "z2", PlaceType: "tank_room"},
		{ID: "pm-b1-01", Kind: devices.KindPower, Site: "s1", Building: "B1", Floor: "B1", Location: "B1 basement switch room", Zone: "z1", PlaceType: "switch_room", BreakerA: 250},
		{ID: "pm-b4-01", Kind: devices.KindPower, Site: "s1", Building: "B4", Floor: "1", Location: "B4 switch room", Zone: "z2", PlaceType: "switch_room"},
		{ID: "elev-e1", Kind: devices.KindElevator, Site: "s1", Building: "B1", Location: "B1 elevator E1", Zone: "z1", MachineClass: "I", Maintainer: "Liftco Service 400-800-1234"},
		{ID: "elev-e3", Kind: devices.KindElevator, Site: "s1", Building: "B3", Location: "B3 elevator E3", Zone: "z2", MachineClass: "I"},
		{ID: "leak-b1-02", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1", Floor: "B1", Location: "B1 lift pit (E1)", Zone: "z1", PlaceType: "lift_pit"},
	}
}

// GenerateEstate makes n devices spread over sites of up to 8 buildings,
// the four kinds in turn: gas-s1-b1-0001, water_leak-..., and so on.
func GenerateEstate(n int) []devices.Device {
	kinds := devices.Kinds()
	short := map[devices.Kind]string{devices.KindElevator: "elev", devices.KindWaterLeak: "leak",
		devices.KindPower: "pm", devices.KindGas: "gas"}
	out := make([]devices.Device, n)
	for i := range out {
		k := kinds[i%len(kinds)]
		site := fmt.Sprintf("s%d", i/400+1)
		b := fmt.Sprintf("B%d", (i/50)%8+1)
		out[i] = devices.Device{
			ID:       fmt.Sprintf("%s-%s-%s-%04d", short[k], site, b, i+1),
			Kind:     k,
			Site:     site,
			Building: b,
			Location: fmt.Sprintf("%s %s %d", b, k, i+1),
			Zone:     fmt.Sprintf("z%d", (i/50)%4+1),
		}
	}
	return out
}

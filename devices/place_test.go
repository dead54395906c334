package devices

import (
	"strings"
	"testing"
)

func TestRegistryChecksPlaceTypeAndMachineClass(t *testing.T) {
	tests := []struct {
		name   string
		dev    Device
		errHas string
	}{
		{"pump room probe", Device{ID: "l1", Kind: KindWaterLeak, Site: "s1", PlaceType: "pump_room"}, ""},
		{"no place", Device{ID: "l1", Kind: KindWaterLeak, Site: "s1"}, ""},
		{"class I lift", Device{ID: "e1", Kind: KindElevator, Site: "s1", MachineClass: "I"}, ""},
		{"unknown place", Device{ID: "l1", Kind: KindWaterLeak, Site: "s1", PlaceType: "basement"}, "place_type: \"basement\""},
		{"place in capitals", Device{ID: "l1", Kind: KindWaterLeak, Site: "s1", PlaceType: "Pump_Room"}, "place_type:"},
		{"unknown class", Device{ID: "e1", Kind: KindElevator, Site: "s1", MachineClass: "V"}, "machine_class: \"V\""},
		{"class on a gas head", Device{ID: "g1", Kind: KindGas, Site: "s1", MachineClass: "I"}, "machine_class: a gas device"},
		{"rated feeder", Device{ID: "p1", Kind: KindPower, Site: "s1", BreakerA: 250}, ""},
		{"negative rating", Device{ID: "p1", Kind: KindPower, Site: "s1", BreakerA: -1}, "breaker_a: -1"},
		{"breaker on a lift", Device{ID: "e1", Kind: KindElevator, Site: "s1", BreakerA: 32}, "breaker_a: a elevator device"},
		{"building and floor", Device{ID: "g1", Kind: KindGas, Site: "s1", Building: "2号楼", Floor: "B1"}, ""},
		{"floor with a newline", Device{ID: "g1", Kind: KindGas, Site: "s1", Building: "B2", Floor: "3\n"}, "floor: \"3\\n\""},
		{"building too long", Device{ID: "g1", Kind: KindGas, Site: "s1", Building: strings.Repeat("B", 65)}, "building: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRegistry(Catalog{Devices: []Device{tc.dev}})
			if tc.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.errHas)
			}
		})
	}
	c, err := ParseCatalog(strings.NewReader("devices:\n  - {id: e1, kind: elevator, site: s1, place_type: lift_pit, machine_class: II, maintainer: 'Liftco Service 400-800-1234'}\n  - {id: p1, kind: power, site: s1, breaker_a: 400}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Devices[1].BreakerA != 400 || c.Devices[0].Maintainer != "Liftco Service 400-800-1234" {
		t.Fatalf("parsed %+v", c.Devices)
	}
	if c.Devices[0].PlaceType != "lift_pit" || c.Devices[0].MachineClass != "II" {
		t.Fatalf("parsed %+v", c.Devices[0])
	}
}

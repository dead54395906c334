package devices

import (
	"strings"
	"testing"
)

func TestNewRegistryNamesTheFieldAtFault(t *testing.T) {
	model := map[string]Model{"pm": {Registers: []Register{{Metric: "voltage_v", Table: "holding", Type: "uint16"}}}}
	mb := &Modbus{Address: "tcp://127.0.0.1:5020", Unit: 1}
	f := func(x float64) *float64 { return &x }
	tests := []struct {
		name   string
		cat    Catalog
		errHas string
	}{
		{"ok", Catalog{Devices: []Device{{ID: "g1", Kind: KindGas, Site: "s1"}, {ID: "p1", Kind: KindPower, Site: "s1", Modbus: mb, Model: "pm"}}, Models: model}, ""},
		{"bad id", Catalog{Devices: []Device{{ID: "g/1", Kind: KindGas, Site: "s1"}}}, "devices[0]: id:"},
		{"wildcard id", Catalog{Devices: []Device{{ID: "+", Kind: KindGas, Site: "s1"}}}, "devices[0]: id:"},
		{"duplicate", Catalog{Devices: []Device{{ID: "g1", Kind: KindGas, Site: "s1"}, {ID: "g1", Kind: KindGas, Site: "s1"}}}, "devices[1]: id:"},
		{"bad kind", Catalog{Devices: []Device{{ID: "g1", Kind: "boiler", Site: "s1"}}}, "devices[0]: kind:"},
		{"no site", Catalog{Devices: []Device{{ID: "g1", Kind: KindGas}}}, "devices[0]: site:"},
		{"modbus without model", Catalog{Devices: []Device{{ID: "p1", Kind: KindPower, Site: "s1", Modbus: mb}}}, "devices[0]: model:"},
		{"undefined model", Catalog{Devices: []Device{{ID: "p1", Kind: KindPower, Site: "s1", Modbus: mb, Model: "x"}}, Models: model}, "devices[0]: model:"},
		{"modbus without address", Catalog{Devices: []Device{{ID: "p1", Kind: KindPower, Site: "s1", Modbus: &Modbus{}, Model: "pm"}}, Models: model}, "modbus.address"},
		{"bad table", Catalog{Models: map[string]Model{"m": {Registers: []Register{{Metric: "x", Table: "fifo", Type: "uint16"}}}}}, "models.m.registers[0].table:"},
		{"bad type", Catalog{Models: map[string]Model{"m": {Registers: []Register{{Metric: "x", Table: "input", Type: "int8"}}}}}, "models.m.registers[0].type:"},
		{"coil not bool", Catalog{Models: map[string]Model{"m": {Registers: []Register{{Metric: "x", Table: "coil", Type: "uint16"}}}}}, "models.m.registers[0].type:"},
		{"bad order", Catalog{Models: map[string]Model{"m": {Registers: []Register{{Metric: "x", Table: "input", Type: "float32", WordOrder: "middle"}}}}}, "word_order:"},
		{"min above max", Catalog{Models: map[string]Model{"m": {Registers: []Register{{Metric: "x", Table: "input", Type: "int16", Min: f(5), Max: f(1)}}}}}, "min:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRegistry(tc.cat)
			if tc.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				if r.Len() != len(tc.cat.Devices) {
					t.Fatalf("len %d", r.Len())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.errHas)
			}
		})
	}
}

func TestParseCatalogRejectsUnknownKeys(t *testing.T) {
	_, err := ParseCatalog(strings.NewReader("devices:\n  - {id: g1, kind: gas, site: s1, colour: red}\n"))
	if err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("error = %v", err)
	}
	c, err := ParseCatalog(strings.NewReader("devices:\n  - {id: g1, kind: gas, site: s1, modbus: {address: 'tcp://h:502', unit: 3, interval: 2s}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Devices[0].Modbus.Interval.Std().Seconds() != 2 || c.Devices[0].Modbus.Unit != 3 {
		t.Fatalf("modbus = %+v", c.Devices[0].Modbus)
	}
}

func TestRegistryAddAndLookup(t *testing.T) {
	r, err := NewRegistry(Catalog{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Add(Device{ID: "e1", Kind: KindElevator, Site: "s1"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(Device{ID: "e1", Kind: KindElevator, Site: "s1"}); err == nil {
		t.Fatal("second add of e1 accepted")
	}
	d, ok := r.Lookup("e1")
	if !ok || d.Kind != KindElevator {
		t.Fatalf("lookup = %+v %v", d, ok)
	}
	d.Site = "changed"
	if again, _ := r.Lookup("e1"); again.Site != "s1" {
		t.Fatal("Lookup returned a reference into the registry")
	}
}

func TestValueFloat(t *testing.T) {
	if Num(2.5).Float() != 2.5 || FlagValue(true).Float() != 1 || FlagValue(false).Float() != 0 {
		t.Fatal("Float")
	}
	if FlagValue(true).String() != "true" || Num(0.1).String() != "0.1" {
		t.Fatal("String")
	}
}

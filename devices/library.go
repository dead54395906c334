package devices

import (
	"bytes"
	_ "embed"
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"
)

//go:embed library.yaml
var libraryYAML []byte

// BuiltinModels returns the built-in register-map library (library.yaml):
// acme-pm3 (power meter), liftco-lc2 (elevator controller), gasguard-gd4
// (gas detector), aquasense-lp1 (leak probe) and the actuators valvo-mv2
// (valve, a writable coil) and ventco-f1 (fan, a writable holding
// register). The simulator serves these maps over Modbus TCP and
// Caretaker can read a device that names one of them without a register
// map of its own. Each call returns a fresh copy.
func BuiltinModels() (map[string]Model, error) {
	var lib struct {
		Models map[string]Model `yaml:"models"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(libraryYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&lib); err != nil {
		return nil, fmt.Errorf("built-in model library: %w", err)
	}
	names := make([]string, 0, len(lib.Models))
	for name := range lib.Models {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for i, reg := range lib.Models[name].Registers {
			if err := reg.Validate(); err != nil {
				return nil, fmt.Errorf("built-in model library: models.%s.registers[%d].%w", name, i, err)
			}
		}
	}
	return lib.Models, nil
}

// BuiltinModelFor names the built-in model of a kind of device, or "" for
// a kind the library has none for.
func BuiltinModelFor(k Kind) string {
	switch k {
	case KindPower:
		return "acme-pm3"
	case KindElevator:
		return "liftco-lc2"
	case KindGas:
		return "gasguard-gd4"
	case KindWaterLeak:
		return "aquasense-lp1"
	}
	return ""
}

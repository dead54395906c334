package devices

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/caretaker-iot/caretaker/internal/intern"
)

// Catalog is what a devices file holds: devices and the models they use.
type Catalog struct {
	Devices []Device         `yaml:"devices"`
	Models  map[string]Model `yaml:"models"`
}

// ParseCatalog reads a devices file; unknown keys are an error.
func ParseCatalog(r io.Reader) (Catalog, error) {
	var c Catalog
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Catalog{}, err
	}
	return c, nil
}

// LoadCatalog reads a devices file from disk.
func LoadCatalog(path string) (Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Catalog{}, err
	}
	c, err := ParseCatalog(bytes.NewReader(b))
	if err != nil {
		return Catalog{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Registry holds the known devices and models. It is safe for concurrent
// use: gateways look devices up on every message while the API may add more.
//
// A device that gives nothing but its id, kind, site and building (as a
// device registered from its traffic does, and many detectors) is kept
// in bare, in the map itself (64 bytes a device, instead of a map entry
// and the 224 of a Device), its names kept once (names); any
// other device in devices, whole.
type Registry struct {
	mu      sync.RWMutex
	devices map[string]*Device
	bare    map[string]bareDevice
	names   intern.Pool[string]
	models  map[string]Model
}

// bareDevice is a device that gives nothing but its id, kind, site and
// building.
type bareDevice struct {
	id             string // the registry's copy, as Lookup gives it
	kind           Kind
	site, building string
}

func (b bareDevice) device() Device {
	return Device{ID: b.id, Kind: b.kind, Site: b.site, Building: b.building}
}

// isBare tells whether the device gives nothing but its id, kind, site
// and building (TestBareCoversEveryField checks it looks at every other
// field of Device).
func isBare(d Device) bool {
	return d.Floor == "" && d.Location == "" && d.Zone == "" && d.Model == "" && d.Modbus == nil && d.Nominal == nil &&
		d.PlaceType == "" && d.MachineClass == "" && d.Maintainer == "" && d.BreakerA == 0 && d.Actuator == ""
}

// name is s, kept once for every device that names it.
func (r *Registry) name(s string) string { return *r.names.Of(s) }

// NewRegistry builds a registry from a catalog, checking every entry. The
// error names the device or model and the field at fault.
func NewRegistry(c Catalog) (*Registry, error) {
	r := &Registry{devices: map[string]*Device{}, bare: make(map[string]bareDevice, len(c.Devices)),
		models: make(map[string]Model, len(c.Models))}
	for name, m := range c.Models {
		for i, reg := range m.Registers {
			if err := reg.Validate(); err != nil {
				return nil, fmt.Errorf("models.%s.registers[%d].%w", name, i, err)
			}
		}
		r.models[name] = m
	}
	for i := range c.Devices {
		if err := r.addLocked(c.Devices[i]); err != nil {
			return nil, fmt.Errorf("devices[%d]: %w", i, err)
		}
	}
	return r, nil
}

// Add registers a new device, or fails naming the field at fault.
func (r *Registry) Add(d Device) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addLocked(d)
}

func (r *Registry) addLocked(d Device) error {
	if !ValidID(d.ID) {
		return fmt.Errorf("id: %q must be 1-64 letters, digits, '.', '_' or '-'", d.ID)
	}
	if _, dup := r.lookupLocked(d.ID); dup {
		return fmt.Errorf("id: device %q is registered twice", d.ID)
	}
	if _, err := ParseKind(string(d.Kind)); err != nil {
		return fmt.Errorf("kind: %w", err)
	}
	if !ValidID(d.Site) {
		return fmt.Errorf("site: %q must be 1-64 letters, digits, '.', '_' or '-'", d.Site)
	}
	if err := checkProperties(d); err != nil {
		return err
	}
	if d.Modbus != nil {
		if d.Modbus.Address == "" {
			return fmt.Errorf("modbus.address: missing")
		}
		if d.Model == "" {
			return fmt.Errorf("model: a Modbus device needs a register map")
		}
		if _, ok := r.models[d.Model]; !ok {
			return fmt.Errorf("model: %q is not defined under models", d.Model)
		}
	}
	if isBare(d) {
		r.bare[d.ID] = bareDevice{id: d.ID, kind: Kind(r.name(string(d.Kind))), site: r.name(d.Site), building: r.name(d.Building)}
		return nil
	}
	dd := d
	r.devices[d.ID] = &dd
	return nil
}

// Lookup returns a copy of the device with that id.
func (r *Registry) Lookup(id string) (Device, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.lookupLocked(id)
}

func (r *Registry) lookupLocked(id string) (Device, bool) {
	if b, ok := r.bare[id]; ok {
		return b.device(), true
	}
	d, ok := r.devices[id]
	if !ok {
		return Device{}, false
	}
	return *d, true
}

// Model returns a register map by name.
func (r *Registry) Model(name string) (Model, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.models[name]
	return m, ok
}

// Devices returns every device, sorted by id.
func (r *Registry) Devices() []Device {
	r.mu.RLock()
	out := make([]Device, 0, len(r.devices)+len(r.bare))
	for _, d := range r.devices {
		out = append(out, *d)
	}
	for _, b := range r.bare {
		out = append(out, b.device())
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Len is the number of registered devices.
func (r *Registry) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.devices) + len(r.bare)
}

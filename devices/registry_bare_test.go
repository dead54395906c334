package devices

import (
	"fmt"
	"reflect"
	"runtime"
	"testing"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// TestBareDevicesKeptAsGiven: a device that gives only its id, kind, site
// and building is kept bare, any other whole; both come back from Lookup
// and Devices exactly as registered, a duplicate id is refused across
// both, and Len counts both.
func TestBareDevicesKeptAsGiven(t *testing.T) {
	min := 1.5
	given := []Device{
		{ID: "g1", Kind: KindGas, Site: "s1", Building: "B1"},
		{ID: "g2", Kind: KindGas, Site: "s1", Building: "B1", Location: "kitchen"},
		{ID: "g3", Kind: KindGas, Site: "s1", Building: "B2", Nominal: map[string]float64{}},
		{ID: "p1", Kind: KindPower, Site: "s1", Building: "B2", BreakerA: 63, Nominal: map[string]float64{"voltage": 220}},
		{ID: "m1", Kind: KindPower, Site: "s1", Model: "pm", Modbus: &Modbus{Address: "tcp://10.0.0.5:502", Unit: 1}},
		{ID: "g4", Kind: KindGas, Site: "s2"},
	}
	r, err := NewRegistry(Catalog{Devices: given, Models: map[string]Model{"pm": {Registers: []Register{{Metric: "v", Table: "input", Type: "float32", Min: &min}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.bare) != 2 || len(r.devices) != 4 {
		t.Errorf("%d bare, %d whole; want 2 (g1, g4) and 4", len(r.bare), len(r.devices))
	}
	if r.Len() != len(given) {
		t.Errorf("Len %d, want %d", r.Len(), len(given))
	}
	for _, d := range given {
		got, ok := r.Lookup(d.ID)
		if !ok || !reflect.DeepEqual(got, d) {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", d.ID, got, ok, d)
		}
	}
	all := r.Devices()
	if len(all) != len(given) {
		t.Fatalf("Devices: %d, want %d", len(all), len(given))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].ID >= all[i].ID {
			t.Errorf("Devices not sorted by id: %s before %s", all[i-1].ID, all[i].ID)
		}
	}
	for _, id := range []string{"g1", "p1"} {
		if err := r.Add(Device{ID: id, Kind: KindGas, Site: "s1"}); err == nil {
			t.Errorf("Add(%s) again: no error", id)
		}
	}
	if _, ok := r.Lookup("nope"); ok {
		t.Error("Lookup of an unknown id found something")
	}
}

// BenchmarkRegistryMemory: the registry's heap per device, 100 000 gas
// detectors that give id, kind, site and building, as ./bench/run -only
// devices registers them (the catalog they came from not counted). A
// figure, no limit.
func BenchmarkRegistryMemory(b *testing.B) {
	const n = 100_000
	var per float64
	for i := 0; i < b.N; i++ {
		cat := Catalog{Devices: make([]Device, n)}
		for j := range cat.Devices {
			// each string a copy of its own, as the YAML decoder makes them
			cat.Devices[j] = Device{ID: fmt.Sprintf("bench-dev-%06d", j), Kind: Kind(fmt.Sprint("gas")), Site: fmt.Sprint("s1"),
				Building: fmt.Sprintf("B%d", j%8+1)}
		}
		base := testkit.LiveHeap()
		r, err := NewRegistry(cat)
		if err != nil {
			b.Fatal(err)
		}
		for j := range cat.Devices { // the catalog goes; the ids stay, the registry holds them
			cat.Devices[j] = Device{ID: cat.Devices[j].ID}
		}
		per = float64(testkit.LiveHeap()-base) / n
		runtime.KeepAlive(r)
		runtime.KeepAlive(cat)
	}
	b.ReportMetric(per, "B/device")
}

// TestBareCoversEveryField: a device that gives any field of Device but
// its id, kind, site and building is not bare, whatever the field (a
// field added to Device later included), so the registry keeps it whole.
func TestBareCoversEveryField(t *testing.T) {
	typ := reflect.TypeOf(Device{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		switch f.Name {
		case "ID", "Kind", "Site", "Building":
			continue
		}
		d := Device{ID: "g1", Kind: KindGas, Site: "s1", Building: "B1"}
		v := reflect.ValueOf(&d).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString("x")
		case reflect.Float64:
			v.SetFloat(1)
		case reflect.Pointer:
			v.Set(reflect.New(f.Type.Elem()))
		case reflect.Map:
			v.Set(reflect.MakeMap(f.Type))
		default:
			t.Fatalf("Device.%s: a %s; teach this test to set it", f.Name, v.Kind())
		}
		if isBare(d) {
			t.Errorf("a device with %s set counts as bare: the registry would lose it", f.Name)
		}
	}
	if !isBare(Device{ID: "g1", Kind: KindGas, Site: "s1", Building: "B1"}) {
		t.Error("a device with id, kind, site and building only is not bare")
	}
}

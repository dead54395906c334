package firmwaresim

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestModbusActuatorWrites: a Modbus client closes zone z1's water valve
// by writing its coil (the valve reads shut at once and the zone's wet
// probe reads dry at the next refresh) and starts the fan through its
// holding register; a write of a value the actuator does not take, of an
// entry that is not writable, or to a sensor is refused.
func TestModbusActuatorWrites(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	mb := func(unit byte) *devices.Modbus { return &devices.Modbus{Address: "tcp://" + addr, Unit: unit} }
	devs := []devices.Device{
		{ID: "wv-z1", Kind: devices.KindActuator, Actuator: "water_valve", Site: "s1", Zone: "z1", Model: "valvo-mv2", Modbus: mb(1)},
		{ID: "fan-z1", Kind: devices.KindActuator, Actuator: "fan", Site: "s1", Zone: "z1", Model: "ventco-f1", Modbus: mb(2)},
		{ID: "wl-z1", Kind: devices.KindWaterLeak, Site: "s1", Zone: "z1", Model: "aquasense-lp1", Modbus: mb(3)},
		{ID: "wl-z2", Kind: devices.KindWaterLeak, Site: "s1", Zone: "z2", Model: "aquasense-lp1", Modbus: mb(4)},
	}
	s, err := NewModbusServer(ModbusConfig{Devices: devs, Interval: 20 * time.Millisecond, Seed: 1,
		Scenario: Scenario{Name: "wet", Steps: []Step{{Device: "wl-z1", Metric: "leak", To: true}, {Device: "wl-z2", Metric: "leak", To: true}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-s.Ready()
	c := goClient(t, addr, 2*time.Second)
	coil := func(unit uint8) bool {
		t.Helper()
		_ = c.SetUnitId(unit)
		v, err := c.ReadCoil(0)
		if err != nil {
			t.Fatalf("unit %d coil 0: %v", unit, err)
		}
		return v
	}
	testkit.Eventually(t, 5*time.Second, "the probes wet", func() bool { return coil(3) && coil(4) })
	if !coil(1) {
		t.Fatal("the valve reads shut before any write")
	}
	_ = c.SetUnitId(1)
	if err := c.WriteCoil(0, false); err != nil {
		t.Fatalf("close the valve: %v", err)
	}
	if coil(1) {
		t.Fatal("the valve reads open right after the write")
	}
	testkit.Eventually(t, 5*time.Second, "z1's probe dry", func() bool { return !coil(3) })
	if !coil(4) {
		t.Fatal("z2's probe dried with z1's valve")
	}

	_ = c.SetUnitId(2)
	if err := c.WriteRegister(0, 2); !errors.Is(err, modbus.ErrIllegalDataValue) {
		t.Errorf("fan register 2: %v, want illegal data value", err)
	}
	if err := c.WriteRegister(0, 1); err != nil {
		t.Fatalf("start the fan: %v", err)
	}
	if v, err := c.ReadRegister(0, modbus.HOLDING_REGISTER); err != nil || v != 1 {
		t.Fatalf("fan register after start: %d, %v", v, err)
	}
	_ = c.SetUnitId(1)
	if err := c.WriteCoil(5, true); !errors.Is(err, modbus.ErrIllegalDataAddress) {
		t.Errorf("unmapped coil of the valve: %v, want illegal data address", err)
	}
	_ = c.SetUnitId(3)
	if err := c.WriteCoil(0, false); !errors.Is(err, modbus.ErrIllegalFunction) {
		t.Errorf("write to a probe: %v, want illegal function", err)
	}
}

// TestAssignModbusActuators: --modbus-kinds actuator puts the valves and
// the fan on Modbus with the model of their actuator, and the server
// takes them.
func TestAssignModbusActuators(t *testing.T) {
	estate, err := AssignModbus(append(DemoEstate(), DemoActuators()...), "127.0.0.1:5020", []devices.Kind{devices.KindActuator})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"wv-z1": "valvo-mv2", "gv-z1": "valvo-mv2", "fan-z1": "ventco-f1"}
	for _, d := range estate {
		if m, ok := want[d.ID]; ok != (d.Modbus != nil) || d.Model != m {
			t.Errorf("%s: model %q modbus %v, want model %q", d.ID, d.Model, d.Modbus, m)
		}
	}
	if _, err := NewModbusServer(ModbusConfig{Devices: estate}); err != nil {
		t.Fatal(err)
	}
}

package modbus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	firmwaresim "github.com/caretaker-iot/caretaker/firmware-sim"
	"github.com/caretaker-iot/caretaker/ingest/modbus"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestGatewayAgainstSimulatorWithFaults polls the simulator's Modbus TCP
// gateways (built-in register maps of every kind) while they answer with
// exceptions, answer late and drop connections: every device keeps
// delivering readings of its kind, and nothing the gateway hands on is out
// of its register's range.
func TestGatewayAgainstSimulatorWithFaults(t *testing.T) {
	models, err := devices.BuiltinModels()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", testserver.FreePort(t))
	var devs []devices.Device
	for i, k := range []devices.Kind{devices.KindPower, devices.KindElevator, devices.KindGas, devices.KindWaterLeak} {
		devs = append(devs, devices.Device{ID: fmt.Sprintf("%s-%d", k, i), Kind: k, Site: "s1", Building: "B1",
			Model: devices.BuiltinModelFor(k), Modbus: &devices.Modbus{Address: addr, Unit: byte(i + 1),
				Interval: devices.Duration(50 * time.Millisecond), Timeout: devices.Duration(150 * time.Millisecond)}})
	}
	sim, err := firmwaresim.NewModbusServer(firmwaresim.ModbusConfig{Devices: devs, Models: models, Seed: 7,
		Interval: 100 * time.Millisecond, Faults: firmwaresim.ModbusFaults{ExceptionRate: 0.1, SlowRate: 0.05,
			SlowDelay: 300 * time.Millisecond, DropRate: 0.05, Seed: 11}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-simDone })
	select {
	case <-sim.Ready():
	case err := <-simDone:
		t.Fatalf("simulator: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("simulator not ready")
	}

	rec, _ := run(t, devices.Catalog{Devices: devs, Models: models},
		modbus.Config{OfflineAfter: 5, MaxBackoff: 200 * time.Millisecond})
	testkit.Eventually(t, 10*time.Second, "10 readings of every device", func() bool {
		rs := rec.Readings()
		for _, d := range devs {
			if len(byDevice(rs, d.ID)) < 10 {
				return false
			}
		}
		return true
	})
	for _, d := range devs {
		spec, _ := devices.SpecOf(d.Kind)
		regs := map[string]devices.Register{}
		for _, r := range models[d.Model].Registers {
			regs[r.Metric] = r
		}
		for _, r := range byDevice(rec.Readings(), d.ID) {
			for metric, v := range r.Values {
				if _, ok := spec.Metric(metric); !ok {
					t.Errorf("%s: metric %s is not of kind %s", d.ID, metric, d.Kind)
				}
				reg := regs[metric]
				if !v.IsFlag && (reg.Min != nil && v.Number < *reg.Min || reg.Max != nil && v.Number > *reg.Max) {
					t.Errorf("%s: %s = %v is outside its register's range but was handed on", d.ID, metric, v)
				}
			}
		}
	}
}

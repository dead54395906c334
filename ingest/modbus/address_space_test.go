package modbus_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/modbus"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// edgeConfig is a gateway configuration for one Modbus device of a model
// made of regs, at addr.
func edgeConfig(t *testing.T, addr string, regs ...devices.Register) modbus.Config {
	t.Helper()
	reg, err := devices.NewRegistry(devices.Catalog{
		Models: map[string]devices.Model{"edge": {Registers: regs}},
		Devices: []devices.Device{{ID: "pm-edge", Kind: devices.KindPower, Site: "s1", Model: "edge",
			Modbus: &devices.Modbus{Address: addr, Unit: 1, Interval: devices.Duration(50 * time.Millisecond)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return modbus.Config{Registry: reg, Submitter: ingest.NewPipeline(ingest.PipelineConfig{Registry: reg, Sink: &ingesttest.Recorder{}})}
}

// TestValidateRegistersAtTheEndOfTheAddressSpace: an entry that ends at
// register (or coil) 65535 is accepted; one that would run past it is
// refused by validation, the error naming the model, the entry and its
// metric.
func TestValidateRegistersAtTheEndOfTheAddressSpace(t *testing.T) {
	volt := devices.Register{Metric: "voltage_v", Table: "holding", Address: 0, Type: "uint16"}
	reg := func(table string, addr uint16, typ string) devices.Register {
		return devices.Register{Metric: "power_kw", Table: table, Address: addr, Type: typ}
	}
	cases := []struct {
		name string
		reg  devices.Register
		ok   bool
	}{
		{"float32 at 65534 fits exactly", reg("holding", 65534, "float32"), true},
		{"uint16 at 65535", reg("input", 65535, "uint16"), true},
		{"float64 at 65532 fits exactly", reg("holding", 65532, "float64"), true},
		{"coil at 65535", devices.Register{Metric: "leak", Table: "coil", Address: 65535, Type: "bool"}, true},
		{"discrete at 65535", devices.Register{Metric: "leak", Table: "discrete", Address: 65535, Type: "bool"}, true},
		{"float32 at 65535", reg("holding", 65535, "float32"), false},
		{"int32 at 65535", reg("input", 65535, "int32"), false},
		{"float64 at 65533", reg("holding", 65533, "float64"), false},
		{"uint64 at 65535", reg("holding", 65535, "uint64"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := edgeConfig(t, "tcp://127.0.0.1:1", volt, tc.reg).Validate()
			if tc.ok {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted an entry past register 65535")
			}
			for _, want := range []string{"models.edge.registers[1]", tc.reg.Metric, "65535"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
}

// TestGatewayReadsTheLastRegisters reads registers and a coil ending at
// address 65535 from python3-pymodbus, and refuses to start on a register
// map that runs past it, before polling anything.
func TestGatewayReadsTheLastRegisters(t *testing.T) {
	srv := testserver.ModbusServer(t, map[byte]testserver.ModbusUnit{
		1: {
			Holding: map[uint16]uint16{65533: 0x08FD, 65534: 0x4148, 65535: 0x0000},
			Coils:   map[uint16]bool{65535: true},
		},
	})
	addr := "tcp://" + srv.Addr
	regs := []devices.Register{
		{Metric: "voltage_v", Table: "holding", Address: 65533, Type: "uint16", Scale: 0.1},
		{Metric: "power_kw", Table: "holding", Address: 65534, Type: "float32"},
	}
	cat := devices.Catalog{
		Models: map[string]devices.Model{"edge": {Registers: regs}, "probe": {Registers: []devices.Register{
			{Metric: "leak", Table: "coil", Address: 65535, Type: "bool"}}}},
		Devices: []devices.Device{
			{ID: "pm-edge", Kind: devices.KindPower, Site: "s1", Model: "edge",
				Modbus: &devices.Modbus{Address: addr, Unit: 1, Interval: devices.Duration(50 * time.Millisecond)}},
			{ID: "leak-edge", Kind: devices.KindWaterLeak, Site: "s1", Model: "probe",
				Modbus: &devices.Modbus{Address: addr, Unit: 1, Interval: devices.Duration(50 * time.Millisecond)}},
		},
	}
	rec, _ := run(t, cat, modbus.Config{})
	testkit.Eventually(t, 10*time.Second, "two readings of each device", func() bool {
		rs := rec.Readings()
		return len(byDevice(rs, "pm-edge")) >= 2 && len(byDevice(rs, "leak-edge")) >= 2
	})
	for i, r := range byDevice(rec.Readings(), "pm-edge") {
		if v := r.Values["voltage_v"]; math.Abs(v.Number-230.1) > 1e-9 {
			t.Errorf("reading %d: voltage_v at 65533 = %v, want 230.1", i, v)
		}
		if v := r.Values["power_kw"]; v.Number != 12.5 {
			t.Errorf("reading %d: power_kw at 65534-65535 = %v, want 12.5", i, v)
		}
	}
	for i, r := range byDevice(rec.Readings(), "leak-edge") {
		if v := r.Values["leak"]; !v.IsFlag || !v.Flag {
			t.Errorf("reading %d: coil 65535 = %v, want true", i, v)
		}
	}

	// A float32 at 65535 would need register 65536: the gateway does not start.
	bad := edgeConfig(t, addr, devices.Register{Metric: "power_kw", Table: "holding", Address: 65535, Type: "float32"})
	badRec := &ingesttest.Recorder{}
	bad.Submitter = ingest.NewPipeline(ingest.PipelineConfig{Registry: bad.Registry, Sink: badRec})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- modbus.New(bad).Run(ctx) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "models.edge.registers[0]") || !strings.Contains(err.Error(), "power_kw") {
			t.Errorf("Run = %v, want an error naming models.edge.registers[0] (power_kw)", err)
		}
	case <-time.After(10 * time.Second):
		cancel()
		<-done
		t.Fatal("the gateway polled a float32 at 65535 instead of refusing it")
	}
}

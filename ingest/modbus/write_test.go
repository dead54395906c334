package modbus_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	firmwaresim "github.com/caretaker-iot/caretaker/firmware-sim"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/modbus"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// startSim serves devs on firmware-sim's Modbus TCP server until the test
// ends.
func startSim(t *testing.T, cfg firmwaresim.ModbusConfig) {
	t.Helper()
	sim, err := firmwaresim.NewModbusServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-sim.Ready():
	case err := <-done:
		t.Fatalf("simulator: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("simulator not ready")
	}
}

// runGateway polls devs through a pipeline into a recorder and returns
// the running gateway.
func runGateway(t *testing.T, devs []devices.Device, models map[string]devices.Model, cfg modbus.Config) (*modbus.Gateway, *ingesttest.Recorder) {
	t.Helper()
	reg, err := devices.NewRegistry(devices.Catalog{Devices: devs, Models: models})
	if err != nil {
		t.Fatal(err)
	}
	rec := &ingesttest.Recorder{}
	p := ingest.NewPipeline(ingest.PipelineConfig{Registry: reg, Sink: rec})
	ctx, cancel := context.WithCancel(context.Background())
	pipeDone, gwDone := make(chan error, 1), make(chan error, 1)
	go func() { pipeDone <- p.Run(ctx) }()
	cfg.Registry, cfg.Submitter = reg, p
	gw := modbus.New(cfg)
	go func() { gwDone <- gw.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-gwDone; err != nil {
			t.Errorf("gateway Run: %v", err)
		}
		<-pipeDone
	})
	select {
	case <-gw.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("gateway not ready")
	}
	return gw, rec
}

func lastValue(rs []devices.Reading, device, metric string) (devices.Value, bool) {
	for i := len(rs) - 1; i >= 0; i-- {
		if v, ok := rs[i].Values[metric]; ok && rs[i].Device == device {
			return v, true
		}
	}
	return devices.Value{}, false
}

// TestWriteReadsBack writes the actuators of firmware-sim's Modbus
// server through the gateway that polls them: a valve's writable coil
// and a fan's writable holding register take the value and read it back
// at once, the polls that follow show it, and the leak probe of the
// valve's zone (wet from the start) reads dry once the valve is shut.
// Read-only entries, entries not declared writable, values out of range
// and devices the gateway does not poll are refused before anything is
// sent.
func TestWriteReadsBack(t *testing.T) {
	models, err := devices.BuiltinModels()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", testserver.FreePort(t))
	mb := func(unit byte) *devices.Modbus {
		return &devices.Modbus{Address: addr, Unit: unit, Interval: devices.Duration(50 * time.Millisecond),
			Timeout: devices.Duration(time.Second)}
	}
	devs := []devices.Device{
		{ID: "wv-z1", Kind: devices.KindActuator, Actuator: "water_valve", Site: "s1", Building: "B1", Zone: "z1", Model: "valvo-mv2", Modbus: mb(1)},
		{ID: "fan-z1", Kind: devices.KindActuator, Actuator: "fan", Site: "s1", Building: "B1", Zone: "z1", Model: "ventco-f1", Modbus: mb(2)},
		{ID: "wl-z1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1", Zone: "z1", Model: "aquasense-lp1", Modbus: mb(3)},
	}
	startSim(t, firmwaresim.ModbusConfig{Devices: devs, Models: models, Seed: 1, Interval: 50 * time.Millisecond,
		Scenario: firmwaresim.Scenario{Name: "wet", Steps: []firmwaresim.Step{{Device: "wl-z1", Metric: "leak", To: true}}}})
	gw, rec := runGateway(t, devs, models, modbus.Config{})
	ctx := context.Background()

	testkit.Eventually(t, 5*time.Second, "the probe wet and the valve open", func() bool {
		leak, ok1 := lastValue(rec.Readings(), "wl-z1", "leak")
		open, ok2 := lastValue(rec.Readings(), "wv-z1", "open")
		return ok1 && ok2 && leak.Flag && open.Flag
	})
	v, err := gw.Write(ctx, "wv-z1", "open", 0)
	if err != nil || v.Float() != 0 {
		t.Fatalf("close the valve: read back %v, %v", v, err)
	}
	testkit.Eventually(t, 5*time.Second, "the valve polled shut and the probe dry", func() bool {
		leak, ok1 := lastValue(rec.Readings(), "wl-z1", "leak")
		open, ok2 := lastValue(rec.Readings(), "wv-z1", "open")
		return ok1 && ok2 && !leak.Flag && !open.Flag
	})
	if v, err := gw.Write(ctx, "fan-z1", "running", 1); err != nil || v.Float() != 1 {
		t.Fatalf("start the fan: read back %v, %v", v, err)
	}

	for _, tc := range []struct {
		name, device, metric string
		value                float64
		want                 error
		says                 string
	}{
		{"discrete input", "wv-z1", "fault", 1, modbus.ErrNotWritable, "discrete entry, read-only"},
		{"input register", "wl-z1", "battery_pct", 50, modbus.ErrNotWritable, "input entry, read-only"},
		{"coil not declared writable", "wl-z1", "leak", 0, modbus.ErrNotWritable, "not declared writable"},
		{"not in the map", "wv-z1", "running", 1, modbus.ErrNotWritable, "not in the model's register map"},
		{"above max", "fan-z1", "running", 2, modbus.ErrNotWritable, "outside the register's range"},
		{"coil takes 0 or 1", "wv-z1", "open", 0.5, modbus.ErrNotWritable, "takes 0 or 1"},
		{"not polled here", "pm-elsewhere", "open", 0, modbus.ErrNotPolled, "not polled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gw.Write(ctx, tc.device, tc.metric, tc.value)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
	// Nothing refused reached the device: the fan still runs, the valve
	// is still shut.
	if v, err := gw.Write(ctx, "wv-z1", "open", 0); err != nil || v.Float() != 0 {
		t.Fatalf("valve after the refusals: %v, %v", v, err)
	}
}

// TestWriteTimeout: a unit that does not answer within its timeout makes
// Write fail with the timeout, and the poll loop goes on polling.
func TestWriteTimeout(t *testing.T) {
	models, err := devices.BuiltinModels()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", testserver.FreePort(t))
	devs := []devices.Device{{ID: "wv-z1", Kind: devices.KindActuator, Actuator: "water_valve", Site: "s1", Building: "B1", Zone: "z1",
		Model: "valvo-mv2", Modbus: &devices.Modbus{Address: addr, Unit: 1, Interval: devices.Duration(time.Hour), Timeout: devices.Duration(100 * time.Millisecond)}}}
	startSim(t, firmwaresim.ModbusConfig{Devices: devs, Models: models, Faults: firmwaresim.ModbusFaults{SlowRate: 1, SlowDelay: 500 * time.Millisecond}})
	gw, _ := runGateway(t, devs, models, modbus.Config{})
	_, err = gw.Write(context.Background(), "wv-z1", "open", 0)
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("write to a unit that answers late: %v, want a timeout", err)
	}
}

// TestEncodeWrite: what a write sends for a value, and what it refuses.
func TestEncodeWrite(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reg   devices.Register
		value float64
		want  []uint16
		err   string
	}{
		{"coil on", devices.Register{Metric: "open", Table: "coil", Type: "bool"}, 1, []uint16{1}, ""},
		{"coil off", devices.Register{Metric: "open", Table: "coil", Type: "bool"}, 0, []uint16{0}, ""},
		{"scaled", devices.Register{Metric: "sp", Table: "holding", Type: "uint16", Scale: 0.1}, 21.5, []uint16{215}, ""},
		{"offset", devices.Register{Metric: "sp", Table: "holding", Type: "int16", Offset: -40}, -50, []uint16{0xFFF6}, ""},
		{"byte order little", devices.Register{Metric: "sp", Table: "holding", Type: "uint16", ByteOrder: "little"}, 1, []uint16{0x0100}, ""},
		{"uint32 words little", devices.Register{Metric: "sp", Table: "holding", Type: "uint32", WordOrder: "little"}, 0x10002, []uint16{2, 1}, ""},
		{"between steps", devices.Register{Metric: "sp", Table: "holding", Type: "uint16", Scale: 0.5}, 1.2, nil, "not a multiple"},
		{"negative into uint16", devices.Register{Metric: "sp", Table: "holding", Type: "uint16"}, -1, nil, "does not fit"},
		{"above max", devices.Register{Metric: "sp", Table: "holding", Type: "uint16", Max: f64(30)}, 31, nil, "outside the register's range"},
		{"NaN", devices.Register{Metric: "sp", Table: "holding", Type: "float32"}, nanValue(), nil, "NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := modbus.EncodeWrite(tc.reg, tc.value)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, modbus.ErrNotWritable) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func nanValue() float64 { return math.NaN() }

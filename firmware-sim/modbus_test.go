package firmwaresim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// modbusEstate is one gateway with a device of each kind behind it, each
// on its built-in model, units 1..4.
func modbusEstate(addr string) []devices.Device {
	var out []devices.Device
	for i, d := range DemoEstate()[0:8:8] {
		if i%2 == 1 {
			continue // one of each kind
		}
		d.Model = devices.BuiltinModelFor(d.Kind)
		d.Modbus = &devices.Modbus{Address: "tcp://" + addr, Unit: byte(len(out) + 1)}
		out = append(out, d)
	}
	return out
}

// startModbus serves the estate on a fixed clock, so the registers hold
// the model's values at elapsed 0 for the whole test.
func startModbus(t *testing.T, cfg ModbusConfig) *ModbusServer {
	t.Helper()
	fixed := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return fixed }
	cfg.Interval = time.Hour
	s, err := NewModbusServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("modbus server: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("modbus server not ready")
	}
	return s
}

// expected is what the signal model says each device reads at elapsed 0.
func expected(estate []devices.Device, seed uint64) map[string]map[string]devices.Value {
	out := map[string]map[string]devices.Value{}
	for _, d := range estate {
		out[d.ID] = NewDevice(d, Scenario{}, seed).Sample(0)
	}
	return out
}

// tolerance is how close a register can carry a value: half a scale step
// for integers, float32 precision for floats.
func tolerance(r devices.Register, v float64) float64 {
	switch r.Type {
	case "float32":
		return 1e-6 * math.Max(1, math.Abs(v))
	case "float64":
		return 1e-12
	}
	return scaleOf(r)/2 + 1e-9
}

// TestModbusAnswersMbpoll reads every register of every unit with
// Debian's mbpoll, a client that shares no code with the simulator, and
// checks it reads the values the signal model says.
func TestModbusAnswersMbpoll(t *testing.T) {
	bin := testserver.Binary(t, "mbpoll")
	port := testserver.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	estate := modbusEstate(addr)
	const seed = 11
	startModbus(t, ModbusConfig{Devices: estate, Seed: seed})
	models, _ := devices.BuiltinModels()
	want := expected(estate, seed)

	checked := 0
	for _, d := range estate {
		for _, r := range models[d.Model].Registers {
			v := want[d.ID][r.Metric]
			got := mbpollRead(t, bin, port, d.Modbus.Unit, r)
			if math.Abs(got-v.Float()) > tolerance(r, v.Float()) {
				t.Errorf("%s (unit %d) %s: mbpoll read %g, the model says %v", d.ID, d.Modbus.Unit, r.Metric, got, v)
			}
			checked++
		}
	}
	if checked != 31 {
		t.Errorf("checked %d registers, want the library's 31", checked)
	}
}

// mbpollRead reads one register with mbpoll and returns the metric value.
// mbpoll decodes 16-bit values, bits, and 32-bit ints and floats in both
// word orders itself; only byte-swapped 32-bit values (which mbpoll cannot
// decode) are read as raw words and decoded here.
func mbpollRead(t *testing.T, bin string, port int, unit byte, r devices.Register) float64 {
	t.Helper()
	table := map[string]string{"coil": "0", "discrete": "1", "input": "3", "holding": "4"}[r.Table]
	args := []string{"-m", "tcp", "-p", strconv.Itoa(port), "-a", strconv.Itoa(int(unit)), "-0", "-1", "-o", "2",
		"-r", strconv.Itoa(int(r.Address))}
	words := devices.RegisterWidth(r.Type)
	raw := false
	switch {
	case r.Table == "coil" || r.Table == "discrete":
		args = append(args, "-t", table)
	case words == 1:
		args = append(args, "-t", table+":hex")
		raw = true
	case r.ByteOrder == "little":
		args = append(args, "-t", table+":hex", "-c", strconv.Itoa(words))
		raw = true
	case r.Type == "float32":
		args = append(args, "-t", table+":float")
	default: // int32, uint32
		args = append(args, "-t", table+":int")
	}
	if !raw && r.WordOrder != "little" && words == 2 {
		args = append(args, "-B") // mbpoll's default is low word first
	}
	out, err := exec.Command(bin, append(args, "127.0.0.1")...).CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	vals := mbpollValues(string(out))
	if raw {
		ws := make([]uint16, len(vals))
		for i, s := range vals {
			w, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 16)
			if err != nil {
				t.Fatalf("mbpoll hex %q: %v\n%s", s, err, out)
			}
			ws[i] = uint16(w)
		}
		if len(ws) != words {
			t.Fatalf("mbpoll gave %d words for %s:\n%s", len(ws), r.Metric, out)
		}
		if words == 1 && r.Type != "bool" {
			// 16-bit values: decode by hand, independently of decodeRegister.
			w := ws[0]
			if r.ByteOrder == "little" {
				w = w>>8 | w<<8
			}
			x := float64(w)
			if r.Type == "int16" {
				x = float64(int16(w))
			}
			return x*scaleOf(r) + r.Offset
		}
		v, err := decodeRegister(r, ws)
		if err != nil {
			t.Fatal(err)
		}
		return v.Float()
	}
	if len(vals) != 1 {
		t.Fatalf("mbpoll gave %d values for %s:\n%s", len(vals), r.Metric, out)
	}
	x, err := strconv.ParseFloat(vals[0], 64)
	if err != nil {
		t.Fatalf("mbpoll value %q: %v", vals[0], err)
	}
	if r.Type == "uint32" && x < 0 {
		x += 1 << 32 // mbpoll prints 32-bit ints signed
	}
	return x*scaleOf(r) + r.Offset
}

// mbpollValues picks the values out of lines like "[3]: 	0x08FD".
func mbpollValues(out string) []string {
	var vals []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "[") {
			continue
		}
		_, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) > 0 {
			vals = append(vals, f[0])
		}
	}
	return vals
}

func goClient(t *testing.T, addr string, timeout time.Duration) *modbus.ModbusClient {
	t.Helper()
	c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + addr, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestModbusFloatOrdersGoClient reads each float32 of the library with the
// simonvetter client set to the register's byte and word order: a second,
// independent decoder for all four orders.
func TestModbusFloatOrdersGoClient(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	estate := modbusEstate(addr)
	startModbus(t, ModbusConfig{Devices: estate, Seed: 3})
	models, _ := devices.BuiltinModels()
	want := expected(estate, 3)
	c := goClient(t, addr, 2*time.Second)
	n := 0
	for _, d := range estate {
		for _, r := range models[d.Model].Registers {
			if r.Type != "float32" && r.Type != "uint32" && r.Type != "int32" {
				continue
			}
			end, wo := modbus.BIG_ENDIAN, modbus.HIGH_WORD_FIRST
			if r.ByteOrder == "little" {
				end = modbus.LITTLE_ENDIAN
			}
			if r.WordOrder == "little" {
				wo = modbus.LOW_WORD_FIRST
			}
			_ = c.SetUnitId(d.Modbus.Unit)
			_ = c.SetEncoding(end, wo)
			rt := modbus.HOLDING_REGISTER
			if r.Table == "input" {
				rt = modbus.INPUT_REGISTER
			}
			var got float64
			if r.Type == "float32" {
				f, err := c.ReadFloat32(r.Address, rt)
				if err != nil {
					t.Fatalf("%s %s: %v", d.ID, r.Metric, err)
				}
				got = float64(f)
			} else {
				u, err := c.ReadUint32(r.Address, rt)
				if err != nil {
					t.Fatalf("%s %s: %v", d.ID, r.Metric, err)
				}
				got = float64(u)
				if r.Type == "int32" {
					got = float64(int32(u))
				}
				got = got*scaleOf(r) + r.Offset
			}
			if v := want[d.ID][r.Metric].Number; math.Abs(got-v) > tolerance(r, v) {
				t.Errorf("%s %s: read %g, the model says %g", d.ID, r.Metric, got, v)
			}
			n++
		}
	}
	if n != 6 {
		t.Errorf("read %d 32-bit values, want 6", n)
	}
}

// TestModbusErrorsAndFaults: what a real gateway answers for bad requests,
// and each injected fault.
func TestModbusErrorsAndFaults(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	startModbus(t, ModbusConfig{Devices: modbusEstate(addr)})
	c := goClient(t, addr, 2*time.Second)
	_ = c.SetUnitId(3) // pm-b1-01
	if _, err := c.ReadRegisters(0, 16, modbus.HOLDING_REGISTER); err != nil {
		t.Fatalf("whole power meter map in one request: %v", err)
	}
	if _, err := c.ReadRegisters(15, 2, modbus.HOLDING_REGISTER); !errors.Is(err, modbus.ErrIllegalDataAddress) {
		t.Errorf("read past the map: %v, want illegal data address", err)
	}
	if _, err := c.ReadRegisters(0, 1, modbus.INPUT_REGISTER); !errors.Is(err, modbus.ErrIllegalDataAddress) {
		t.Errorf("table the model does not use: %v, want illegal data address", err)
	}
	if err := c.WriteRegister(0, 1); !errors.Is(err, modbus.ErrIllegalFunction) {
		t.Errorf("write: %v, want illegal function", err)
	}
	_ = c.SetUnitId(99)
	if _, err := c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); !errors.Is(err, modbus.ErrGWTargetFailedToRespond) {
		t.Errorf("unit with nothing behind it: %v, want gateway target failed to respond", err)
	}

	t.Run("exception", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
		startModbus(t, ModbusConfig{Devices: modbusEstate(addr), Faults: ModbusFaults{ExceptionRate: 1, ExceptionCode: 6}})
		c := goClient(t, addr, 2*time.Second)
		if _, err := c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); !errors.Is(err, modbus.ErrServerDeviceBusy) {
			t.Errorf("err = %v, want server device busy", err)
		}
	})
	t.Run("half the requests fail, seeded", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
		startModbus(t, ModbusConfig{Devices: modbusEstate(addr), Faults: ModbusFaults{ExceptionRate: 0.5, Seed: 9}})
		c := goClient(t, addr, 2*time.Second)
		failed := 0
		for range 200 {
			if _, err := c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); errors.Is(err, modbus.ErrServerDeviceFailure) {
				failed++
			}
		}
		if failed != 109 { // seed 9: the same count every run
			t.Errorf("%d of 200 failed, want 109", failed)
		}
	})
	t.Run("slow", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
		startModbus(t, ModbusConfig{Devices: modbusEstate(addr), Faults: ModbusFaults{SlowRate: 1, SlowDelay: time.Second}})
		c := goClient(t, addr, 100*time.Millisecond)
		if _, err := c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); !errors.Is(err, modbus.ErrRequestTimedOut) {
			t.Errorf("err = %v, want a timeout", err)
		}
	})
	t.Run("dropped connection", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
		startModbus(t, ModbusConfig{Devices: modbusEstate(addr), Faults: ModbusFaults{DropRate: 1}})
		c := goClient(t, addr, 2*time.Second)
		_, err := c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER)
		if err == nil || errors.Is(err, modbus.ErrRequestTimedOut) {
			t.Errorf("err = %v, want the connection closed", err)
		}
	})
}

func TestModbusConfigErrors(t *testing.T) {
	d := DemoEstate()[4] // pm-b1-01
	d.Model = "acme-pm3"
	tests := []struct {
		name   string
		mutate func(*devices.Device)
		faults ModbusFaults
		want   string
	}{
		{"unknown model", func(d *devices.Device) { d.Model = "nope" }, ModbusFaults{}, "model"},
		{"rtu", func(d *devices.Device) { d.Modbus.Address = "rtu:///dev/ttyUSB0" }, ModbusFaults{}, "modbus.address"},
		{"unit 0", func(d *devices.Device) { d.Modbus.Unit = 0 }, ModbusFaults{}, "modbus.unit"},
		{"rate", func(*devices.Device) {}, ModbusFaults{DropRate: 2}, "drop_rate"},
		{"code", func(*devices.Device) {}, ModbusFaults{ExceptionCode: 7}, "exception_code"},
		{"model of another kind", func(d *devices.Device) { d.Model = "liftco-lc2" }, ModbusFaults{}, "do not report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dd := d
			dd.Modbus = &devices.Modbus{Address: "tcp://127.0.0.1:1502", Unit: 1}
			tc.mutate(&dd)
			_, err := NewModbusServer(ModbusConfig{Devices: []devices.Device{dd}, Faults: tc.faults})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
	two := []devices.Device{d, d}
	two[0].Modbus = &devices.Modbus{Address: "tcp://127.0.0.1:1502", Unit: 1}
	two[1].ID = "pm-2"
	two[1].Modbus = &devices.Modbus{Address: "127.0.0.1:1502", Unit: 1}
	if _, err := NewModbusServer(ModbusConfig{Devices: two}); err == nil || !strings.Contains(err.Error(), "already pm-b1-01") {
		t.Fatalf("duplicate unit: %v", err)
	}
}

func TestAssignModbus(t *testing.T) {
	estate, err := AssignModbus(GenerateEstate(1000), "127.0.0.1:5020", []devices.Kind{devices.KindPower})
	if err != nil {
		t.Fatal(err)
	}
	byGateway := map[string]int{}
	for _, d := range estate {
		if d.Kind != devices.KindPower {
			if d.Modbus != nil {
				t.Fatalf("%s (%s) put on Modbus", d.ID, d.Kind)
			}
			continue
		}
		byGateway[d.Modbus.Address]++
		if d.Model != "acme-pm3" || d.Modbus.Unit < 1 || d.Modbus.Unit > 247 {
			t.Fatalf("%s: %+v %+v", d.ID, d.Model, d.Modbus)
		}
	}
	if byGateway["tcp://127.0.0.1:5020"] != 247 || byGateway["tcp://127.0.0.1:5021"] != 3 || len(byGateway) != 2 {
		t.Fatalf("gateways = %v, want 247 units on :5020 and 3 on :5021", byGateway)
	}
	if _, err := NewModbusServer(ModbusConfig{Devices: estate}); err != nil {
		t.Fatalf("the assigned estate does not serve: %v", err)
	}
	if _, err := AssignModbus(nil, "nohost", nil); err == nil {
		t.Error("bad address accepted")
	}
	if _, err := AssignModbus(nil, "127.0.0.1:1", []devices.Kind{"toaster"}); err == nil {
		t.Error("unknown kind accepted")
	}
}

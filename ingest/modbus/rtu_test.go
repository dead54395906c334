package modbus_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/modbus"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

const rtuBaud = 115200

// rtuAddress is a device address on the serial line the server listens on.
func rtuAddress(srv *testserver.Process) string {
	return fmt.Sprintf("rtu://%s?baud=%d&parity=N", srv.Addr, rtuBaud)
}

// TestGatewayOverRTU reads a third-party Modbus RTU slave (python3-pymodbus
// on a pseudo-terminal pair) through the gateway's serial transport: two
// meters in big- and little-endian order and a leak probe on coils, all on
// one line.
func TestGatewayOverRTU(t *testing.T) {
	srv := testserver.ModbusRTUServer(t, rtuBaud, map[byte]testserver.ModbusUnit{
		1: {
			Holding: map[uint16]uint16{0: 0x08FD, 2: 0x4148, 3: 0x0000, 4: 0x0001, 5: 0x86A0, 10: 0x4248, 11: 0, 12: 0, 13: 0},
			Input:   map[uint16]uint16{0: 0xFEA2},
		},
		2: {
			Holding: map[uint16]uint16{0: 0xFD08, 2: 0x0000, 3: 0x4841, 4: 0xA086, 5: 0x0100, 10: 0x0000, 11: 0x4842, 12: 0, 13: 0},
			Input:   map[uint16]uint16{0: 0xA2FE},
		},
		3: {Coils: map[uint16]bool{1: true}, Holding: map[uint16]uint16{0: 87}},
	})
	mb := func(unit byte) *devices.Modbus {
		return &devices.Modbus{Address: rtuAddress(srv), Unit: unit, Interval: devices.Duration(100 * time.Millisecond),
			Timeout: devices.Duration(time.Second)}
	}
	cat := devices.Catalog{
		Models: testModels(),
		Devices: []devices.Device{
			{ID: "pm-be", Kind: devices.KindPower, Site: "s1", Building: "B1", Model: "meter-be", Modbus: mb(1)},
			{ID: "pm-le", Kind: devices.KindPower, Site: "s1", Building: "B1", Model: "meter-le", Modbus: mb(2)},
			{ID: "leak-1", Kind: devices.KindWaterLeak, Site: "s1", Building: "B2", Model: "probe", Modbus: mb(3)},
		},
	}
	rec, _ := run(t, cat, modbus.Config{OfflineAfter: 3, MaxBackoff: 400 * time.Millisecond})
	testkit.Eventually(t, 10*time.Second, "three readings of each device over RTU", func() bool {
		rs := rec.Readings()
		return len(byDevice(rs, "pm-be")) >= 3 && len(byDevice(rs, "pm-le")) >= 3 && len(byDevice(rs, "leak-1")) >= 3
	})
	want := map[string]float64{"voltage_v": 230.1, "power_kw": 12.5, "energy_kwh": 100000, "frequency_hz": 50, "power_factor": 0, "current_a": -3.5}
	for _, id := range []string{"pm-be", "pm-le"} {
		for i, r := range byDevice(rec.Readings(), id) {
			for metric, v := range want {
				if got, ok := r.Values[metric]; !ok || got.IsFlag || math.Abs(got.Number-v) > 1e-9 {
					t.Errorf("%s reading %d: %s = %v (present %v), want %v", id, i, metric, got, ok, v)
				}
			}
		}
	}
	for i, r := range byDevice(rec.Readings(), "leak-1") {
		if v := r.Values["leak"]; !v.IsFlag || !v.Flag || r.Values["battery_pct"].Number != 87 {
			t.Errorf("leak-1 reading %d = %v", i, r.Values)
		}
	}
	for _, s := range rec.Statuses() {
		if !s.Online {
			t.Errorf("%s reported offline over RTU: %s", s.Device, s.Reason)
		}
	}
}

// TestRTUDeviceTimeoutTakesEffect: on a serial line, a unit's own timeout
// bounds its requests even when another unit with a much longer timeout
// opened the port first. The live meter takes the default (a minute); the
// unit nobody answers has 300 ms, so its polls fail as timeouts and it goes
// offline long before a minute has passed.
func TestRTUDeviceTimeoutTakesEffect(t *testing.T) {
	srv := testserver.ModbusRTUServer(t, rtuBaud, map[byte]testserver.ModbusUnit{
		1: {Holding: map[uint16]uint16{0: 0x08FD}},
	})
	model := devices.Model{Registers: []devices.Register{{Metric: "voltage_v", Table: "holding", Address: 0, Type: "uint16", Scale: 0.1}}}
	cat := devices.Catalog{
		Models: map[string]devices.Model{"v": model},
		// Registry order is by id: the live meter polls first and opens the port.
		Devices: []devices.Device{
			{ID: "a-live", Kind: devices.KindPower, Site: "s1", Model: "v", Modbus: &devices.Modbus{Address: rtuAddress(srv), Unit: 1,
				Interval: devices.Duration(100 * time.Millisecond)}},
			{ID: "b-nobody", Kind: devices.KindPower, Site: "s1", Model: "v", Modbus: &devices.Modbus{Address: rtuAddress(srv), Unit: 9,
				Interval: devices.Duration(100 * time.Millisecond), Timeout: devices.Duration(300 * time.Millisecond)}},
		},
	}
	reg := prometheus.NewRegistry()
	rec, _ := run(t, cat, modbus.Config{Timeout: time.Minute, OfflineAfter: 3, MaxBackoff: 200 * time.Millisecond, Metrics: reg})

	// Generous, and far below the minute the unit would wait with the
	// live meter's timeout.
	var offline *devices.Status
	if !testkit.Within(20*time.Second, func() bool {
		for _, s := range rec.Statuses() {
			if s.Device == "b-nobody" && !s.Online {
				offline = &s
			}
		}
		return offline != nil
	}) {
		t.Fatalf("b-nobody not offline after 20 s: its 300 ms timeout did not take effect (failures %v)", failures(t, reg, "b-nobody"))
	}
	if !strings.Contains(offline.Reason, "timeout") {
		t.Errorf("offline reason %q is not a timeout", offline.Reason)
	}
	got := failures(t, reg, "b-nobody")
	if got["timeout"] < 3 || len(got) != 1 {
		t.Errorf("b-nobody failures by reason = %v, want only timeouts, at least 3", got)
	}
	if n := len(byDevice(rec.Readings(), "a-live")); n == 0 {
		t.Error("no reading of the live meter")
	}
	if f := failures(t, reg, "a-live"); len(f) != 0 {
		t.Errorf("live meter failures = %v", f)
	}
}

// failures reads caretaker_modbus_poll_failures_total of one device by reason.
func failures(t *testing.T, reg *prometheus.Registry, device string) map[string]float64 {
	t.Helper()
	return testkit.Gather(t, reg).ByLabel(fmt.Sprintf("caretaker_modbus_poll_failures_total{device=%q}", device), "reason")
}

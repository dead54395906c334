package modbus_test

import (
	"fmt"
	"io"
	"log"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/modbus"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	sv "github.com/simonvetter/modbus"
)

// slowHandler answers unit 1 at once and unit 2 only after a delay while
// slow is set, the way a slave behind a TCP gateway hangs.
type slowHandler struct {
	slow  atomic.Bool
	delay time.Duration
}

func (h *slowHandler) HandleCoils(*sv.CoilsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}
func (h *slowHandler) HandleDiscreteInputs(*sv.DiscreteInputsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}
func (h *slowHandler) HandleInputRegisters(*sv.InputRegistersRequest) ([]uint16, error) {
	return nil, sv.ErrIllegalFunction
}
func (h *slowHandler) HandleHoldingRegisters(req *sv.HoldingRegistersRequest) ([]uint16, error) {
	if req.UnitId == 2 && h.slow.Load() {
		time.Sleep(h.delay)
	}
	out := make([]uint16, req.Quantity)
	for i := range out {
		out[i] = 2300 + uint16(req.UnitId) // unit 1: 230.1 V, unit 2: 230.2 V
	}
	return out, nil
}

// TestSlowUnitDelaysOthersAtMostItsTimeout: a unit that answers too late
// costs the unit beside it on the same address at most its own timeout per
// retry, its late answer is never taken for the other unit's, and it comes
// back online on its first good answer.
func TestSlowUnitDelaysOthersAtMostItsTimeout(t *testing.T) {
	h := &slowHandler{delay: 4 * time.Second}
	h.slow.Store(true)
	port := testserver.FreePort(t)
	srv, err := sv.NewServer(&sv.ServerConfiguration{URL: fmt.Sprintf("tcp://127.0.0.1:%d", port), MaxClients: 64, Timeout: time.Minute,
		Logger: log.New(io.Discard, "", 0)}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })

	const interval, slowTimeout = 100 * time.Millisecond, 150 * time.Millisecond
	addr := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	cat := devices.Catalog{
		Models: map[string]devices.Model{"v": {Registers: []devices.Register{
			{Metric: "voltage_v", Table: "holding", Address: 0, Type: "uint16", Scale: 0.1}}}},
		Devices: []devices.Device{
			{ID: "fast", Kind: devices.KindPower, Site: "s1", Model: "v", Modbus: &devices.Modbus{Address: addr, Unit: 1,
				Interval: devices.Duration(interval), Timeout: devices.Duration(time.Second)}},
			{ID: "slow", Kind: devices.KindPower, Site: "s1", Model: "v", Modbus: &devices.Modbus{Address: addr, Unit: 2,
				Interval: devices.Duration(interval), Timeout: devices.Duration(slowTimeout)}},
		},
	}
	rec, _ := run(t, cat, modbus.Config{OfflineAfter: 2, MaxBackoff: 300 * time.Millisecond})

	offline := func() bool {
		for _, s := range rec.Statuses() {
			if s.Device == "slow" && !s.Online {
				return true
			}
		}
		return false
	}
	testkit.Eventually(t, 10*time.Second, "slow offline", offline)
	testkit.Eventually(t, 10*time.Second, "20 readings of fast", func() bool { return len(byDevice(rec.Readings(), "fast")) >= 20 })
	h.slow.Store(false)
	testkit.Eventually(t, 10*time.Second, "slow back online", func() bool {
		st := rec.Statuses()
		for i := len(st) - 1; i >= 0; i-- {
			if st[i].Device == "slow" {
				return st[i].Online
			}
		}
		return false
	})

	fast := byDevice(rec.Readings(), "fast")
	for i, r := range fast {
		if v := r.Values["voltage_v"].Number; v < 230.09 || v > 230.11 {
			t.Fatalf("fast reading %d = %v V: another unit's answer was taken for it", i, v)
		}
		if i == 0 {
			continue
		}
		// Cut by the timeout, a gap is the fast unit's interval plus the
		// slow unit's timeout (250 ms); not cut, it is the slow unit's
		// whole delay (4 s). The line sits halfway: a loaded machine
		// stretches the first eightfold before it reaches it.
		if gap := r.Time.Sub(fast[i-1].Time); gap > h.delay/2 {
			t.Errorf("fast readings %d and %d are %s apart", i-1, i, gap)
		}
	}
	slow := byDevice(rec.Readings(), "slow")
	if len(slow) == 0 || slow[len(slow)-1].Values["voltage_v"].Number < 230.19 {
		t.Errorf("slow readings after recovery = %v", slow)
	}
}

package dashboard

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

var t0 = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

func gasReading(lel float64) devices.Reading {
	return devices.Reading{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Time: t0, Received: t0,
		Values: map[string]devices.Value{"lel_pct": devices.Num(lel), "fault": devices.FlagValue(false)}}
}

// statusEvents returns the device.status events the hub keeps for replay.
func statusEvents(t *testing.T, h *Hub) []DeviceStatus {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []DeviceStatus
	for i := 0; i < h.n; i++ {
		ev := h.ring[(h.head+i)%len(h.ring)]
		if ev.typ != EventDeviceStatus {
			continue
		}
		var m Message
		var st DeviceStatus
		if err := json.Unmarshal(ev.msg, &m); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(m.Data, &st); err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
	}
	return out
}

func TestLiveStateStatusChanges(t *testing.T) {
	ctx := context.Background()
	reading := func(l *LiveState) { l.Reading(ctx, gasReading(12)) }
	event := func(l *LiveState) {
		l.Event(ctx, devices.Event{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Time: t0, Name: "x", Active: true})
	}
	status := func(online bool) func(*LiveState) {
		return func(l *LiveState) {
			l.Status(ctx, devices.Status{Device: "gas-b2-07", Time: t0, Online: online, Reason: "will"})
		}
	}
	tests := []struct {
		name  string
		steps []func(*LiveState)
		want  []bool // online value of each device.status event
	}{
		{"first reading marks online once", []func(*LiveState){reading, reading, reading}, []bool{true}},
		{"event also marks online", []func(*LiveState){event, reading}, []bool{true}},
		{"offline then a reading", []func(*LiveState){reading, status(false), status(false), reading}, []bool{true, false, true}},
		{"offline first is news", []func(*LiveState){status(false)}, []bool{false}},
		{"online status then reading", []func(*LiveState){status(true), reading}, []bool{true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hub := NewHub(HubConfig{})
			reg, err := devices.NewRegistry(devices.Catalog{Devices: []devices.Device{{ID: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Location: "boiler room"}}})
			if err != nil {
				t.Fatal(err)
			}
			l := NewLiveState(hub, reg, func() time.Time { return t0 })
			for _, step := range tc.steps {
				step(l)
			}
			got := statusEvents(t, hub)
			if len(got) != len(tc.want) {
				t.Fatalf("%d device.status events %+v, want %d", len(got), got, len(tc.want))
			}
			for i, st := range got {
				if st.Online != tc.want[i] || st.Device != "gas-b2-07" || st.Site != "s1" || st.Location != "boiler room" {
					t.Errorf("event %d: %+v, want online=%v", i, st, tc.want[i])
				}
			}
		})
	}
}

func TestLiveStateKeepsLastValues(t *testing.T) {
	l := NewLiveState(nil, nil, nil)
	l.Reading(context.Background(), gasReading(12))
	r := gasReading(35)
	r.Time = t0.Add(time.Second)
	l.Reading(context.Background(), r)
	st, ok := l.Device("gas-b2-07")
	if !ok || !st.Online || st.Readings["lel_pct"].Value != 35.0 || st.Readings["fault"].Value != false ||
		!st.Readings["lel_pct"].Time.Equal(r.Time) {
		t.Fatalf("state %+v", st)
	}
	st.Readings["lel_pct"] = MetricValue{Value: 0.0} // a copy: must not touch the live state
	if again, _ := l.Device("gas-b2-07"); again.Readings["lel_pct"].Value != 35.0 {
		t.Fatal("Device returned the live map")
	}
	if got := l.Statuses(); len(got) != 1 || got[0].Kind != devices.KindGas {
		t.Fatalf("statuses of an unregistered device: %+v", got)
	}
	// A reading of one metric leaves the others' last values; an event
	// is kept beside them.
	r2 := devices.Reading{Device: "gas-b2-07", Kind: devices.KindGas, Time: t0.Add(2 * time.Second),
		Values: map[string]devices.Value{"co_ppm": devices.Num(7)}}
	l.Reading(context.Background(), r2)
	l.Event(context.Background(), devices.Event{Device: "gas-b2-07", Kind: devices.KindGas, Name: "tamper", Active: true, Time: r2.Time})
	st, _ = l.Device("gas-b2-07")
	if st.Readings["lel_pct"].Value != 35.0 || st.Readings["co_ppm"].Value != 7.0 || !st.Readings["co_ppm"].Time.Equal(r2.Time) ||
		len(st.Readings) != 3 || !st.Events["tamper"] {
		t.Fatalf("state after a reading of co_ppm alone and an event: %+v", st)
	}
}

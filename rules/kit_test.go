package rules

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

var t0 = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

// recordingSink keeps every alarm change with the engine clock at which
// it was handed on.
type recordingSink struct {
	mu     sync.Mutex
	clock  *testkit.FakeClock
	alarms []Alarm
	at     []time.Time
}

func (s *recordingSink) HandleAlarm(_ context.Context, a Alarm) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alarms = append(s.alarms, a)
	if s.clock != nil {
		s.at = append(s.at, s.clock.Now())
	} else {
		s.at = append(s.at, time.Time{})
	}
	return nil
}

func sec(t time.Time) string { return fmt.Sprint(int(t.Sub(t0) / time.Second)) }

// states writes the timeline of alarm changes: "raised@5" is a raise at
// event time +5s; "raised@0/3600" one at +0s handed on at engine clock
// +3600s; "flapping@15" and "settled@70" are updates of the flap guard.
// previous is the alarm told before the i-th with the same id, or nil.
func (s *recordingSink) previous(i int) *Alarm {
	for j := i - 1; j >= 0; j-- {
		if s.alarms[j].ID == s.alarms[i].ID {
			return &s.alarms[j]
		}
	}
	return nil
}

func (s *recordingSink) states() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []string
	for i, a := range s.alarms {
		var at time.Time
		name := string(a.State)
		switch a.State {
		case Raised:
			at = a.RaisedAt
		case Cleared:
			at = *a.ClearedAt
		case Updated:
			name, at = "settled", s.at[i]
			if a.Flapping {
				name = "flapping"
			} else if prev := s.previous(i); prev == nil || prev.Peak != a.Peak {
				name = "peak" // the episode got worse
			}
		}
		entry := name + "@" + sec(at)
		if !s.at[i].IsZero() && !s.at[i].Equal(at) {
			entry += "/" + sec(s.at[i])
		}
		if a.Shadow {
			entry = "shadow:" + entry
		}
		b = append(b, entry)
	}
	return strings.Join(b, " ")
}

type fakeDevices map[string]devices.Device

func (f fakeDevices) Lookup(id string) (devices.Device, bool) { d, ok := f[id]; return d, ok }

func (f fakeDevices) Devices() []devices.Device {
	var out []devices.Device
	for _, d := range f {
		out = append(out, d)
	}
	return out
}

// step is one point of a timeline. At +at seconds of event time (arriving
// lag seconds later on the engine clock) a value arrives for device dev
// (default d1), or, with tick, the engine clock ticks at +at with no data;
// service records a service at +at.
type step struct {
	at      int
	val     any // float64 or bool
	lag     int
	tick    bool
	service bool
	dev     string
}

func at(s int, v any) step                { return step{at: s, val: v} }
func late(s int, v any, lag int) step     { return step{at: s, val: v, lag: lag} }
func tick(s int) step                     { return step{at: s, tick: true} }
func service(s int) step                  { return step{at: s, service: true} }
func atDev(s int, dev string, v any) step { return step{at: s, val: v, dev: dev} }

// harness is an engine on a fake clock with a recording sink.
type harness struct {
	t     *testing.T
	clock *testkit.FakeClock
	sink  *recordingSink
	e     *Engine
	reg   fakeDevices
}

func newHarness(t *testing.T, reg fakeDevices, rules ...Rule) *harness {
	t.Helper()
	h := &harness{t: t, clock: testkit.NewFakeClock(t0), reg: reg}
	h.sink = &recordingSink{clock: h.clock}
	cfg := Config{Rules: rules, Sink: h.sink, Now: h.clock.Now}
	if reg != nil {
		cfg.Devices = reg
	}
	e, err := NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	return h
}

func (h *harness) run(rule Rule, steps []step) {
	ctx := context.Background()
	for _, s := range steps {
		ts := t0.Add(time.Duration(s.at) * time.Second)
		h.clock.Set(ts.Add(time.Duration(s.lag) * time.Second))
		switch {
		case s.tick:
			h.e.Tick(ctx, ts)
			continue
		case s.service:
			if _, _, err := h.e.RecordService(ctx, rule.ID, "d1", ts); err != nil {
				h.t.Fatal(err)
			}
			continue
		}
		dev := s.dev
		if dev == "" {
			dev = "d1"
		}
		site, building := "s1", "B1"
		if d, ok := h.reg[dev]; ok {
			site, building = d.Site, d.Building
		}
		if rule.Condition.Op == "event" {
			h.e.Event(ctx, devices.Event{Device: dev, Kind: rule.Kind, Site: site, Building: building, Time: ts,
				Name: rule.Condition.Event, Active: s.val.(bool)})
			continue
		}
		metric := rule.Metric
		if metric == "" {
			metric = "any"
		}
		h.e.Reading(ctx, devices.Reading{Device: dev, Kind: rule.Kind, Site: site, Building: building, Time: ts,
			Values: map[string]devices.Value{metric: value(s.val)}})
	}
}

func value(v any) devices.Value {
	switch x := v.(type) {
	case float64:
		return devices.Num(x)
	case int:
		return devices.Num(float64(x))
	case bool:
		return devices.FlagValue(x)
	}
	return devices.Value{}
}

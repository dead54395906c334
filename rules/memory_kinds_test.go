package rules

import (
	"reflect"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// TestMemorySavedAsBefore: a memory keeps one time and value for what
// its rule remembers (a rate's previous value, an unchanged run's start,
// a calendar rule's last service), and writes each out under the fields
// it always had, read back the same; an unchanged run ended by an unless
// keeps its start, saved with has_ref false, as before.
func TestMemorySavedAsBefore(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ms   memoryState
	}{
		{"nothing", memoryState{}},
		{"previous value", memoryState{HasPrev: true, PrevT: at, PrevX: 2.5}},
		{"unchanged run", memoryState{HasRef: true, Ref: 7, RefSince: at}},
		{"run ended by an unless", memoryState{HasRef: false, Ref: 7, RefSince: at}},
		{"last service", memoryState{ServiceAt: at}},
		{"all: terms", memoryState{Terms: []memoryState{{HasPrev: true, PrevT: at, PrevX: 1}, {HasPrev: true, PrevT: at, PrevX: -3}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.ms.memory()
			if got := m.state(); !reflect.DeepEqual(got, tc.ms) {
				t.Errorf("saved as %+v, want %+v", got, tc.ms)
			}
		})
	}
	// what the evaluators leave behind is saved under the same fields
	var m memory
	r := rate(true, 10)
	r(&m, at, devices.Num(1), 0)
	if got := m.state(); !got.HasPrev || !got.PrevT.Equal(at) || got.PrevX != 1 || got.HasRef || !got.ServiceAt.IsZero() {
		t.Errorf("rate: saved as %+v", got)
	}
	m = memory{}
	u := unchanged(0)
	u(&m, at, devices.Num(4), 0)
	if got := m.state(); !got.HasRef || !got.RefSince.Equal(at) || got.Ref != 4 || got.HasPrev {
		t.Errorf("unchanged: saved as %+v", got)
	}
	m = memory{}
	m.setService(stampOf(at))
	if got := m.state(); !got.ServiceAt.Equal(at) || got.HasPrev || got.HasRef || m.hasPrev() || m.hasRef() {
		t.Errorf("service: saved as %+v", got)
	}
}

// TestTogglesKeptApart: a flap guard's raises and clears live in the
// part of the memory few episodes make (none is made until the first),
// come back in order, are copied, not shared, by a save's clone, and go
// when replaced by none.
func TestTogglesKeptApart(t *testing.T) {
	at := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	var st episode
	if st.toggles() != nil || st.mem.trend() != nil {
		t.Fatal("an episode that never toggled keeps toggles or their memory")
	}
	st.toggled(at)
	st.toggled(at.Add(time.Second))
	if ts := st.toggles(); len(ts) != 2 || !ts[0].Equal(at) || !ts[1].Equal(at.Add(time.Second)) {
		t.Fatalf("toggles %v", ts)
	}
	c := st.mem.clone()
	c.ext.toggles[0] = at.Add(time.Hour)
	if !st.toggles()[0].Equal(at) {
		t.Error("a clone's toggles share the episode's")
	}
	st.setToggles(nil)
	if st.toggles() != nil {
		t.Errorf("toggles %v after none", st.toggles())
	}
}

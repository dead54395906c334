package dashboard

import (
	"context"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/caretaker-iot/caretaker/devices"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// MetricValue is the last value of one metric: a number, or true/false for
// a flag.
type MetricValue struct {
	Value any       `json:"value"`
	Time  time.Time `json:"ts"`
}

// DeviceStatus is whether a device is reachable, as screens show it.
type DeviceStatus struct {
	Device   string       `json:"device_id"`
	Kind     devices.Kind `json:"kind"`
	Site     string       `json:"site"`
	Building string       `json:"building,omitempty"`
	Location string       `json:"location,omitempty"`
	Online   bool         `json:"online"`
	LastSeen *time.Time   `json:"last_seen,omitempty"`
	Reason   string       `json:"reason,omitempty"`
}

// DeviceState is the live state of one device.
type DeviceState struct {
	DeviceStatus
	Readings map[string]MetricValue `json:"readings,omitempty"`
	Events   map[string]bool        `json:"events,omitempty"` // device events and whether active
}

// readingEvent is the data of a "reading" event.
type readingEvent struct {
	Device   string         `json:"device_id"`
	Kind     devices.Kind   `json:"kind"`
	Site     string         `json:"site"`
	Building string         `json:"building,omitempty"`
	Time     time.Time      `json:"ts"`
	Metrics  map[string]any `json:"metrics"`
}

// LiveState keeps the last value of every metric and whether each device is
// online, and tells the hub: "device.status" when a device comes or goes,
// "reading" for every reading (sent only to clients subscribed to that
// device). Its methods match an ingest sink, so cmd can plug it in there.
type LiveState struct {
	hub *Hub
	reg *devices.Registry
	now func() time.Time

	mu     sync.Mutex
	states map[string]*liveDevice
}

type liveDevice struct {
	DeviceState
	known bool // online or offline has been learnt, not assumed
}

// NewLiveState builds the live state; hub may be nil (no events), reg may
// be nil (devices are known only from their traffic).
func NewLiveState(hub *Hub, reg *devices.Registry, now func() time.Time) *LiveState {
	if now == nil {
		now = time.Now
	}
	return &LiveState{hub: hub, reg: reg, now: now, states: make(map[string]*liveDevice)}
}

// Reading records the values and marks the device online.
func (l *LiveState) Reading(_ context.Context, r devices.Reading) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stateLocked(r.Device, r.Kind, r.Site, r.Building)
	at := firstSet(r.Time, r.Received, l.now())
	for name, v := range r.Values {
		var val any = v.Number
		if v.IsFlag {
			val = v.Flag
		}
		st.Readings[name] = MetricValue{Value: val, Time: at}
	}
	l.seenLocked(st, firstSet(r.Received, r.Time, l.now()), "reading")
	// The event is built only when a screen follows the device.
	if l.hub != nil && l.hub.WantsReadings(r.Device) {
		ev := readingEvent{Device: r.Device, Kind: st.Kind, Site: st.Site, Building: st.Building, Time: at, Metrics: make(map[string]any, len(r.Values))}
		for name, v := range r.Values {
			var val any = v.Number
			if v.IsFlag {
				val = v.Flag
			}
			ev.Metrics[name] = val
		}
		l.notify(EventReading, ev.Site, ev.Device, ev)
	}
}

// Event records a device event (entrapment, outage...) and marks the
// device online: it spoke.
func (l *LiveState) Event(_ context.Context, e devices.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stateLocked(e.Device, e.Kind, e.Site, e.Building)
	st.Events[e.Name] = e.Active
	l.seenLocked(st, firstSet(e.Received, e.Time, l.now()), "event")
}

// Status records an explicit online/offline report (MQTT status topic,
// Modbus poll result).
func (l *LiveState) Status(_ context.Context, s devices.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stateLocked(s.Device, "", "", "")
	at := firstSet(s.Time, l.now())
	changed := !st.known || st.Online != s.Online
	st.known, st.Online, st.Reason = true, s.Online, s.Reason
	if s.Online {
		st.LastSeen = &at
	}
	if changed {
		l.notify(EventDeviceStatus, st.Site, st.Device, st.DeviceStatus)
	}
}

// Device returns a copy of one device's live state.
func (l *LiveState) Device(id string) (DeviceState, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, ok := l.states[id]
	if !ok {
		return DeviceState{}, false
	}
	out := st.DeviceState
	out.Readings = maps.Clone(st.Readings)
	out.Events = maps.Clone(st.Events)
	return out, true
}

// Statuses lists every registered or heard-from device, sorted by id;
// devices never heard from are offline without last_seen.
func (l *LiveState) Statuses() []DeviceStatus {
	var registered []devices.Device
	if l.reg != nil {
		registered = l.reg.Devices()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]DeviceStatus, 0, len(registered)+len(l.states))
	seen := make(map[string]bool, len(registered))
	for _, d := range registered {
		seen[d.ID] = true
		if st, ok := l.states[d.ID]; ok {
			out = append(out, st.DeviceStatus)
			continue
		}
		out = append(out, DeviceStatus{Device: d.ID, Kind: d.Kind, Site: d.Site, Building: d.Building, Location: d.Location})
	}
	for id, st := range l.states {
		if !seen[id] {
			out = append(out, st.DeviceStatus)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out
}

// stateLocked finds or creates a device's state, taking place names from
// the registry first and from the traffic otherwise.
func (l *LiveState) stateLocked(id string, kind devices.Kind, site, building string) *liveDevice {
	st, ok := l.states[id]
	if ok {
		return st
	}
	st = &liveDevice{DeviceState: DeviceState{
		DeviceStatus: DeviceStatus{Device: id, Kind: kind, Site: site, Building: building},
		Readings:     make(map[string]MetricValue),
		Events:       make(map[string]bool),
	}}
	if l.reg != nil {
		if d, ok := l.reg.Lookup(id); ok {
			st.Kind, st.Site, st.Building, st.Location = d.Kind, d.Site, d.Building, d.Location
		}
	}
	if st.Kind == "" {
		st.Kind = devices.KindUnknown
	}
	l.states[id] = st
	return st
}

// seenLocked marks a device online because it spoke, announcing the change.
func (l *LiveState) seenLocked(st *liveDevice, at time.Time, why string) {
	if st.LastSeen == nil || at.After(*st.LastSeen) {
		st.LastSeen = &at
	}
	if st.known && st.Online {
		return
	}
	st.known, st.Online, st.Reason = true, true, why
	l.notify(EventDeviceStatus, st.Site, st.Device, st.DeviceStatus)
}

// notify is called with mu held so that status events leave in the order
// the changes happened; Hub.Notify never blocks.
func (l *LiveState) notify(typ, site, device string, data any) {
	if l.hub != nil {
		l.hub.Notify(ticketing.Event{Type: typ, Site: site, Device: device, Data: data})
	}
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

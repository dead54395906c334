package dashboard

import (
	"context"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/intern"

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
	places intern.Pool[livePlace]
}

// liveDevice is a device's live state as kept: its status (made into a
// DeviceStatus when asked for, with the id it is kept under), its place
// kept once for all the devices there, and its last values in a short
// list (a device reports a handful of metrics), not a map each; the
// events' map is made at the first event.
type liveDevice struct {
	*livePlace
	location string
	reason   string
	lastSeen time.Time // zero: never seen
	readings []liveMetric
	events   map[string]bool
	online   bool
	known    bool // online or offline has been learnt, not assumed
}

// livePlace is a device's kind, site and building.
type livePlace struct {
	kind           devices.Kind
	site, building string
}

// status is the device's status as screens read it.
func (st *liveDevice) status(id string) DeviceStatus {
	s := DeviceStatus{Device: id, Kind: st.kind, Site: st.site, Building: st.building, Location: st.location,
		Online: st.online, Reason: st.reason}
	if !st.lastSeen.IsZero() {
		at := st.lastSeen
		s.LastSeen = &at
	}
	return s
}

// placeLocked is the place, kept once for all the devices there.
func (l *LiveState) placeLocked(kind devices.Kind, site, building string) *livePlace {
	return l.places.Of(livePlace{kind: kind, site: site, building: building})
}

type liveMetric struct {
	name string
	v    devices.Value
	at   time.Time
}

// set records a metric's last value.
func (st *liveDevice) set(name string, v devices.Value, at time.Time) {
	for i := range st.readings {
		if st.readings[i].name == name {
			st.readings[i].v, st.readings[i].at = v, at
			return
		}
	}
	st.readings = append(st.readings, liveMetric{name: name, v: v, at: at})
}

// state is a copy of the device's live state, as screens read it.
func (st *liveDevice) state(id string) DeviceState {
	out := DeviceState{DeviceStatus: st.status(id), Readings: make(map[string]MetricValue, len(st.readings)),
		Events: maps.Clone(st.events)}
	if out.Events == nil {
		out.Events = map[string]bool{}
	}
	for _, m := range st.readings {
		out.Readings[m.name] = MetricValue{Value: valueOf(m.v), Time: m.at}
	}
	return out
}

// valueOf is a value as screens show it: a number, or true/false.
func valueOf(v devices.Value) any {
	if v.IsFlag {
		return v.Flag
	}
	return v.Number
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
	if st.readings == nil {
		st.readings = make([]liveMetric, 0, len(r.Values))
	}
	for name, v := range r.Values {
		st.set(name, v, at)
	}
	l.seenLocked(r.Device, st, firstSet(r.Received, r.Time, l.now()), "reading")
	// The event is built only when a screen follows the device.
	if l.hub != nil && l.hub.WantsReadings(r.Device) {
		ev := readingEvent{Device: r.Device, Kind: st.kind, Site: st.site, Building: st.building, Time: at, Metrics: make(map[string]any, len(r.Values))}
		for name, v := range r.Values {
			ev.Metrics[name] = valueOf(v)
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
	if st.events == nil {
		st.events = map[string]bool{}
	}
	st.events[e.Name] = e.Active
	l.seenLocked(e.Device, st, firstSet(e.Received, e.Time, l.now()), "event")
}

// Status records an explicit online/offline report (MQTT status topic,
// Modbus poll result).
func (l *LiveState) Status(_ context.Context, s devices.Status) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stateLocked(s.Device, "", "", "")
	at := firstSet(s.Time, l.now())
	changed := !st.known || st.online != s.Online
	st.known, st.online, st.reason = true, s.Online, s.Reason
	if s.Online {
		st.lastSeen = at
	}
	if changed {
		l.notify(EventDeviceStatus, st.site, s.Device, st.status(s.Device))
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
	return st.state(id), true
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
			out = append(out, st.status(d.ID))
			continue
		}
		out = append(out, DeviceStatus{Device: d.ID, Kind: d.Kind, Site: d.Site, Building: d.Building, Location: d.Location})
	}
	for id, st := range l.states {
		if !seen[id] {
			out = append(out, st.status(id))
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
	st = &liveDevice{}
	if l.reg != nil {
		if d, ok := l.reg.Lookup(id); ok {
			// kept under the registry's copy of the id, not the one the
			// message brought
			id, kind, site, building, st.location = d.ID, d.Kind, d.Site, d.Building, d.Location
		}
	}
	if kind == "" {
		kind = devices.KindUnknown
	}
	st.livePlace = l.placeLocked(kind, site, building)
	l.states[id] = st
	return st
}

// seenLocked marks a device online because it spoke, announcing the change.
func (l *LiveState) seenLocked(id string, st *liveDevice, at time.Time, why string) {
	if st.lastSeen.IsZero() || at.After(st.lastSeen) {
		st.lastSeen = at
	}
	if st.known && st.online {
		return
	}
	st.known, st.online, st.reason = true, true, why
	l.notify(EventDeviceStatus, st.site, id, st.status(id))
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

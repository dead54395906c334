package rules

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Parents: every device gets its data through a parent, and when the
// parent stops answering the devices beneath it go quiet together.
// A Modbus device's parent is its address ("modbus:tcp://10.0.0.5:502");
// every other device's parent is ingest itself ("ingest": the MQTT broker
// connection).
const (
	ParentIngest = "ingest"
	ParentModbus = "modbus:"
	// ParentRuleID is the built-in rule of the one alarm raised for a
	// parent that is down.
	ParentRuleID = "source-offline"
)

// parentOf names the device's parent.
func parentOf(d devices.Device) string {
	if d.Modbus != nil && d.Modbus.Address != "" {
		return ParentModbus + d.Modbus.Address
	}
	return ParentIngest
}

// IsParentID tells whether an id names a parent rather than a device.
// No device may take such a name (IsReservedID).
func IsParentID(id string) bool {
	return id == ParentIngest || strings.HasPrefix(id, ParentModbus)
}

// IsReservedID tells whether a device id is one the engine keeps for its
// parents: the configuration refuses such a device, ingest neither takes
// its messages nor auto-registers it, and Status ignores it.
func IsReservedID(id string) bool { return IsParentID(id) }

// seenDevice is when the engine last heard from a device.
type seenDevice struct {
	*place                // kept once for all the devices there
	lastArrival time.Time // engine clock
	offline     bool      // its last Status said offline
}

// parentState is one parent's health.
type parentState struct {
	down      bool
	derived   bool      // down because every device beneath said offline
	backAt    time.Time // engine clock when it came back
	announced bool
	alarm     Alarm
}

func (e *Engine) seenDevice(id string, kind devices.Kind, site, building string) *seenDevice {
	if sd := e.lastFor(id).seen; sd != nil {
		return sd
	}
	sd := e.seen[id]
	if sd == nil {
		sd = &seenDevice{place: e.placeOf(kind, site, building)}
		e.seen[id] = sd
	}
	e.lastFor(id).seen = sd
	return sd
}

// heard records data from a device: its stale alarms clear, and a Modbus
// address that was down because all its devices were offline is back.
func (e *Engine) heard(ctx context.Context, p *plan, t, now time.Time) {
	sd := e.seenDevice(p.device, p.kind, p.site, p.building)
	sd.place = p.place
	sd.lastArrival, sd.offline = now, false
	for _, c := range p.stale {
		if st := e.state.get(stateKey{c.key(), p.device}); st != nil && st.announced {
			st.on = false
			e.clearAlarm(ctx, st, t, ClearDataBack)
		}
	}
	if len(e.parents) == 0 {
		return
	}
	if ps := e.parents[p.parent]; ps != nil && ps.down && ps.derived {
		e.setParent(ctx, p.parent, false, t, now, "a device beneath answered", false)
	}
}

// SourceStatus takes a parent's reachability report (s.Device is a parent
// id, see IsParentID: the MQTT connection, a Modbus address): it raises or
// clears the parent's one alarm. Only caretaker's own wiring calls it; a
// device's report goes to Status, so no device can pass for a source.
func (e *Engine) SourceStatus(ctx context.Context, s devices.Status) {
	if !IsParentID(s.Device) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.cfg.Now()
	t := s.Time
	if t.IsZero() {
		t = now
	}
	e.setParent(ctx, s.Device, !s.Online, t, now, s.Reason, false)
}

// Status takes a device's reachability report: online counts as hearing
// from it, and offline from every device of a Modbus address marks the
// address down. A report under a parent's id (IsReservedID) is ignored:
// parents report through SourceStatus.
func (e *Engine) Status(ctx context.Context, s devices.Status) {
	if IsReservedID(s.Device) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ownUpto.Store(0)
	now := e.cfg.Now()
	t := s.Time
	if t.IsZero() {
		t = now
	}
	var d devices.Device
	if e.cfg.Devices != nil {
		d, _ = e.cfg.Devices.Lookup(s.Device)
	}
	if d.ID == "" {
		if sd := e.seen[s.Device]; sd != nil {
			d = devices.Device{ID: s.Device, Kind: sd.kind, Site: sd.site, Building: sd.building}
		} else {
			return
		}
	}
	p := e.planFor(d.ID, d.Kind, d.Site, d.Building)
	if s.Online {
		e.heard(ctx, p, t, now)
		return
	}
	e.seenDevice(d.ID, d.Kind, d.Site, d.Building).offline = true
	if !strings.HasPrefix(p.parent, ParentModbus) {
		return
	}
	lister, ok := e.cfg.Devices.(DeviceLister)
	if !ok {
		return
	}
	for _, o := range lister.Devices() {
		if parentOf(o) != p.parent {
			continue
		}
		if sd := e.seen[o.ID]; sd == nil || !sd.offline {
			return
		}
	}
	e.setParent(ctx, p.parent, true, t, now, "every device at this address is offline", true)
}

// setParent moves a parent up or down and raises or clears its one alarm.
func (e *Engine) setParent(ctx context.Context, id string, down bool, t, now time.Time, reason string, derived bool) {
	ps := e.parents[id]
	if ps == nil {
		ps = &parentState{}
		e.parents[id] = ps
	}
	if ps.down == down {
		return
	}
	ps.down, ps.derived = down, derived && down
	if !down {
		ps.backAt = now
		if ps.announced {
			ps.announced = false
			ps.alarm.State, ps.alarm.ClearedAt, ps.alarm.ClearReason = Cleared, &t, ClearDataBack
			e.emit(ctx, ps.alarm)
		}
		return
	}
	what := "Ingest (MQTT broker connection)"
	if strings.HasPrefix(id, ParentModbus) {
		what = "Modbus address " + strings.TrimPrefix(id, ParentModbus)
	}
	n, site, building := e.children(id)
	msg := fmt.Sprintf("%s is not answering: %d devices without data; their own offline alarms are held back", what, n)
	if reason != "" {
		msg += " (" + reason + ")"
	}
	ps.announced = true
	ps.alarm = Alarm{ID: AlarmID(ParentRuleID, id, t), RuleID: ParentRuleID, RuleName: "Data source not answering",
		Device: id, Kind: devices.KindUnknown, Site: site, Building: building, Severity: Major, Level: Major.Level(),
		State: Raised, RaisedAt: t, Message: msg,
		// A data source down blinds the monitoring of every device behind
		// it, and no threshold of it can be tuned: its ticket opens at once.
		OpenTicket: true}
	e.emit(ctx, ps.alarm)
}

// children counts the registered devices beneath a parent, and names
// their site and building when they share one.
func (e *Engine) children(parent string) (n int, site, building string) {
	lister, ok := e.cfg.Devices.(DeviceLister)
	if !ok {
		return 0, "", ""
	}
	first := true
	for _, d := range lister.Devices() {
		if parentOf(d) != parent {
			continue
		}
		n++
		if first {
			site, building, first = d.Site, d.Building, false
			continue
		}
		if d.Site != site {
			site = ""
		}
		if d.Building != building {
			building = ""
		}
	}
	return n, site, building
}

// tickStale raises stale rules for devices that have sent nothing for the
// rule's after, unless their parent is down (inhibition: the parent's one
// alarm stands for them). A parent that came back restarts the clock of
// the devices beneath it. Registered devices never heard from are watched
// from the first tick that sees them.
func (e *Engine) tickStale(ctx context.Context, now time.Time) {
	if lister, ok := e.cfg.Devices.(DeviceLister); ok && now.Sub(e.lastRoster) >= time.Minute {
		e.lastRoster = now
		for _, d := range lister.Devices() {
			if e.seen[d.ID] == nil {
				e.seen[d.ID] = &seenDevice{place: e.placeOf(d.Kind, d.Site, d.Building), lastArrival: now}
			}
		}
	}
	for id, sd := range e.seen {
		p := e.planFor(id, sd.kind, sd.site, sd.building)
		if len(p.stale) == 0 {
			continue
		}
		since := sd.lastArrival
		if ps := e.parents[p.parent]; ps != nil {
			if ps.down {
				continue
			}
			if ps.backAt.After(since) {
				since = ps.backAt
			}
		}
		for _, c := range p.stale {
			k := stateKey{c.key(), id}
			st := e.state.get(k)
			if st != nil && st.announced {
				continue
			}
			if now.Sub(since) < c.Condition.After.Std() {
				continue
			}
			if st == nil {
				st = e.state.ensure(k, p.room)
			}
			if st.alarm == nil {
				a := e.newAlarm(c, p)
				st.alarm = &a
			}
			st.on, st.pendingSince = true, stampOf(since)
			a := st.alarm
			a.ID = AlarmID(c.key(), id, since)
			a.RaisedAt = since.Add(c.Condition.After.Std())
			a.ClearedAt, a.ClearReason = nil, ""
			a.Value = now.Sub(since).Minutes()
			a.Peak = a.Value
			e.announce(ctx, c, st)
		}
	}
}

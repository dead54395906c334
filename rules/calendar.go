package rules

import (
	"context"
	"time"
)

// Calendar rules (service_overdue) raise when a device has had no service
// recorded for the rule's after: the half-monthly lift maintenance, the
// yearly calibration of a gas head. The last service comes from
// RecordService (and, after a restart, RestoreServiceAt from the store);
// a device with none recorded counts from when the engine first saw it,
// so a new installation does not open a ticket for every device at once.

// tickCalendar raises the calendar rules that have fallen due.
func (e *Engine) tickCalendar(ctx context.Context, now time.Time) {
	for id, sd := range e.seen {
		p := e.planFor(id, sd.kind, sd.site, sd.building)
		for _, c := range p.calendar {
			// At rest (not due, never raised) the rule keeps in its slot
			// alone when the device was last serviced or first seen.
			k := stateKey{c.key(), id}
			sl := e.state.slotFor(k, p.room)
			at := sl.service()
			if at == 0 {
				at = stampOf(now)
				sl.setService(at)
				e.unsave(id)
			}
			serviceAt := at.time()
			if (sl.st != nil && sl.st.announced) || now.Sub(serviceAt) < c.Condition.After.Std() {
				continue
			}
			st := e.state.ensureCalendar(k, p.room)
			if st.alarm == nil || st.alarm.RuleID == "" {
				// made once the service falls due, not for every device
				a := e.newAlarm(c, p)
				st.alarm = &a
			}
			st.on, st.pendingSince = true, st.mem.service()
			a := st.alarm
			a.ID = AlarmID(c.key(), id, serviceAt)
			a.RaisedAt = serviceAt.Add(c.Condition.After.Std())
			a.ClearedAt, a.ClearReason = nil, ""
			a.Value = now.Sub(serviceAt).Hours()
			a.Peak = a.Value
			e.announce(ctx, c, st)
		}
	}
}

// RestoreServiceAt sets when a device's last service of a calendar rule
// was recorded, as kept by the store, after a restart.
func (e *Engine) RestoreServiceAt(ruleID, device string, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, key := range []string{ruleKey(ruleID, false), ruleKey(ruleID, true)} {
		c := e.rules[key]
		if c == nil || c.Condition.Op != OpServiceOverdue {
			continue
		}
		sl := e.ruleSlot(c, device)
		if sl == nil {
			continue
		}
		if at.After(sl.service().time()) {
			sl.setService(stampOf(at))
			e.unsave(device)
		}
	}
}

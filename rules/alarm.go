package rules

import (
	"fmt"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Severity of a rule; it maps to a ticket level.
type Severity string

// Severities, from an emergency to planned maintenance.
const (
	Critical    Severity = "critical"
	Major       Severity = "major"
	Minor       Severity = "minor"
	Maintenance Severity = "maintenance"
)

// Level is the ticket level a severity calls for: critical -> 1 (emergency),
// major -> 2, minor and maintenance -> 3.
func (s Severity) Level() int {
	switch s {
	case Critical:
		return 1
	case Major:
		return 2
	default:
		return 3
	}
}

// AlarmState is where an alarm is in its life as the engine sees it.
// Acknowledgement is a human act recorded by whoever stores alarms.
type AlarmState string

// Alarm states emitted by the engine.
const (
	Raised  AlarmState = "raised"
	Updated AlarmState = "updated"
	Cleared AlarmState = "cleared"
)

// Alarm is one episode of a rule holding on one device. ID is stable for
// the episode and derived from the rule, the device and the event time the
// episode started, so a replayed reading yields the same ID again.
type Alarm struct {
	ID       string       `json:"id"`
	RuleID   string       `json:"rule_id"`
	RuleName string       `json:"rule_name"`
	Device   string       `json:"device_id"`
	Kind     devices.Kind `json:"kind"`
	Site     string       `json:"site"`
	Building string       `json:"building"`
	Location string       `json:"location,omitempty"`
	Metric   string       `json:"metric,omitempty"`
	Event    string       `json:"event,omitempty"`
	Severity Severity     `json:"severity"`
	Level    int          `json:"level"`
	State    AlarmState   `json:"state"`
	// Value is the reading that caused this change; Peak the worst seen in
	// the episode so far.
	Value     float64    `json:"value"`
	Peak      float64    `json:"peak"`
	Message   string     `json:"message"`
	RaisedAt  time.Time  `json:"raised_at"`
	ClearedAt *time.Time `json:"cleared_at,omitempty"`
	// Shadow alarms come from rules in shadow mode: logged, never ticketed.
	Shadow bool `json:"shadow,omitempty"`
	// Flapping: the rule toggled more than its flap_count within its
	// flap_window, so the alarm is held raised until it settles.
	Flapping bool `json:"flapping,omitempty"`
	// PredictedAt is when a trend rule expects the threshold to be crossed.
	PredictedAt *time.Time `json:"predicted_at,omitempty"`
	// ClearReason and ClearedBy say, on a cleared alarm, why it cleared
	// (one of the Clear* reasons) and who or what cleared it ("value 12.5",
	// "rule gas-lel-critical changed", an operator's name). Empty: the
	// store works it out from the alarm.
	ClearReason string `json:"clear_reason,omitempty"`
	ClearedBy   string `json:"cleared_by,omitempty"`
	// Maintainer is the device's maintenance contractor (维保单位), for
	// the paging of an entrapment; empty when the device names none.
	Maintainer string `json:"maintainer,omitempty"`
	// Commands are the device actions the rule calls for (Rule.Commands).
	Commands []Command `json:"commands,omitempty"`
	// OpenTicket: the rule opens its ticket by itself (Rule.Open is
	// "ticket"); otherwise an alarm below level 1 waits for an operator.
	OpenTicket bool `json:"open_ticket,omitempty"`
}

// Why an alarm cleared (Alarm.ClearReason).
const (
	ClearValue       = "value"        // the readings met the clear condition
	ClearRuleChanged = "rule_changed" // the rule was changed or disabled
	ClearService     = "service"      // the maintenance it asked for was recorded
	ClearDataBack    = "data_back"    // a device (or data source) that had gone quiet sent data again
)

// AlarmID derives the stable episode id.
func AlarmID(ruleID, device string, raisedAt time.Time) string {
	return fmt.Sprintf("%s:%s:%d", ruleID, device, raisedAt.UnixMilli())
}

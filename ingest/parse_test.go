package ingest

import (
	"errors"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

var received = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

func reasonOf(err error) string {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	if err != nil {
		return "not a RejectError: " + err.Error()
	}
	return ""
}

func TestParseTopic(t *testing.T) {
	tests := []struct {
		topic                 string
		site, device, channel string
		reason                string
	}{
		{topic: "sites/s1/devices/gas-b2-07/telemetry", site: "s1", device: "gas-b2-07", channel: "telemetry"},
		{topic: "sites/s1/devices/el-1/event", site: "s1", device: "el-1", channel: "event"},
		{topic: "sites/s1/devices/el-1/status", site: "s1", device: "el-1", channel: "status"},
		{topic: "sites/s1/devices/el-1/config", reason: ReasonUnknownTopic},
		{topic: "sites/s1/devices/el-1", reason: ReasonUnknownTopic},
		{topic: "sites/s1/devices/el-1/telemetry/x", reason: ReasonUnknownTopic},
		{topic: "site/s1/devices/el-1/telemetry", reason: ReasonUnknownTopic},
		{topic: "sites/s1/device/el-1/telemetry", reason: ReasonUnknownTopic},
		{topic: "sites//devices/el-1/telemetry", reason: ReasonUnknownTopic},
		{topic: "sites/s1/devices/+/telemetry", reason: ReasonUnknownTopic},
		{topic: "sites/s 1/devices/el-1/telemetry", reason: ReasonUnknownTopic},
		{topic: "caretaker/events/alarm.raised", reason: ReasonUnknownTopic},
		{topic: "", reason: ReasonUnknownTopic},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			site, device, channel, err := ParseTopic(tt.topic)
			if got := reasonOf(err); got != tt.reason {
				t.Fatalf("reason = %q (%v), want %q", got, err, tt.reason)
			}
			if site != tt.site || device != tt.device || channel != tt.channel {
				t.Errorf("got %q %q %q, want %q %q %q", site, device, channel, tt.site, tt.device, tt.channel)
			}
		})
	}
}

func TestParseTelemetry(t *testing.T) {
	tsMs := time.UnixMilli(1795395600123) // 2026-11-23T01:00:00.123Z
	tests := []struct {
		name    string
		payload string
		ts      time.Time
		values  map[string]devices.Value
		reason  string
	}{
		{name: "ms timestamp", payload: `{"ts": 1795395600123, "metrics": {"lel_pct": 12.5, "fault": false}}`,
			ts: tsMs, values: map[string]devices.Value{"lel_pct": devices.Num(12.5), "fault": devices.FlagValue(false)}},
		{name: "RFC3339 timestamp", payload: `{"ts": "2026-11-23T00:59:00Z", "metrics": {"lel_pct": 21}}`,
			ts: received.Add(-time.Minute), values: map[string]devices.Value{"lel_pct": devices.Num(21)}},
		{name: "RFC3339 with offset and fraction", payload: `{"ts": "2026-11-23T09:00:00.5+08:00", "metrics": {"co_ppm": 3}}`,
			ts: received.Add(500 * time.Millisecond), values: map[string]devices.Value{"co_ppm": devices.Num(3)}},
		{name: "missing ts takes receive time", payload: `{"metrics": {"leak": true}}`,
			ts: received, values: map[string]devices.Value{"leak": devices.FlagValue(true)}},
		{name: "null ts takes receive time", payload: `{"ts": null, "metrics": {"battery_pct": 80}}`,
			ts: received, values: map[string]devices.Value{"battery_pct": devices.Num(80)}},
		{name: "negative and exponent numbers", payload: `{"metrics": {"a": -1.5e2, "b": 0}}`,
			ts: received, values: map[string]devices.Value{"a": devices.Num(-150), "b": devices.Num(0)}},
		{name: "unknown top-level keys ignored", payload: `{"fw": "1.2", "metrics": {"a": 1}}`,
			ts: received, values: map[string]devices.Value{"a": devices.Num(1)}},
		{name: "ts within 24h ahead", payload: `{"ts": "2026-11-24T00:59:00Z", "metrics": {"a": 1}}`,
			ts: received.Add(24*time.Hour - time.Minute), values: map[string]devices.Value{"a": devices.Num(1)}},

		{name: "invalid JSON", payload: `{"metrics": {"a": 1}`, reason: ReasonInvalidJSON},
		{name: "not an object", payload: `[1,2]`, reason: ReasonInvalidJSON},
		{name: "JSON null", payload: `null`, reason: ReasonInvalidJSON},
		{name: "empty payload", payload: ``, reason: ReasonInvalidJSON},
		{name: "plain number", payload: `12.5`, reason: ReasonInvalidJSON},
		{name: "NaN string", payload: `{"metrics": {"lel_pct": "NaN"}}`, reason: ReasonBadType},
		{name: "numeric string", payload: `{"metrics": {"lel_pct": "12.5"}}`, reason: ReasonBadType},
		{name: "null value", payload: `{"metrics": {"lel_pct": null}}`, reason: ReasonBadType},
		{name: "object value", payload: `{"metrics": {"lel_pct": {"v": 1}}}`, reason: ReasonBadType},
		{name: "array value", payload: `{"metrics": {"lel_pct": [1]}}`, reason: ReasonBadType},
		{name: "number too large", payload: `{"metrics": {"lel_pct": 1e999}}`, reason: ReasonBadType},
		{name: "bare NaN is not JSON", payload: `{"metrics": {"lel_pct": NaN}}`, reason: ReasonInvalidJSON},
		{name: "metrics not an object", payload: `{"metrics": [1]}`, reason: ReasonBadType},
		{name: "empty metrics", payload: `{"metrics": {}}`, reason: ReasonNoMetrics},
		{name: "missing metrics", payload: `{"ts": 1795395600123}`, reason: ReasonNoMetrics},
		{name: "null metrics", payload: `{"metrics": null}`, reason: ReasonNoMetrics},
		{name: "empty metric name", payload: `{"metrics": {"": 1}}`, reason: ReasonBadType},
		{name: "future ts", payload: `{"ts": "2026-11-24T01:00:01Z", "metrics": {"a": 1}}`, reason: ReasonFutureTimestamp},
		{name: "future ms ts", payload: `{"ts": 1795482000001, "metrics": {"a": 1}}`, reason: ReasonFutureTimestamp},
		{name: "seconds instead of ms", payload: `{"ts": 1795395600, "metrics": {"a": 1}}`, reason: ReasonBadTimestamp},
		{name: "bad ts string", payload: `{"ts": "yesterday", "metrics": {"a": 1}}`, reason: ReasonBadTimestamp},
		{name: "bool ts", payload: `{"ts": true, "metrics": {"a": 1}}`, reason: ReasonBadTimestamp},
		{name: "huge ts", payload: `{"ts": 1e300, "metrics": {"a": 1}}`, reason: ReasonBadTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, values, err := ParseTelemetry([]byte(tt.payload), received)
			if got := reasonOf(err); got != tt.reason {
				t.Fatalf("reason = %q (%v), want %q", got, err, tt.reason)
			}
			if tt.reason != "" {
				return
			}
			if !ts.Equal(tt.ts) {
				t.Errorf("ts = %s, want %s", ts, tt.ts)
			}
			if len(values) != len(tt.values) {
				t.Fatalf("values = %v, want %v", values, tt.values)
			}
			for k, want := range tt.values {
				if got, ok := values[k]; !ok || got != want {
					t.Errorf("values[%q] = %v (present %v), want %v", k, got, ok, want)
				}
			}
		})
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		ts      time.Time
		event   string
		active  bool
		reason  string
	}{
		{name: "active with ms", payload: `{"ts": 1795395600123, "event": "entrapment", "active": true}`,
			ts: time.UnixMilli(1795395600123), event: "entrapment", active: true},
		{name: "ended with RFC3339", payload: `{"ts": "2026-11-23T00:00:00Z", "event": "outage", "active": false}`,
			ts: received.Add(-time.Hour), event: "outage", active: false},
		{name: "missing ts", payload: `{"event": "door_fault", "active": true}`, ts: received, event: "door_fault", active: true},
		{name: "invalid JSON", payload: `{"event":`, reason: ReasonInvalidJSON},
		{name: "missing event", payload: `{"active": true}`, reason: ReasonMissingField},
		{name: "empty event", payload: `{"event": "", "active": true}`, reason: ReasonMissingField},
		{name: "event not a string", payload: `{"event": 3, "active": true}`, reason: ReasonBadType},
		{name: "missing active", payload: `{"event": "outage"}`, reason: ReasonMissingField},
		{name: "active as string", payload: `{"event": "outage", "active": "true"}`, reason: ReasonBadType},
		{name: "active as number", payload: `{"event": "outage", "active": 1}`, reason: ReasonBadType},
		{name: "future ts", payload: `{"ts": "2030-01-01T00:00:00Z", "event": "outage", "active": true}`, reason: ReasonFutureTimestamp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, name, active, err := ParseEvent([]byte(tt.payload), received)
			if got := reasonOf(err); got != tt.reason {
				t.Fatalf("reason = %q (%v), want %q", got, err, tt.reason)
			}
			if tt.reason != "" {
				return
			}
			if !ts.Equal(tt.ts) || name != tt.event || active != tt.active {
				t.Errorf("got %s %q %v, want %s %q %v", ts, name, active, tt.ts, tt.event, tt.active)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		payload string
		online  bool
		reason  string
	}{
		{"online", true, ""},
		{"offline", false, ""},
		{" OFFLINE\n", false, ""},
		{"", false, ReasonBadStatus},
		{`{"status":"online"}`, false, ReasonBadStatus},
	}
	for _, tt := range tests {
		online, err := ParseStatus([]byte(tt.payload))
		if got := reasonOf(err); got != tt.reason || online != tt.online {
			t.Errorf("ParseStatus(%q) = %v, %q; want %v, %q", tt.payload, online, got, tt.online, tt.reason)
		}
	}
}

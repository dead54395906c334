package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Channels of a device topic.
const (
	ChannelTelemetry = "telemetry"
	ChannelEvent     = "event"
	ChannelStatus    = "status"
)

// maxFuture is how far ahead of the receive time a device clock may be.
const maxFuture = 24 * time.Hour

// minTime is the earliest timestamp taken as real. Anything before it is
// most likely seconds sent where milliseconds are expected.
var minTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseTopic splits sites/{site}/devices/{device}/{telemetry|event|status}.
func ParseTopic(topic string) (site, device, channel string, err error) {
	rest, ok := strings.CutPrefix(topic, "sites/")
	var mid string
	if ok {
		site, rest, ok = strings.Cut(rest, "/")
	}
	if ok {
		mid, rest, ok = strings.Cut(rest, "/")
	}
	if ok {
		device, channel, ok = strings.Cut(rest, "/")
	}
	if !ok || mid != "devices" || strings.IndexByte(channel, '/') >= 0 {
		return "", "", "", reject(ReasonUnknownTopic, "topic %q is not sites/{site}/devices/{device}/{channel}", topic)
	}
	if !devices.ValidID(site) {
		return "", "", "", reject(ReasonUnknownTopic, "topic %q: site %q is not a valid id", topic, site)
	}
	if !devices.ValidID(device) {
		return "", "", "", reject(ReasonUnknownTopic, "topic %q: device %q is not a valid id", topic, device)
	}
	switch channel {
	case ChannelTelemetry, ChannelEvent, ChannelStatus:
		return site, device, channel, nil
	}
	return "", "", "", reject(ReasonUnknownTopic, "topic %q: channel %q is not telemetry, event or status", topic, channel)
}

// ParseTelemetry reads {"ts": ..., "metrics": {"name": number|bool, ...}}.
// ts is unix milliseconds or an RFC 3339 string; without it the reading
// takes the receive time. JSON numbers become devices.Num, booleans
// devices.FlagValue; any other value rejects the whole message.
// The common plain shape takes a single-pass fast path (parse_fast.go)
// with the same results; everything else the general parser below.
func ParseTelemetry(payload []byte, received time.Time) (ts time.Time, values map[string]devices.Value, err error) {
	if ts, values, ok := parseTelemetryFast(payload, received); ok {
		return ts, values, nil
	}
	return parseTelemetryGeneral(payload, received)
}

// parseTelemetryGeneral is ParseTelemetry with encoding/json: any payload,
// and the reason for every refusal.
func parseTelemetryGeneral(payload []byte, received time.Time) (ts time.Time, values map[string]devices.Value, err error) {
	obj, err := parseObject(payload)
	if err != nil {
		return time.Time{}, nil, err
	}
	if ts, err = parseTS(obj["ts"], received); err != nil {
		return time.Time{}, nil, err
	}
	raw, ok := obj["metrics"]
	if !ok || isNull(raw) {
		return time.Time{}, nil, reject(ReasonNoMetrics, "no \"metrics\" object")
	}
	var metrics map[string]json.RawMessage
	if err := json.Unmarshal(raw, &metrics); err != nil {
		return time.Time{}, nil, reject(ReasonBadType, "\"metrics\" is not an object")
	}
	if len(metrics) == 0 {
		return time.Time{}, nil, reject(ReasonNoMetrics, "\"metrics\" is empty")
	}
	values = make(map[string]devices.Value, len(metrics))
	for name, v := range metrics {
		if name == "" {
			return time.Time{}, nil, reject(ReasonBadType, "metric with an empty name")
		}
		val, err := parseValue(v)
		if err != nil {
			return time.Time{}, nil, reject(ReasonBadType, "metric %q: %v", name, err)
		}
		values[name] = val
	}
	return ts, values, nil
}

// ParseEvent reads {"ts": ..., "event": "entrapment", "active": true}.
// Both event and active are required.
func ParseEvent(payload []byte, received time.Time) (ts time.Time, name string, active bool, err error) {
	obj, err := parseObject(payload)
	if err != nil {
		return time.Time{}, "", false, err
	}
	if ts, err = parseTS(obj["ts"], received); err != nil {
		return time.Time{}, "", false, err
	}
	rawName, ok := obj["event"]
	if !ok || isNull(rawName) {
		return time.Time{}, "", false, reject(ReasonMissingField, "no \"event\" name")
	}
	if err := json.Unmarshal(rawName, &name); err != nil {
		return time.Time{}, "", false, reject(ReasonBadType, "\"event\" is not a string")
	}
	if name == "" {
		return time.Time{}, "", false, reject(ReasonMissingField, "\"event\" is empty")
	}
	rawActive, ok := obj["active"]
	if !ok || isNull(rawActive) {
		return time.Time{}, "", false, reject(ReasonMissingField, "no \"active\" flag")
	}
	if err := json.Unmarshal(rawActive, &active); err != nil {
		return time.Time{}, "", false, reject(ReasonBadType, "\"active\" is not true or false")
	}
	return ts, name, active, nil
}

// ParseStatus reads a status payload: "online" or "offline".
func ParseStatus(payload []byte) (online bool, err error) {
	switch strings.ToLower(string(bytes.TrimSpace(payload))) {
	case "online":
		return true, nil
	case "offline":
		return false, nil
	}
	return false, reject(ReasonBadStatus, "status %q is not online or offline", truncate(payload, 32))
}

func parseObject(payload []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(payload, &obj); err != nil || obj == nil {
		if err == nil {
			err = fmt.Errorf("null")
		}
		return nil, reject(ReasonInvalidJSON, "payload is not a JSON object: %v", err)
	}
	return obj, nil
}

func parseTS(raw json.RawMessage, received time.Time) (time.Time, error) {
	if len(raw) == 0 || isNull(raw) {
		return received, nil
	}
	var ts time.Time
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return time.Time{}, reject(ReasonBadTimestamp, "ts: %v", err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, reject(ReasonBadTimestamp, "ts %q is not RFC 3339", s)
		}
		ts = t
	default:
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return time.Time{}, reject(ReasonBadTimestamp, "ts is neither unix milliseconds nor an RFC 3339 string")
		}
		if ms, err := n.Int64(); err == nil {
			ts = time.UnixMilli(ms)
		} else if f, err := n.Float64(); err == nil && f > -1e15 && f < 1e15 {
			ts = time.UnixMilli(int64(f))
		} else {
			return time.Time{}, reject(ReasonBadTimestamp, "ts %s is out of range", n)
		}
	}
	if ts.Before(minTime) {
		return time.Time{}, reject(ReasonBadTimestamp, "ts %s is before 2000 (seconds instead of milliseconds?)", ts.UTC().Format(time.RFC3339))
	}
	if ts.After(received.Add(maxFuture)) {
		return time.Time{}, reject(ReasonFutureTimestamp, "ts %s is more than %s ahead of the receive time", ts.UTC().Format(time.RFC3339), maxFuture)
	}
	return ts, nil
}

func parseValue(raw json.RawMessage) (devices.Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return devices.Value{}, fmt.Errorf("empty value")
	}
	switch c := raw[0]; {
	case c == 't' || c == 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return devices.Value{}, err
		}
		return devices.FlagValue(b), nil
	case c == '-' || (c >= '0' && c <= '9'):
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil {
			return devices.Value{}, fmt.Errorf("number out of range")
		}
		return devices.Num(f), nil
	case c == '"':
		return devices.Value{}, fmt.Errorf("string %s where a number or bool is expected", truncate(raw, 32))
	case c == 'n':
		return devices.Value{}, fmt.Errorf("null where a number or bool is expected")
	}
	return devices.Value{}, fmt.Errorf("%s where a number or bool is expected", truncate(raw, 32))
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

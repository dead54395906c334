package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Fuzz targets of what devices send. Each checks a property, not only the
// absence of panics: what the parsers accept is well-formed (valid ids,
// finite numbers, timestamps between 2000 and a day past the receive
// time) and survives a round trip; what they refuse is a *RejectError with
// a known reason. Longer runs by hand (docs/testing.md):
//
//	go test -run '^$' -fuzz '^FuzzParseTelemetry$' -fuzztime 5m ./ingest

var knownReasons = map[string]bool{
	ReasonInvalidJSON: true, ReasonBadType: true, ReasonBadTimestamp: true, ReasonFutureTimestamp: true,
	ReasonNoMetrics: true, ReasonMissingField: true, ReasonUnknownTopic: true, ReasonUnknownDevice: true,
	ReasonSiteMismatch: true, ReasonUnknownMetric: true, ReasonUnknownEvent: true, ReasonBadStatus: true,
	ReasonOversized: true, ReasonImplausible: true,
}

func mustReject(t *testing.T, err error, input any) {
	t.Helper()
	var re *RejectError
	if !errors.As(err, &re) || !knownReasons[re.Reason] {
		t.Fatalf("%q: error %v (%T) is not a RejectError with a known reason", input, err, err)
	}
}

// checkTS: a timestamp taken is the receive time when the payload has none,
// else between 2000 and a day after the receive time.
func checkTS(t *testing.T, ts, received time.Time, payload []byte) {
	t.Helper()
	if ts.Before(minTime) || ts.After(received.Add(maxFuture)) {
		t.Fatalf("%q: ts %s outside [%s, %s]", payload, ts, minTime, received.Add(maxFuture))
	}
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{
		"sites/s1/devices/gas-b2-07/telemetry", "sites/s1/devices/el-1/event", "sites/s1/devices/el-1/status",
		"sites/s1/devices/el-1/config", "sites//devices/x/telemetry", "sites/s1/devices/+/telemetry",
		"sites/s1/devices/#", "sites/s1/devices/a/telemetry/", "caretaker/events/alarm.raised", "sites/\u00e9/devices/x/event", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		site, device, channel, err := ParseTopic(topic)
		if err != nil {
			mustReject(t, err, topic)
			if site != "" || device != "" || channel != "" {
				t.Fatalf("%q: refused but returned %q %q %q", topic, site, device, channel)
			}
			return
		}
		if !devices.ValidID(site) || !devices.ValidID(device) {
			t.Fatalf("%q: accepted invalid ids %q %q", topic, site, device)
		}
		if channel != ChannelTelemetry && channel != ChannelEvent && channel != ChannelStatus {
			t.Fatalf("%q: channel %q", topic, channel)
		}
		if rebuilt := "sites/" + site + "/devices/" + device + "/" + channel; rebuilt != topic {
			t.Fatalf("%q: parsed to %q", topic, rebuilt)
		}
	})
}

var telemetrySeeds = []string{
	`{"ts": 1795395600123, "metrics": {"lel_pct": 35.5, "co_ppm": 3, "fault": false}}`,
	`{"ts": "2026-11-23T01:00:00.123456789+08:00", "metrics": {"voltage_v": 229.8}}`,
	`{"metrics": {"leak": true, "battery_pct": 88}}`,
	`{"ts": 1795395600, "metrics": {"x": 1}}`,
	`{"ts": 1.7953956001235e12, "metrics": {"x": -0}}`,
	`{"ts": 99999999999999999999, "metrics": {"x": 1e308}}`,
	`{"ts": null, "metrics": {"x": 1e999}}`,
	`{"metrics": {"": 1}}`,
	`{"metrics": {"a": "1", "b": null, "c": [1], "d": {"e": 1}}}`,
	`{"metrics": {}}`, `{"metrics": null}`, `null`, `[]`, `"x"`, `{`, ``,
	`{"metrics": {"a": 1, "a": true}}`,
}

func FuzzParseTelemetry(f *testing.F) {
	for _, s := range telemetrySeeds {
		f.Add([]byte(s))
	}
	received := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, payload []byte) {
		ts, values, err := ParseTelemetry(payload, received)
		if err != nil {
			mustReject(t, err, payload)
			return
		}
		checkTS(t, ts, received, payload)
		if len(values) == 0 {
			t.Fatalf("%q: accepted with no metrics", payload)
		}
		metrics := make(map[string]any, len(values))
		for name, v := range values {
			if name == "" {
				t.Fatalf("%q: metric with an empty name", payload)
			}
			if !v.IsFlag && (math.IsNaN(v.Number) || math.IsInf(v.Number, 0)) {
				t.Fatalf("%q: metric %s = %v is not finite", payload, name, v.Number)
			}
			if v.IsFlag {
				metrics[name] = v.Flag
			} else {
				metrics[name] = v.Number
			}
		}
		// What was taken, written out again, reads back the same.
		again, err := json.Marshal(map[string]any{"ts": ts.Format(time.RFC3339Nano), "metrics": metrics})
		if err != nil {
			t.Fatalf("%q: re-encoding %v: %v", payload, metrics, err)
		}
		ts2, values2, err := ParseTelemetry(again, received)
		if err != nil || !ts2.Equal(ts) || len(values2) != len(values) {
			t.Fatalf("%q: round trip %s gave %v %v %v", payload, again, ts2, values2, err)
		}
		for name, v := range values {
			if values2[name] != v {
				t.Fatalf("%q: round trip changed %s from %v to %v", payload, name, v, values2[name])
			}
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{
		`{"ts": 1795395600123, "event": "entrapment", "active": true}`,
		`{"event": "outage", "active": false}`,
		`{"ts": "2026-11-23T01:00:00Z", "event": "", "active": true}`,
		`{"event": "door_fault"}`, `{"event": 1, "active": "yes"}`, `{"active": true}`, `null`, `{}`,
	} {
		f.Add([]byte(s))
	}
	received := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, payload []byte) {
		ts, name, _, err := ParseEvent(payload, received)
		if err != nil {
			mustReject(t, err, payload)
			return
		}
		checkTS(t, ts, received, payload)
		if name == "" {
			t.Fatalf("%q: accepted an event with no name", payload)
		}
	})
}

// fuzzSink keeps what the pipeline hands on.
type fuzzSink struct {
	mu       sync.Mutex
	readings []devices.Reading
	events   []devices.Event
}

func (s *fuzzSink) Reading(_ context.Context, r devices.Reading) {
	s.mu.Lock()
	s.readings = append(s.readings, r)
	s.mu.Unlock()
}
func (s *fuzzSink) Event(_ context.Context, e devices.Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}
func (s *fuzzSink) Status(context.Context, devices.Status) {}

// FuzzPipelineMessage sends one raw message through the whole check chain
// (topic, registry, parse, metrics of the device's kind): what reaches the
// rules is of a registered device of the topic's site, carries only that
// kind's metrics with their types, and finite numbers; every message is
// counted once, accepted or rejected.
func FuzzPipelineMessage(f *testing.F) {
	f.Add("sites/s1/devices/gas-b2-07/telemetry", []byte(telemetrySeeds[0]))
	f.Add("sites/s1/devices/gas-b2-07/telemetry", []byte(`{"metrics": {"lel_pct": true, "fault": 1, "volts": 3}}`))
	f.Add("sites/s1/devices/lift-b1-01/event", []byte(`{"event": "entrapment", "active": true}`))
	f.Add("sites/s1/devices/lift-b1-01/event", []byte(`{"event": "outage", "active": true}`))
	f.Add("sites/s2/devices/gas-b2-07/telemetry", []byte(telemetrySeeds[0]))
	f.Add("sites/s1/devices/gas-b2-07/status", []byte("offline"))
	f.Add("sites/s1/devices/nobody/telemetry", []byte(telemetrySeeds[2]))
	f.Add("sites/s1/devices/gas-b2-07/telemetry", []byte(`{"metrics": {"lel_pct": `+strings.Repeat("9", 400)+`}}`))
	received := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		reg, err := devices.NewRegistry(devices.Catalog{Devices: []devices.Device{
			{ID: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Location: "B2 boiler room"},
			{ID: "lift-b1-01", Kind: devices.KindElevator, Site: "s1", Building: "B1", Location: "B1 lift 1"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		sink := &fuzzSink{}
		p := NewPipeline(PipelineConfig{Registry: reg, Sink: sink, MaxPayload: 4096, Now: func() time.Time { return received }})
		p.handle(context.Background(), item{msg: Message{Topic: topic, Payload: payload, Received: received}})
		st := p.Stats()
		if st.Received != 1 {
			t.Fatalf("received %d, want 1", st.Received)
		}
		if st.Accepted == 0 && len(st.Rejected) == 0 {
			t.Fatalf("%s %q: neither accepted nor rejected", topic, payload)
		}
		for _, r := range sink.readings {
			d, ok := reg.Lookup(r.Device)
			if !ok || d.Kind != r.Kind || d.Site != r.Site || !strings.HasPrefix(topic, "sites/"+d.Site+"/devices/"+d.ID+"/") {
				t.Fatalf("%s: reading of %+v handed on", topic, r)
			}
			spec, _ := devices.SpecOf(d.Kind)
			for name, v := range r.Values {
				ms, ok := spec.Metric(name)
				if !ok || (ms.Type == devices.Flag) != v.IsFlag {
					t.Fatalf("%s %q: metric %s = %v is not one of kind %s", topic, payload, name, v, d.Kind)
				}
				if math.IsNaN(v.Number) || math.IsInf(v.Number, 0) {
					t.Fatalf("%s %q: %s = %v", topic, payload, name, v.Number)
				}
			}
			checkTS(t, r.Time, received, payload)
		}
		for _, e := range sink.events {
			d, _ := reg.Lookup(e.Device)
			spec, _ := devices.SpecOf(d.Kind)
			if !spec.HasEvent(e.Name) {
				t.Fatalf("%s %q: event %q of kind %s handed on", topic, payload, e.Name, d.Kind)
			}
		}
	})
}

package influx_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestMQTTToInfluxMalformedAroundGood: through real mosquitto and real
// InfluxDB, good messages land with the contract's measurement, tags,
// fields and time while the malformed ones between them are each counted
// under their reason.
func TestMQTTToInfluxMalformedAroundGood(t *testing.T) {
	broker := testserver.Mosquitto(t)
	srv := testserver.InfluxDB(t, "caretaker")
	writer := newInflux(t, influx.Config{URL: srv.URL, Bucket: "caretaker", FlushInterval: 50 * time.Millisecond, SpoolDir: t.TempDir()})
	sink := &ingesttest.Recorder{}
	p := ingest.NewPipeline(ingest.PipelineConfig{Registry: ingesttest.Registry(t), Writer: writer, Sink: sink, MaxPayload: 1024})
	ingesttest.RunAsync(t, "Pipeline", p.Run)
	gw := mqtt.NewGateway(mqtt.Config{Broker: "tcp://" + broker.Addr, ClientID: "caretaker-e2e", QoS: 1}, p)
	ingesttest.RunAsync(t, "MQTTGateway", gw.Run)
	ingesttest.WaitClosed(t, gw.Ready(), "gateway")

	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	ms := func(d time.Duration) string { return strconv.FormatInt(t0.Add(d).UnixMilli(), 10) }
	gas, ev := "sites/s1/devices/gas-b2-07/telemetry", "sites/s1/devices/el-b1-01/event"
	messages := []struct{ topic, payload string }{
		{gas, `{"ts": ` + ms(0) + `, "metrics": {"lel_pct": 12.5, "fault": false}}`},
		{gas, `{"ts": ` + ms(time.Second) + `, "metrics": {"lel_pct": 13`},                                                // invalid_json
		{gas, `{"ts": ` + ms(2*time.Second) + `, "metrics": {"lel_pct": "high"}}`},                                        // bad_type
		{gas, `{"ts": 99999999999999, "metrics": {"lel_pct": 1}}`},                                                        // future_timestamp
		{"sites/s1/devices/nobody/telemetry", `{"metrics": {"lel_pct": 1}}`},                                              // unknown_device
		{gas, `{"ts": ` + ms(3*time.Second) + `, "metrics": {"lel_pct": 1, "pad": "` + strings.Repeat("x", 2000) + `"}}`}, // oversized
		{gas, `{"ts": "` + t0.Add(4*time.Second).UTC().Format(time.RFC3339Nano) + `", "metrics": {"lel_pct": 35, "bogus_metric": 1}}`},
		{ev, `{"ts": ` + ms(5*time.Second) + `, "event": "entrapment", "active": true}`},
	}
	dev := ingesttest.PahoClient(t, broker.Addr, "device", nil)
	for _, m := range messages {
		ingesttest.Publish(t, dev, m.topic, m.payload)
	}
	ingesttest.WaitFor(t, 10*time.Second, "all messages handled", func() bool { return p.Stats().Received == len(messages) })
	writer.Flush()

	st := p.Stats()
	for _, reason := range []string{ingest.ReasonInvalidJSON, ingest.ReasonBadType, ingest.ReasonFutureTimestamp,
		ingest.ReasonUnknownDevice, ingest.ReasonOversized, ingest.ReasonUnknownMetric} {
		if st.Rejected[reason] != 1 {
			t.Errorf("rejected[%s] = %d, want 1 (all: %v)", reason, st.Rejected[reason], st.Rejected)
		}
	}
	rows := influxRows(t, srv, `SELECT * FROM "gas" GROUP BY *`)
	if len(rows) != 2 {
		t.Fatalf("gas rows = %v, want 2", rows)
	}
	want := []map[string]any{
		{"time": float64(t0.UnixMilli()), "lel_pct": 12.5, "fault": false, "site": "s1", "building": "B2", "device": "gas-b2-07"},
		{"time": float64(t0.Add(4 * time.Second).UnixMilli()), "lel_pct": float64(35), "fault": nil, "site": "s1", "building": "B2", "device": "gas-b2-07"},
	}
	for i, w := range want {
		for k, v := range w {
			if rows[i][k] != v {
				t.Errorf("gas row %d %s = %v, want %v (row %v)", i, k, rows[i][k], v, rows[i])
			}
		}
		if _, ok := rows[i]["bogus_metric"]; ok {
			t.Errorf("an unknown metric reached InfluxDB: %v", rows[i])
		}
	}
	evRows := influxRows(t, srv, `SELECT * FROM "device_event" GROUP BY *`)
	if len(evRows) != 1 || evRows[0]["event"] != "entrapment" || evRows[0]["active"] != true ||
		evRows[0]["time"] != float64(t0.Add(5*time.Second).UnixMilli()) || evRows[0]["building"] != "B1" {
		t.Errorf("event rows = %v", evRows)
	}
	if got := len(sink.Readings()); got != 2 {
		t.Errorf("sink got %d readings, want 2", got)
	}
}

// TestInfluxKeepsImplausibleApart: values a gateway flagged implausible go
// to their own measurement and never come back as readings.
func TestInfluxKeepsImplausibleApart(t *testing.T) {
	srv := testserver.InfluxDB(t, "caretaker")
	writer := newInflux(t, influx.Config{URL: srv.URL, Bucket: "caretaker", FlushInterval: time.Hour})
	reg, err := devices.NewRegistry(devices.Catalog{Devices: []devices.Device{{ID: "pm-1", Kind: devices.KindPower, Site: "s1", Building: "B1"}}})
	if err != nil {
		t.Fatal(err)
	}
	sink := &ingesttest.Recorder{}
	p := ingest.NewPipeline(ingest.PipelineConfig{Registry: reg, Writer: writer, Sink: sink})
	ingesttest.RunAsync(t, "Pipeline", p.Run)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	ctx := context.Background()
	// One poll: a real zero and an implausible frequency; then a poll with
	// nothing plausible at all.
	if err := p.SubmitReading(ctx, devices.Reading{Device: "pm-1", Time: t0, Values: map[string]devices.Value{"power_kw": devices.Num(0)}},
		map[string]float64{"frequency_hz": 5000}); err != nil {
		t.Fatal(err)
	}
	if err := p.SubmitReading(ctx, devices.Reading{Device: "pm-1", Time: t0.Add(time.Second)}, map[string]float64{"frequency_hz": 4999}); err != nil {
		t.Fatal(err)
	}
	if err := p.SubmitStatus(ctx, devices.Status{Device: "pm-1", Time: t0, Online: false, Reason: "timeout"}); err != nil {
		t.Fatal(err)
	}
	sink.WaitStatuses(t, 1)
	writer.Flush()

	rs := sink.Readings()
	if len(rs) != 1 || len(rs[0].Values) != 1 || rs[0].Values["power_kw"] != devices.Num(0) || rs[0].Kind != devices.KindPower {
		t.Errorf("sink readings = %+v, want only the real zero", rs)
	}
	if n := p.Stats().Rejected[ingest.ReasonImplausible]; n != 2 {
		t.Errorf("implausible counted %d times, want 2", n)
	}
	imp := influxRows(t, srv, `SELECT * FROM "implausible" GROUP BY *`)
	if len(imp) != 2 || imp[0]["frequency_hz"] != float64(5000) || imp[0]["device"] != "pm-1" || imp[0]["kind"] != "power" {
		t.Errorf("implausible rows = %v", imp)
	}
	pts, err := writer.Readings(ctx, devices.Query{Device: "pm-1", From: t0, To: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1 || pts[0].Metric != "power_kw" || pts[0].Value != 0 {
		t.Errorf("Readings = %v, want only power_kw 0", pts)
	}
}

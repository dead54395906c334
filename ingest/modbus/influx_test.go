package modbus_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/modbus"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestModbusReadingsLandInInflux: a meter polled from pymodbus ends up in
// InfluxDB as measurement power, tags site/building/device, one field per
// metric, at the poll's time; the implausible value lands apart.
func TestModbusReadingsLandInInflux(t *testing.T) {
	srv := testserver.ModbusServer(t, map[byte]testserver.ModbusUnit{
		1: {Holding: map[uint16]uint16{0: 0x08FD, 2: 0x4148, 3: 0x0000, 4: 0x0001, 5: 0x86A0, 10: 0x459C, 11: 0x4000}, Input: map[uint16]uint16{0: 0xFEA2}},
	})
	db := testserver.InfluxDB(t, "caretaker")
	w, err := influx.Open(influx.Config{URL: db.URL, Bucket: "caretaker", FlushInterval: time.Hour, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	reg, err := devices.NewRegistry(devices.Catalog{
		Models: map[string]devices.Model{"meter": meterModel("big")},
		Devices: []devices.Device{{ID: "pm-b1-01", Kind: devices.KindPower, Site: "s1", Building: "B1", Model: "meter",
			Modbus: &devices.Modbus{Address: "tcp://" + srv.Addr, Unit: 1, Interval: devices.Duration(time.Hour)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := &ingesttest.Recorder{}
	p := ingest.NewPipeline(ingest.PipelineConfig{Registry: reg, Writer: w, Sink: sink})
	ctx, cancel := context.WithCancel(context.Background())
	pipeDone, gwDone := make(chan error, 1), make(chan error, 1)
	go func() { pipeDone <- p.Run(ctx) }()
	go func() { gwDone <- modbus.New(modbus.Config{Registry: reg, Submitter: p}).Run(ctx) }()
	r := sink.Wait(t, 1)[0]
	cancel()
	<-gwDone
	<-pipeDone
	w.Flush()

	raw, err := db.Query(`SELECT * FROM "power" GROUP BY *`)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Results []struct {
			Series []struct {
				Tags    map[string]string `json:"tags"`
				Columns []string          `json:"columns"`
				Values  [][]any           `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil || len(res.Results) == 0 || len(res.Results[0].Series) != 1 ||
		len(res.Results[0].Series[0].Values) != 1 {
		t.Fatalf("power rows: %s (%v)", raw, err)
	}
	s := res.Results[0].Series[0]
	if s.Tags["site"] != "s1" || s.Tags["building"] != "B1" || s.Tags["device"] != "pm-b1-01" {
		t.Errorf("tags = %v", s.Tags)
	}
	row := map[string]any{}
	for i, c := range s.Columns {
		row[c] = s.Values[0][i]
	}
	want := map[string]any{"time": float64(r.Time.UnixMilli()), "voltage_v": 230.1, "power_kw": 12.5, "energy_kwh": float64(100000),
		"current_a": -3.5, "power_factor": float64(0), "frequency_hz": nil}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("power %s = %v, want %v", k, row[k], v)
		}
	}
	imp, err := db.Query(`SELECT frequency_hz FROM "implausible"`)
	if err != nil || !json.Valid([]byte(imp)) || !strings.Contains(imp, "5000") {
		t.Errorf("implausible frequency not stored apart: %s %v", imp, err)
	}
}

package influx_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// influxResult is the 1.x /query answer, with epoch=ms.
type influxResult struct {
	Results []struct {
		Series []struct {
			Name    string            `json:"name"`
			Tags    map[string]string `json:"tags"`
			Columns []string          `json:"columns"`
			Values  [][]any           `json:"values"`
		} `json:"series"`
		Error string `json:"error"`
	} `json:"results"`
}

// influxRows runs an InfluxQL query and returns its rows as column maps.
func influxRows(t *testing.T, srv *testserver.Influx, q string) []map[string]any {
	t.Helper()
	raw, err := srv.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	var res influxResult
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	var rows []map[string]any
	for _, r := range res.Results {
		if r.Error != "" {
			t.Fatalf("query %q: %s", q, r.Error)
		}
		for _, s := range r.Series {
			for _, v := range s.Values {
				row := map[string]any{"_measurement": s.Name}
				for k, tv := range s.Tags {
					row[k] = tv
				}
				for i, c := range s.Columns {
					row[c] = v[i]
				}
				rows = append(rows, row)
			}
		}
	}
	return rows
}

func TestInfluxWriteAndRead(t *testing.T) {
	srv := testserver.InfluxDB(t, "caretaker")
	in := newInflux(t, influx.Config{URL: srv.URL, Bucket: "caretaker", FlushInterval: time.Hour, Logger: ingesttest.Logger(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := in.Ping(ctx); err != nil {
		t.Fatal(err)
	}

	t0 := time.UnixMilli(1795395500123)
	for i, lel := range []float64{12.5, 35} {
		r := devices.Reading{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2",
			Time: t0.Add(time.Duration(i) * time.Second), Received: t0,
			Values: map[string]devices.Value{"lel_pct": devices.Num(lel), "fault": devices.FlagValue(i == 1)}}
		if err := in.WriteReading(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	e := devices.Event{Device: "el-b1-01", Kind: devices.KindElevator, Site: "s1", Building: "B1",
		Time: t0, Name: "entrapment", Active: true}
	if err := in.WriteEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	in.Flush()
	if n := in.WriteErrors(); n != 0 {
		t.Fatalf("%d write errors", n)
	}

	// InfluxQL through the 1.x endpoint: measurement, tags, field types, ms time.
	rows := influxRows(t, srv, `SELECT * FROM "gas" GROUP BY *`)
	if len(rows) != 2 {
		t.Fatalf("gas rows = %v, want 2", rows)
	}
	first := rows[0]
	if first["site"] != "s1" || first["building"] != "B2" || first["device"] != "gas-b2-07" {
		t.Errorf("tags = %v", first)
	}
	if first["time"] != float64(1795395500123) || first["lel_pct"] != 12.5 || first["fault"] != false {
		t.Errorf("first row = %v", first)
	}
	if rows[1]["time"] != float64(1795395501123) || rows[1]["lel_pct"] != float64(35) || rows[1]["fault"] != true {
		t.Errorf("second row = %v", rows[1])
	}
	fieldTypes := influxRows(t, srv, `SHOW FIELD KEYS FROM "gas"`)
	types := map[string]any{}
	for _, r := range fieldTypes {
		types[r["fieldKey"].(string)] = r["fieldType"]
	}
	if types["lel_pct"] != "float" || types["fault"] != "boolean" {
		t.Errorf("field types = %v, want lel_pct float, fault boolean", types)
	}
	ev := influxRows(t, srv, `SELECT * FROM "device_event" GROUP BY *`)
	if len(ev) != 1 || ev[0]["device"] != "el-b1-01" || ev[0]["event"] != "entrapment" || ev[0]["site"] != "s1" ||
		ev[0]["building"] != "B1" || ev[0]["active"] != true || ev[0]["time"] != float64(1795395500123) {
		t.Errorf("event rows = %v", ev)
	}

	// Flux through the 2.x endpoint.
	pts, err := in.Readings(ctx, devices.Query{Device: "gas-b2-07", Kind: devices.KindGas, Metric: "lel_pct",
		From: t0, To: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	want := []devices.Point{{Time: t0, Metric: "lel_pct", Value: 12.5}, {Time: t0.Add(time.Second), Metric: "lel_pct", Value: 35}}
	if !ingesttest.SamePoints(pts, want) {
		t.Errorf("Readings(lel_pct) = %v, want %v", pts, want)
	}
	all, err := in.Readings(ctx, devices.Query{Device: "gas-b2-07", From: t0.Add(time.Millisecond), To: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	want = []devices.Point{{Time: t0.Add(time.Second), Metric: "fault", Value: 1}, {Time: t0.Add(time.Second), Metric: "lel_pct", Value: 35}}
	if !ingesttest.SamePoints(all, want) {
		t.Errorf("Readings(all metrics, from after the first) = %v, want %v", all, want)
	}
	if _, err := in.Readings(ctx, devices.Query{Device: `x") |> drop() //`}); err == nil {
		t.Error("a device id with quotes was accepted into a Flux query")
	}
}

func newInflux(t *testing.T, cfg influx.Config) *influx.Store {
	t.Helper()
	in, err := influx.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Close) // after Run stopped: cleanups run last first
	ingesttest.RunAsync(t, "influx", in.Run)
	return in
}

func TestInfluxWriteErrorsAreCounted(t *testing.T) {
	srv := testserver.InfluxDB(t, "caretaker")
	in := newInflux(t, influx.Config{URL: srv.URL, Bucket: "no_such_db", FlushInterval: time.Hour})
	_ = in.WriteReading(context.Background(), devices.Reading{Device: "d1", Kind: devices.KindGas, Site: "s1",
		Time: time.UnixMilli(1795395500123), Values: map[string]devices.Value{"lel_pct": devices.Num(1)}})
	in.Flush()
	deadline := time.Now().Add(10 * time.Second)
	for in.WriteErrors() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a write to a missing database was not counted as an error")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package influx_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestInfluxReadingsFuncWindows: over a real InfluxDB, ReadingsFunc reads
// a period a window at a time (here seven minutes, values every 7 s so
// every 60th falls on a window's edge) and hands over every value once,
// in time then metric order whatever series it is of, flags as 0 or 1, as
// Readings returns them;
// the value at the end of the period is not one of them (InfluxDB 1.8's
// Flux range includes its stop); an error from fn stops the read and
// comes back as it is.
func TestInfluxReadingsFuncWindows(t *testing.T) {
	srv := testserver.InfluxDB(t, "caretaker")
	in := newInflux(t, influx.Config{URL: srv.URL, Bucket: "caretaker", FlushInterval: time.Hour, ReadWindow: 7 * time.Minute,
		Logger: ingesttest.Logger(t)})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := time.UnixMilli(1795395500123)
	var want []devices.Point
	const n = 600 // 70 minutes
	for i := range n {
		ts := t0.Add(time.Duration(i) * 7 * time.Second)
		building := "B2"
		if i%100 == 50 { // a second series of the same fields, merged in time order
			building = "B9"
		}
		r := devices.Reading{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: building, Time: ts, Received: ts,
			Values: map[string]devices.Value{"lel_pct": devices.Num(float64(i) / 4), "fault": devices.FlagValue(i%3 == 0)}}
		if err := in.WriteReading(ctx, r); err != nil {
			t.Fatal(err)
		}
		f := 0.0
		if i%3 == 0 {
			f = 1
		}
		want = append(want, devices.Point{Time: ts, Metric: "fault", Value: f}, devices.Point{Time: ts, Metric: "lel_pct", Value: float64(i) / 4})
	}
	atEnd := devices.Reading{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Time: t0.Add(n * 7 * time.Second),
		Values: map[string]devices.Value{"lel_pct": devices.Num(-1)}}
	if err := in.WriteReading(ctx, atEnd); err != nil {
		t.Fatal(err)
	}
	other := devices.Reading{Device: "gas-b2-08", Kind: devices.KindGas, Site: "s1", Building: "B2", Time: t0,
		Values: map[string]devices.Value{"lel_pct": devices.Num(99)}}
	if err := in.WriteReading(ctx, other); err != nil {
		t.Fatal(err)
	}
	in.Flush()
	if n := in.WriteErrors(); n != 0 {
		t.Fatalf("%d write errors", n)
	}
	q := devices.Query{Device: "gas-b2-07", Kind: devices.KindGas, From: t0, To: t0.Add(n * 7 * time.Second)}
	var got []devices.Point
	if err := in.ReadingsFunc(ctx, q, func(p devices.Point) error { got = append(got, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if !ingesttest.SamePoints(got, want) {
		t.Errorf("ReadingsFunc gave %d points, want %d:\n%v\nfirst wanted %v", len(got), len(want), got[:min(len(got), 6)], want[:6])
	}
	loaded, err := in.Readings(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if !ingesttest.SamePoints(loaded, want) {
		t.Errorf("Readings gave %d points, want %d", len(loaded), len(want))
	}
	stop := errors.New("enough")
	calls := 0
	err = in.ReadingsFunc(ctx, q, func(devices.Point) error {
		calls++
		if calls == 300 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 300 {
		t.Errorf("after fn's error: err %v, %d calls; want %v after 300", err, calls, stop)
	}
}

package tsdb_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

// TestEmbeddedStoreReadingsFunc: ReadingsFunc hands over what Readings
// returns, in the same order (time, then metric), what is still buffered
// included; an error from fn stops the read and comes back as it is.
func TestEmbeddedStoreReadingsFunc(t *testing.T) {
	st, err := tsdb.Open(filepath.Join(t.TempDir(), "ts.db"), 0, ingesttest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	t0 := time.UnixMilli(1795395500123)
	const n = 2500
	for i := range n {
		r := devices.Reading{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Time: t0.Add(time.Duration(i) * time.Minute),
			Values: map[string]devices.Value{"lel_pct": devices.Num(float64(i)), "co_ppm": devices.Num(float64(2 * i)), "fault": devices.FlagValue(i%3 == 0)}}
		if err := st.WriteReading(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []devices.Query{
		{Device: "gas-b2-07", Kind: devices.KindGas, From: t0, To: t0.Add(n * time.Minute)},
		{Device: "gas-b2-07", Metric: "fault", From: t0.Add(time.Hour), To: t0.Add(20 * time.Hour)},
	} {
		want, err := st.Readings(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var got []devices.Point
		if err := st.ReadingsFunc(ctx, q, func(p devices.Point) error { got = append(got, p); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || !ingesttest.SamePoints(got, want) {
			t.Errorf("%+v: ReadingsFunc gave %d points, Readings %d (or they differ)", q, len(got), len(want))
		}
		for i := 1; i < len(got); i++ {
			if got[i].Time.Before(got[i-1].Time) || got[i].Time.Equal(got[i-1].Time) && got[i].Metric <= got[i-1].Metric {
				t.Fatalf("%+v: point %d %v after %v", q, i, got[i], got[i-1])
			}
		}
	}
	stop := errors.New("enough")
	calls := 0
	err = st.ReadingsFunc(ctx, devices.Query{Device: "gas-b2-07", From: t0, To: t0.Add(n * time.Minute)}, func(devices.Point) error {
		calls++
		if calls == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || calls != 10 {
		t.Errorf("after fn's error: err %v, %d calls; want %v after 10", err, calls, stop)
	}
}

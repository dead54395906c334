package tsdb_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

// TestEmbeddedStoreBytesPerValue: realistic readings (gas detectors
// mostly flat with noise, a meter's voltage and counter, at 10 s to 60 s
// with jitter) take at most 4 bytes a value on disk, fresh rows not yet
// folded included.
func TestEmbeddedStoreBytesPerValue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ts.db")
	st, err := tsdb.Open(path, 0, ingesttest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	t0 := time.UnixMilli(1795395500123)
	const devs, perDev = 40, 1200
	values := 0
	for i := range perDev {
		for d := range devs {
			every := time.Duration(10+50*(d%2)) * time.Second
			at := t0.Add(time.Duration(i)*every + time.Duration(rng.IntN(200))*time.Millisecond)
			var r devices.Reading
			if d%3 != 0 {
				lel := 0.0
				if rng.IntN(10) == 0 {
					lel = math.Round(rng.Float64()*30) / 10
				}
				r = devices.Reading{Device: fmt.Sprintf("gas-%d", d), Kind: devices.KindGas, Site: "s1", Building: "B2", Time: at,
					Values: map[string]devices.Value{"lel_pct": devices.Num(lel), "fault": devices.FlagValue(false)}}
			} else {
				r = devices.Reading{Device: fmt.Sprintf("meter-%d", d), Kind: devices.KindPower, Site: "s1", Building: "B2", Time: at,
					Values: map[string]devices.Value{"volts": devices.Num(math.Round((230+rng.NormFloat64())*10) / 10),
						"kwh": devices.Num(float64(100000+i*3+rng.IntN(2)) / 100)}}
			}
			values += len(r.Values)
			if err := st.WriteReading(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	size := fileSize(t, path)
	per := float64(size) / float64(values)
	t.Logf("%d values in %d bytes: %.2f bytes a value", values, size, per)
	if per > 4 {
		t.Errorf("%.2f bytes a value on disk, want 4 at most", per)
	}
}

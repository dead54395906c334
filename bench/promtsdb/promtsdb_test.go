package promtsdb

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/compression"

	"github.com/caretaker-iot/caretaker/bench/tsdbdata"
)

var (
	nDevices = flag.Int("devices", 50, "devices")
	hours    = flag.Float64("hours", 0.5, "hours of readings")
	walComp  = flag.String("wal-compression", "none", "WAL compression: none (Prometheus's default), snappy or zstd")
)

// TestPromTSDB writes the readings (a commit per 1 000 values, as the
// embedded store batches them), closes the DB, measures its folder, opens
// it again and reads each device's whole period merged in time then
// metric order. Figures are given before and after a compaction of the
// head into a block (Prometheus compacts once the head spans 3 h).
func TestPromTSDB(t *testing.T) {
	devs := tsdbdata.Devices(*nDevices)
	period := time.Duration(*hours * float64(time.Hour))
	dir := t.TempDir()
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = 0
	opts.WALCompression = compression.Type(*walComp)
	ctx := context.Background()
	db, err := tsdb.Open(dir, nil, nil, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	refs := map[[2]string]storage.SeriesRef{}
	app := db.Appender(ctx)
	inBatch, values := 0, 0
	start := time.Now()
	var werr error
	tsdbdata.Each(devs, period, func(i int, at time.Time, vs []float64) {
		if werr != nil {
			return
		}
		d := devs[i]
		for j, m := range d.Metrics {
			k := [2]string{d.ID, m}
			ref, err := app.Append(refs[k], labels.FromStrings("__name__", m, "device", d.ID, "kind", d.Kind, "site", "s1", "building", "B1"), at.UnixMilli(), vs[j])
			if err != nil {
				werr = err
				return
			}
			refs[k] = ref
			values++
			if inBatch++; inBatch == 1000 {
				if werr = app.Commit(); werr != nil {
					return
				}
				app, inBatch = db.Appender(ctx), 0
			}
		}
	})
	if werr != nil {
		t.Fatal(werr)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	wrote := time.Since(start)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before := dirSize(t, dir)
	fmt.Printf("Prometheus TSDB v0.316.0 (WAL compression %s), %d devices, %s: %d values written in %s (%.0f values/s), %d bytes (%.2f bytes a value), WAL and head\n",
		*walComp, *nDevices, period, values, wrote.Round(time.Millisecond), float64(values)/wrote.Seconds(), before, float64(before)/float64(values))

	db, err = tsdb.Open(dir, nil, nil, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	read := func(what string) {
		start := time.Now()
		n := 0
		for _, d := range devs {
			n += readDevice(t, db, d.ID, tsdbdata.Start.UnixMilli(), tsdbdata.Start.Add(period+time.Minute).UnixMilli())
		}
		took := time.Since(start)
		if n != values {
			t.Errorf("%s: %d values read, %d written", what, n, values)
		}
		fmt.Printf("  read %s: %d values in %s (%.0f values/s)\n", what, n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	}
	read("from the head (WAL replayed on open)")
	start = time.Now()
	if err := db.CompactHead(tsdb.NewRangeHead(db.Head(), db.Head().MinTime(), db.Head().MaxTime())); err != nil {
		t.Fatal(err)
	}
	compacted := time.Since(start)
	read("from a block")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	after := dirSize(t, dir)
	fmt.Printf("  compacted in %s: %d bytes (%.2f bytes a value):", compacted.Round(time.Millisecond), after, float64(after)/float64(values))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			fmt.Printf(" %s %d", e.Name(), dirSize(t, filepath.Join(dir, e.Name())))
		}
	}
	fmt.Println()
}

// readDevice reads every series of one device merged in time then metric
// order, as ReadingsFunc hands them over, and counts the values.
func readDevice(t *testing.T, db *tsdb.DB, device string, mint, maxt int64) int {
	q, err := db.Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchEqual, "device", device))
	type head struct {
		it     chunkenc.Iterator
		metric string
		ts     int64
		ok     bool
	}
	var hs []*head
	for ss.Next() {
		s := ss.At()
		h := &head{it: s.Iterator(nil), metric: s.Labels().Get("__name__")}
		if h.ok = h.it.Next() == chunkenc.ValFloat; h.ok {
			h.ts = h.it.AtT()
		}
		hs = append(hs, h)
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	n := 0
	var last int64
	for {
		var m *head
		for _, h := range hs {
			if h.ok && (m == nil || h.ts < m.ts || h.ts == m.ts && h.metric < m.metric) {
				m = h
			}
		}
		if m == nil {
			return n
		}
		ts, _ := m.it.At()
		if ts < last {
			t.Fatalf("%s: %d after %d", device, ts, last)
		}
		last = ts
		n++
		if m.ok = m.it.Next() == chunkenc.ValFloat; m.ok {
			m.ts = m.it.AtT()
		}
	}
}

func dirSize(t *testing.T, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

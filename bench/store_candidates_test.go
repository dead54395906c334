package bench

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/caretaker-iot/caretaker/bench/tsdbdata"
	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

var (
	candDevices = flag.Int("candidates-devices", 0, "devices of TestStoreCandidates (default 1000 with -full, 50 without)")
	candHours   = flag.Float64("candidates-hours", 0, "hours of readings of TestStoreCandidates (default 2 with -full, 0.5 without)")
)

// candidate is one way of keeping readings on disk, measured on the same
// readings: write them all (durable at the end), then read each device's
// whole period back in time order.
type candidate struct {
	name  string
	open  func(t *testing.T, dir string) candidateStore
	files func(dir string) []string // what its disk use is counted from
}

type candidateStore interface {
	write(ctx context.Context, r devices.Reading) error
	close() error
	read(ctx context.Context, q devices.Query, fn func(devices.Point) error) error
}

// candidateFigures is what TestStoreCandidates measures of one candidate.
type candidateFigures struct {
	values                   int
	bytes                    int64
	writeTook, readTook      time.Duration
	readValues               int
	bytesPerValue, writeRate float64
	readRate                 float64
	dir                      string
}

// TestStoreCandidates measures the embedded store's candidates side by
// side on the readings of bench/tsdbdata: bytes a value on disk, values
// written a second (until durable), values read a second through the
// history API's streaming read (ReadingsFunc). Prometheus's TSDB is
// measured by bench/promtsdb, a module of its own (its dependencies stay
// out of Caretaker's go.mod), on the same readings.
//
//	go test ./bench -run TestStoreCandidates -v -args -full
func TestStoreCandidates(t *testing.T) {
	nDev, hours := 50, 0.5
	if *full {
		nDev, hours = 1000, 2
	}
	if *candDevices > 0 {
		nDev = *candDevices
	}
	if *candHours > 0 {
		hours = *candHours
	}
	devs := tsdbdata.Devices(nDev)
	period := time.Duration(hours * float64(time.Hour))
	progressStart = time.Now()
	cands := []candidate{
		{name: "(a) SQLite, a row per value (before)", open: openRowStore, files: sqliteFiles("rows.db")},
		{name: "(c) SQLite, chunks per series (tsdb.Store)", open: openChunkStore, files: sqliteFiles("chunks.db")},
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "candidate\tvalues\tbytes/value\twrite values/s\tread values/s\n")
	var rows candidateFigures
	for i, c := range cands {
		f := measureCandidate(t, c, devs, period)
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.0f\n", c.name, f.values, f.bytesPerValue, f.writeRate, f.readRate)
		if i == 0 {
			rows = f
		}
	}
	tw.Flush()
	// The upgrade: tsdb.Open converts the file of (a).
	path := filepath.Join(rows.dir, "rows.db")
	start := time.Now()
	st, err := tsdb.Open(path, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	n := 0
	for _, d := range devs {
		if err := st.ReadingsFunc(context.Background(), devices.Query{Device: d.ID, From: tsdbdata.Start, To: tsdbdata.Start.Add(period + time.Minute)},
			func(devices.Point) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n != rows.values {
		t.Errorf("upgrade: %d values read from the converted file, %d written", n, rows.values)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var after int64
	for _, p := range sqliteFiles("rows.db")(rows.dir) {
		if fi, err := os.Stat(p); err == nil {
			after += fi.Size()
		}
	}
	fmt.Fprintf(&b, "\nupgrade: (a)'s file converted on open in %s (%.0f values/s), %d -> %d bytes (%.2f bytes a value)\n",
		took.Round(time.Millisecond), float64(rows.values)/took.Seconds(), rows.bytes, after, float64(after)/float64(rows.values))
	fmt.Fprintf(os.Stdout, "\nEmbedded store candidates, %d devices, %s of readings, %s\n\n%s", nDev, period, machine(), b.String())
}

func measureCandidate(t *testing.T, c candidate, devs []tsdbdata.Device, period time.Duration) candidateFigures {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st := c.open(t, dir)
	f := candidateFigures{dir: dir}
	progress("%s: writing", c.name)
	start := time.Now()
	var werr error
	tsdbdata.Each(devs, period, func(i int, at time.Time, vs []float64) {
		if werr != nil {
			return
		}
		d := devs[i]
		r := devices.Reading{Device: d.ID, Kind: devices.Kind(d.Kind), Site: "s1", Building: "B1", Time: at, Values: make(map[string]devices.Value, len(vs))}
		for j, m := range d.Metrics {
			r.Values[m] = devices.Num(vs[j])
		}
		f.values += len(vs)
		werr = st.write(ctx, r)
	})
	if werr != nil {
		t.Fatalf("%s: write: %v", c.name, werr)
	}
	if err := st.close(); err != nil {
		t.Fatalf("%s: close: %v", c.name, err)
	}
	f.writeTook = time.Since(start)
	for _, p := range c.files(dir) {
		if fi, err := os.Stat(p); err == nil {
			f.bytes += fi.Size()
		}
	}
	progress("%s: %d values written in %s, %d bytes; reading", c.name, f.values, f.writeTook.Round(time.Millisecond), f.bytes)
	st = c.open(t, dir)
	defer st.close()
	start = time.Now()
	for _, d := range devs {
		q := devices.Query{Device: d.ID, From: tsdbdata.Start, To: tsdbdata.Start.Add(period + time.Minute)}
		var last time.Time
		if err := st.read(ctx, q, func(p devices.Point) error {
			if p.Time.Before(last) {
				return fmt.Errorf("%s: %v after %v", d.ID, p.Time, last)
			}
			last = p.Time
			f.readValues++
			return nil
		}); err != nil {
			t.Fatalf("%s: read: %v", c.name, err)
		}
	}
	f.readTook = time.Since(start)
	if f.readValues != f.values {
		t.Errorf("%s: %d values read back, %d written", c.name, f.readValues, f.values)
	}
	f.bytesPerValue = float64(f.bytes) / float64(f.values)
	f.writeRate = float64(f.values) / f.writeTook.Seconds()
	f.readRate = float64(f.readValues) / f.readTook.Seconds()
	progress("%s: %.2f bytes a value, %.0f values/s written, %.0f values/s read", c.name, f.bytesPerValue, f.writeRate, f.readRate)
	return f
}

func sqliteFiles(name string) func(dir string) []string {
	return func(dir string) []string {
		p := filepath.Join(dir, name)
		return []string{p, p + "-wal"}
	}
}

// chunkStore is the embedded store as it is.
type chunkStore struct{ st *tsdb.Store }

func openChunkStore(t *testing.T, dir string) candidateStore {
	st, err := tsdb.Open(filepath.Join(dir, "chunks.db"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return chunkStore{st}
}

func (c chunkStore) write(ctx context.Context, r devices.Reading) error {
	return c.st.WriteReading(ctx, r)
}
func (c chunkStore) close() error { return c.st.Close() }
func (c chunkStore) read(ctx context.Context, q devices.Query, fn func(devices.Point) error) error {
	return c.st.ReadingsFunc(ctx, q, fn)
}

// rowStore is the embedded store before chunks, as it wrote and read: a
// row per value with two indexes, a transaction per 1 000 rows, WAL with
// synchronous NORMAL.
type rowStore struct {
	db  *sql.DB
	buf []rowValue
}

type rowValue struct {
	ms                                   int64
	device, kind, site, building, metric string
	value                                float64
}

const rowSchema = `
CREATE TABLE IF NOT EXISTS readings (ts_ms INTEGER NOT NULL, device TEXT NOT NULL, kind TEXT NOT NULL, site TEXT NOT NULL,
	building TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, is_flag INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS readings_device_metric_ts ON readings (device, metric, ts_ms);
CREATE INDEX IF NOT EXISTS readings_ts ON readings (ts_ms);`

func openRowStore(t *testing.T, dir string) candidateStore {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "rows.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(rowSchema); err != nil {
		t.Fatal(err)
	}
	return &rowStore{db: db}
}

func (s *rowStore) write(ctx context.Context, r devices.Reading) error {
	for m, v := range r.Values {
		s.buf = append(s.buf, rowValue{r.Time.UnixMilli(), r.Device, string(r.Kind), r.Site, r.Building, m, v.Float()})
	}
	if len(s.buf) >= 1000 {
		return s.flush(ctx)
	}
	return nil
}

func (s *rowStore) flush(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	st, err := tx.PrepareContext(ctx, `INSERT INTO readings (ts_ms, device, kind, site, building, metric, value, is_flag) VALUES (?, ?, ?, ?, ?, ?, ?, 0)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, v := range s.buf {
		if _, err := st.ExecContext(ctx, v.ms, v.device, v.kind, v.site, v.building, v.metric, v.value); err != nil {
			return err
		}
	}
	s.buf = s.buf[:0]
	return tx.Commit()
}

func (s *rowStore) close() error {
	err := s.flush(context.Background())
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *rowStore) read(ctx context.Context, q devices.Query, fn func(devices.Point) error) error {
	rows, err := s.db.QueryContext(ctx, `SELECT ts_ms, metric, value FROM readings WHERE device = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, metric`,
		q.Device, q.From.UnixMilli(), q.To.UnixMilli())
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		ms     int64
		metric sql.RawBytes
		p      devices.Point
		names  []string
	)
	for rows.Next() {
		if err := rows.Scan(&ms, &metric, &p.Value); err != nil {
			return err
		}
		p.Metric = ""
		for _, n := range names {
			if n == string(metric) {
				p.Metric = n
				break
			}
		}
		if p.Metric == "" {
			p.Metric = string(metric)
			names = append(names, p.Metric)
		}
		p.Time = time.UnixMilli(ms)
		if err := fn(p); err != nil {
			return err
		}
	}
	return rows.Err()
}

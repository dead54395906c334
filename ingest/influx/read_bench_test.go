package influx

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

var (
	readDevices = flag.Int("read-devices", 20, "BenchmarkReadPaths: gas detectors stored")
	readDays    = flag.Int("read-days", 30, "BenchmarkReadPaths: days of one-minute readings per detector")
)

// BenchmarkReadPaths reads the same month of one-minute readings of
// -read-devices detectors from a real InfluxDB 1.8, GOMAXPROCS devices at
// once as a backtest does, through each candidate read path, and reports
// the values read per second (the read alone: nothing is done with them).
//
//	go test -run '^$' -bench BenchmarkReadPaths -benchtime 1x ./ingest/influx/
func BenchmarkReadPaths(b *testing.B) {
	srv := testserver.InfluxDB(b, "bench")
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	minutes := *readDays * 24 * 60
	loadBench(b, srv.URL, *readDevices, minutes, start)
	end := start.Add(time.Duration(minutes) * time.Minute)
	week := 7 * 24 * time.Hour
	newStore := func(window time.Duration) *Store {
		in, err := Open(Config{URL: srv.URL, Bucket: "bench", ReadWindow: window})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(in.Close)
		return in
	}
	ids := make([]string, *readDevices)
	for i := range ids {
		ids[i] = fmt.Sprintf("bt-gas-%06d", i)
	}
	query := func(dev string) devices.Query {
		return devices.Query{Device: dev, Kind: devices.KindGas, Metric: "lel_pct", From: start, To: end}
	}
	type reader func(ctx context.Context, dev string, n *int64) error
	count := func(n *int64) func(devices.Point) error {
		return func(devices.Point) error { *n++; return nil }
	}
	// qlWindows reads a device a window at a time with decode over the
	// answer to send(stmt, accept).
	qlWindows := func(in *Store, window time.Duration, accept string,
		decode func(*bufio.Reader, func(string, devices.Point) error) error) reader {
		return func(ctx context.Context, dev string, n *int64) error {
			for from := start; from.Before(end); from = from.Add(window) {
				wq := query(dev)
				wq.From, wq.To = from, earlier(from.Add(window), end)
				resp, err := in.ql.send(ctx, qlSelect(wq), accept)
				if err != nil {
					return err
				}
				err = decode(bufio.NewReaderSize(resp.Body, 64<<10), func(string, devices.Point) error { *n++; return nil })
				resp.Body.Close()
				if err != nil {
					return err
				}
			}
			return nil
		}
	}
	flux7, ql7, ql30 := newStore(week), newStore(week), newStore(end.Sub(start))
	candidates := []struct {
		name string
		read reader
	}{
		{"flux-csv/7d", func(ctx context.Context, dev string, n *int64) error { return flux7.readFlux(ctx, query(dev), count(n)) }},
		{"influxql-json/7d", qlWindows(ql7, week, "application/json", decodeQLJSON)},
		{"influxql-csv/7d", qlWindows(ql7, week, "application/csv", decodeQLCSV)},
		{"influxql-msgpack/7d", qlWindows(ql7, week, "application/x-msgpack", decodeQLMsgpack)},
		{"influxql-msgpack/30d", qlWindows(ql30, end.Sub(start), "application/x-msgpack", decodeQLMsgpack)},
		{"influxql-msgpack/7d-prefetch", prefetchReader(ql7, week, start, end, query)},
		{"ReadingsFunc/7d", func(ctx context.Context, dev string, n *int64) error { return ql7.ReadingsFunc(ctx, query(dev), count(n)) }},
		{"ReadingsFunc/30d", func(ctx context.Context, dev string, n *int64) error { return ql30.ReadingsFunc(ctx, query(dev), count(n)) }},
	}
	want := int64(*readDevices * minutes)
	for _, c := range candidates {
		b.Run(c.name, func(b *testing.B) {
			var total int64
			var elapsed time.Duration
			for b.Loop() {
				t0 := time.Now()
				n := readAll(b, ids, c.read)
				elapsed += time.Since(t0)
				if n != want {
					b.Fatalf("read %d values, want %d", n, want)
				}
				total += n
			}
			b.ReportMetric(float64(total)/elapsed.Seconds(), "readings/s")
		})
	}
	// Several devices in one query (GROUP BY device): the read alone.
	b.Run("influxql-msgpack/7d-10-devices-a-query", func(b *testing.B) {
		var total int64
		var elapsed time.Duration
		for b.Loop() {
			t0 := time.Now()
			var groups [][]string
			for i := 0; i < len(ids); i += 10 {
				groups = append(groups, ids[i:min(i+10, len(ids))])
			}
			var n atomic.Int64
			var next atomic.Int64
			var wg sync.WaitGroup
			for range runtime.GOMAXPROCS(0) {
				wg.Go(func() {
					for {
						g := int(next.Add(1) - 1)
						if g >= len(groups) {
							return
						}
						var c int64
						for from := start; from.Before(end); from = from.Add(week) {
							var or []string
							for _, d := range groups[g] {
								or = append(or, `"device" = `+quoteString(d))
							}
							stmt := fmt.Sprintf(`SELECT "lel_pct"::field FROM "gas" WHERE (%s) AND time >= %d AND time < %d GROUP BY "device"`,
								strings.Join(or, " OR "), from.UnixNano(), earlier(from.Add(week), end).UnixNano())
							resp, err := ql7.ql.send(context.Background(), stmt, "")
							if err != nil {
								b.Error(err)
								return
							}
							err = decodeQLMsgpack(bufio.NewReaderSize(resp.Body, 64<<10), func(string, devices.Point) error { c++; return nil })
							resp.Body.Close()
							if err != nil {
								b.Error(err)
								return
							}
						}
						n.Add(c)
					}
				})
			}
			wg.Wait()
			elapsed += time.Since(t0)
			if n.Load() != want {
				b.Fatalf("read %d values, want %d", n.Load(), want)
			}
			total += n.Load()
		}
		b.ReportMetric(float64(total)/elapsed.Seconds(), "readings/s")
	})
}

// readAll reads every device, GOMAXPROCS at once, and returns the values
// read.
func readAll(b *testing.B, ids []string, read func(context.Context, string, *int64) error) int64 {
	var next, total atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				var n int64
				if err := read(context.Background(), ids[i], &n); err != nil {
					b.Error(err)
					return
				}
				total.Add(n)
			}
		})
	}
	wg.Wait()
	return total.Load()
}

// prefetchReader reads window k+1's answer whole into memory while
// window k is decoded.
func prefetchReader(in *Store, window time.Duration, start, end time.Time, query func(string) devices.Query) func(context.Context, string, *int64) error {
	return func(ctx context.Context, dev string, n *int64) error {
		type answer struct {
			body []byte
			err  error
		}
		fetch := func(from time.Time) chan answer {
			ch := make(chan answer, 1)
			go func() {
				wq := query(dev)
				wq.From, wq.To = from, earlier(from.Add(window), end)
				resp, err := in.ql.send(ctx, qlSelect(wq), "")
				if err != nil {
					ch <- answer{err: err}
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				ch <- answer{body, err}
			}()
			return ch
		}
		cur := fetch(start)
		for from := start; from.Before(end); from = from.Add(window) {
			a := <-cur
			if a.err != nil {
				return a.err
			}
			if nf := from.Add(window); nf.Before(end) {
				cur = fetch(nf)
			}
			if err := decodeQLMsgpack(bufio.NewReader(bytes.NewReader(a.body)), func(string, devices.Point) error { *n++; return nil }); err != nil {
				return err
			}
		}
		return nil
	}
}

// decodeQLCSV reads 1.8's CSV answer (name,tags,time,columns...; a header
// again where the columns change). It does not tell a string from a
// number or a boolean, so the reader does not use it.
func decodeQLCSV(rd *bufio.Reader, fn func(string, devices.Point) error) error {
	var cols []string
	for {
		line, err := rd.ReadSlice('\n')
		if err != nil && err != io.EOF {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) > 0 {
			fields := bytes.Split(line, []byte(","))
			if bytes.HasPrefix(line, []byte("name,tags,")) {
				cols = cols[:0]
				for _, f := range fields {
					cols = append(cols, string(f))
				}
			} else if len(fields) == len(cols) && len(cols) > 3 {
				ns, perr := strconv.ParseInt(string(fields[2]), 10, 64)
				if perr != nil {
					return fmt.Errorf("csv: time %q", fields[2])
				}
				ts := time.Unix(0, ns).UTC()
				for i := 3; i < len(fields); i++ {
					var v float64
					switch f := fields[i]; string(f) {
					case "":
						continue
					case "true":
						v = 1
					case "false":
						v = 0
					default:
						x, perr := strconv.ParseFloat(string(f), 64)
						if perr != nil {
							continue
						}
						v = x
					}
					if err := fn(string(fields[0]), devices.Point{Time: ts, Metric: cols[i], Value: v}); err != nil {
						return err
					}
				}
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// loadBench writes the readings through the 1.x /write endpoint.
func loadBench(b *testing.B, base string, nDev, minutes int, start time.Time) {
	b.Helper()
	post := func(body []byte) {
		resp, err := http.Post(base+"/write?db=bench&precision=s", "text/plain", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			b.Fatalf("write: %s: %s", resp.Status, msg)
		}
	}
	var buf bytes.Buffer
	for dev := range nDev {
		for i := range minutes {
			v := 2 + float64((dev*7+i)%200)/100
			fmt.Fprintf(&buf, "gas,building=B%d,device=bt-gas-%06d,site=s1 lel_pct=%g %d\n", dev%8+1, dev, v,
				start.Add(time.Duration(i)*time.Minute).Unix())
			if buf.Len() > 4<<20 {
				post(buf.Bytes())
				buf.Reset()
			}
		}
	}
	if buf.Len() > 0 {
		post(buf.Bytes())
	}
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

package influx

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

var (
	readDevices = flag.Int("read-devices", 20, "BenchmarkReadPaths: gas detectors stored")
	readDays    = flag.Int("read-days", 30, "BenchmarkReadPaths: days of one-minute readings per detector")
	readRounds  = flag.Int("read-rounds", 3, "BenchmarkReadPaths: rounds of every candidate in turn")
)

// BenchmarkReadPaths reads the same month of one-minute readings of
// -read-devices detectors from a real InfluxDB 1.8, GOMAXPROCS devices at
// once as a backtest does, through each candidate read path, and reports
// the values read per second (the read alone: nothing is done with them).
//
//	go test ./ingest/influx/ -run '^$' -bench BenchmarkReadPaths -benchtime 1x -v \
//	  -args -read-devices 20 -read-days 30 -read-rounds 3
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
	qlWindows := func(r *qlReader, window time.Duration, accept string,
		decode func(*bufio.Reader, func(string, devices.Point) error) error) reader {
		return func(ctx context.Context, dev string, n *int64) error {
			for from := start; from.Before(end); from = from.Add(window) {
				wq := query(dev)
				wq.From, wq.To = from, earlier(from.Add(window), end)
				resp, err := r.send(ctx, qlSelect(wq), accept)
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
		{"flux-csv/7d", func(ctx context.Context, dev string, n *int64) error {
			return flux7.readFlux(ctx, query(dev), count(n))
		}},
		{"influxql-json/7d", qlWindows(ql7.ql, week, "application/json", decodeQLJSON)},
		{"influxql-csv/7d", qlWindows(ql7.ql, week, "application/csv", decodeQLCSV)},
		{"influxql-msgpack/7d", qlWindows(ql7.ql, week, "application/x-msgpack", decodeQLMsgpack)},
		{"influxql-msgpack/30d", qlWindows(ql30.ql, end.Sub(start), "application/x-msgpack", decodeQLMsgpack)},
		{"influxql-msgpack/7d-prefetch", prefetchReader(ql7, week, start, end, query)},
		{"influxql-msgpack/7d-unchunked", qlWindows(withURL(ql7, "chunked=true", "chunked=false"), week, "", decodeQLMsgpack)},
		{"influxql-msgpack/7d-chunks-of-50000", qlWindows(withURL(ql7, "chunk_size=10000", "chunk_size=50000"), week, "", decodeQLMsgpack)},
		{"ReadingsFunc/7d", func(ctx context.Context, dev string, n *int64) error {
			return ql7.ReadingsFunc(ctx, query(dev), count(n))
		}},
		{"ReadingsFunc/30d", func(ctx context.Context, dev string, n *int64) error {
			return ql30.ReadingsFunc(ctx, query(dev), count(n))
		}},
	}
	// Several devices in one query (GROUP BY device), the read alone.
	grouped := func(ctx context.Context, group []string, n *int64) error {
		for from := start; from.Before(end); from = from.Add(week) {
			var or []string
			for _, d := range group {
				or = append(or, `"device" = `+quoteString(d))
			}
			stmt := fmt.Sprintf(`SELECT "lel_pct"::field FROM "gas" WHERE (%s) AND time >= %d AND time < %d GROUP BY "device"`,
				strings.Join(or, " OR "), from.UnixNano(), earlier(from.Add(week), end).UnixNano())
			resp, err := ql7.ql.send(ctx, stmt, "")
			if err != nil {
				return err
			}
			err = decodeQLMsgpack(bufio.NewReaderSize(resp.Body, 64<<10), func(string, devices.Point) error { *n++; return nil })
			resp.Body.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	var groups []string // "a,b,c": ten devices a query
	for i := 0; i < len(ids); i += 10 {
		groups = append(groups, strings.Join(ids[i:min(i+10, len(ids))], ","))
	}
	candidates = append(candidates, struct {
		name string
		read reader
	}{"influxql-msgpack/7d-10-devices-a-query", func(ctx context.Context, g string, n *int64) error {
		return grouped(ctx, strings.Split(g, ","), n)
	}})

	// Rounds of every candidate in turn, so that the machine's load falls
	// on all alike; the median round of each is reported, with the CPU of
	// InfluxDB and of this process per value read.
	want := int64(*readDevices * minutes)
	rounds := max(*readRounds, 1)
	type result struct{ rate, serverUS, clientUS []float64 }
	res := make([]result, len(candidates))
	pid := srv.PID()
	for b.Loop() {
		for range rounds {
			for i, c := range candidates {
				keys := ids
				if strings.HasSuffix(c.name, "a-query") {
					keys = groups
				}
				s0, _ := procCPUTime(pid)
				c0 := selfCPU()
				t0 := time.Now()
				n := readAll(b, keys, c.read)
				el := time.Since(t0)
				s1, _ := procCPUTime(pid)
				c1 := selfCPU()
				if n != want {
					b.Fatalf("%s: read %d values, want %d", c.name, n, want)
				}
				res[i].rate = append(res[i].rate, float64(n)/el.Seconds())
				res[i].serverUS = append(res[i].serverUS, float64((s1-s0).Microseconds())/float64(n))
				res[i].clientUS = append(res[i].clientUS, float64((c1-c0).Microseconds())/float64(n))
			}
		}
	}
	b.Logf("%d devices x %d days = %d values, %d rounds, load average %s", *readDevices, *readDays, want, rounds, loadAvg())
	b.Logf("%-42s %12s %12s %12s %14s %14s", "candidate", "median/s", "min/s", "max/s", "InfluxDB us/v", "Caretaker us/v")
	for i, c := range candidates {
		r := res[i]
		b.Logf("%-42s %12.0f %12.0f %12.0f %14.2f %14.2f", c.name, median(r.rate), slices.Min(r.rate), slices.Max(r.rate),
			median(r.serverUS), median(r.clientUS))
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// selfCPU is the user+system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPUTime is the user+system CPU time of process pid so far (USER_HZ
// 100).
func procCPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
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

// withURL is in's InfluxQL reader with old replaced by new in its URL.
func withURL(in *Store, old, new string) *qlReader {
	r := *in.ql
	r.url = strings.Replace(r.url, old, new, 1)
	return &r
}

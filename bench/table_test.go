package bench

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

var (
	full       = flag.Bool("full", false, "run the benchmark table at full size (200 000 readings, 100 000 devices, 500 WebSocket clients, 1 000 Modbus devices); without it a quick smoke run")
	profileOut = flag.String("profile", "", "write a CPU profile of Caretaker during the end-to-end ingest run (mosquitto) to this file (and of the screens part to this file.ws)")
	only       = flag.String("only", "", "comma-separated parts to run: ingest, telegraf (the mosquitto ingest run and Telegraf's only), latency, devices, ws, modbus, paging, page (the control room in Chromium), cluster, backtest (default all)")
)

// sizes is how big each part of the table is.
type sizes struct {
	Readings, Devices, Conns, InFlight int
	LatencyFor                         time.Duration
	ScaleDevices                       int
	WSClients, WSDevices               int
	IdleClients                        int // phones with a page open, quiet
	WSRate                             float64
	WSFor                              time.Duration
	ModbusDevices                      int
	ModbusFor                          time.Duration
}

func sizesFor(full bool) sizes {
	if full {
		return sizes{Readings: 200000, Devices: 1000, Conns: 4, InFlight: 500, LatencyFor: 20 * time.Second,
			ScaleDevices: 100000, WSClients: 500, WSDevices: 10, WSRate: 1000, WSFor: 10 * time.Second, IdleClients: 1000,
			ModbusDevices: 1000, ModbusFor: 20 * time.Second}
	}
	return sizes{Readings: 5000, Devices: 100, Conns: 2, InFlight: 200, LatencyFor: 3 * time.Second,
		ScaleDevices: 2000, WSClients: 20, WSDevices: 5, WSRate: 100, WSFor: 2 * time.Second, IdleClients: 50,
		ModbusDevices: 30, ModbusFor: 3 * time.Second}
}

// row is one figure of the table.
type row struct {
	Part, Figure, Value, Ratio, Target, Verdict string
}

// table collects the figures and prints them at the end.
type table struct {
	mu   sync.Mutex
	rows []row
}

func (tb *table) add(r row) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.rows = append(tb.rows, r)
	progress("  %-34s %s %s", r.Figure, r.Value, r.Ratio)
}

func (tb *table) print(w io.Writer) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "part\tfigure\tvalue\tratio\ttarget\tmet")
	fmt.Fprintln(tw, "----\t------\t-----\t-----\t------\t---")
	for _, r := range tb.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Part, r.Figure, r.Value, r.Ratio, r.Target, r.Verdict)
	}
	tw.Flush()
}

// verdict words a target check.
func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}

var progressStart = time.Now()

// progress prints a line while the benchmark runs (stderr, so it shows
// even when go test buffers the test's output).
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %6.1fs] %s\n", time.Since(progressStart).Seconds(), fmt.Sprintf(format, args...))
}

// benchEnv is what the parts share.
type benchEnv struct {
	sz     sizes
	influx *testserver.Influx
	tb     *table
	// ceiling is the bare subscriber's rate: every other rate is a ratio
	// to it.
	ceiling float64
	// external is the mosquitto + Caretaker result, for the embedded
	// broker's ratios.
	external ingestResult
}

// TestBenchTable is the benchmark table of docs/benchmarks.md. Without
// -full it is a quick smoke run of the same harness (CI runs it so the
// harness cannot rot); it fails only on correctness (a reading missing
// from InfluxDB, an alarm or ticket that never came), never on speed.
//
//	go test ./bench -run TestBenchTable -v -timeout 60m -args -full
func TestBenchTable(t *testing.T) {
	if testing.Short() && !*full {
		t.Skip("the benchmark smoke run starts several servers; skipped with -short")
	}
	sz := sizesFor(*full)
	parts := map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		if p = strings.TrimSpace(p); p != "" {
			parts[p] = true
		}
	}
	want := func(p string) bool { return len(parts) == 0 || parts[p] }
	progressStart = time.Now()
	mode := "quick (smoke run; -full for the real figures)"
	if *full {
		mode = "full"
	}
	progress("benchmark table, %s: building caretaker, starting InfluxDB", mode)
	caretakerBinary(t)
	env := &benchEnv{sz: sz, influx: testserver.InfluxDB(t, "bench"), tb: &table{}}

	if want("ingest") || want("telegraf") || want("latency") || want("paging") {
		env.ceiling = benchCeiling(t, env)
	}
	if want("ingest") || want("telegraf") {
		env.external = benchIngest(t, env, false)
		if *full && *telegraf {
			compareTelegraf(env, env.external, benchTelegraf(t, env, *telegrafPersistent))
		}
	}
	if want("ingest") {
		benchIngest(t, env, true)
		benchEmbeddedStore(t, env)
	}
	if want("latency") {
		benchLatency(t, env, false)
		benchLatency(t, env, true)
	}
	if want("devices") {
		benchDevices(t, env)
	}
	if want("ws") {
		benchWebSockets(t, env)
	}
	if want("modbus") {
		benchModbus(t, env)
	}
	if want("paging") {
		benchPaging(t, env)
	}
	if want("page") {
		benchPage(t, env)
	}
	if want("cluster") {
		benchCluster(t, env)
	}
	if want("backtest") {
		benchBacktest(t, env)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "\nCaretaker benchmark (%s), %s\n\n", mode, machine())
	env.tb.print(&b)
	fmt.Fprint(os.Stdout, b.String())
	t.Log(b.String())
}

// machine describes where the figures come from.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				_, cpu, _ = strings.Cut(line, ": ")
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs (%s), %s", numCPU(), cpu, time.Now().Format("2006-01-02"))
}

// percentile of sorted durations, p in 0..100.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(float64(len(d)-1) * p / 100)
	return d[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

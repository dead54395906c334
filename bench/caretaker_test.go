package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// benchToken is the operator token of every Caretaker the harness starts.
const benchToken = "bench-operator-0123456789"

// The embedded broker's shared device credential (mqtt.username) of the
// benchmarks; the publishers send it to mosquitto too, which ignores it.
const (
	benchMQTTUser     = "bench-devices"
	benchMQTTPassword = "bench-devices-password"
)

// caretakerBinary builds cmd/caretaker once per run, so that Caretaker
// runs as a process of its own whose CPU time and memory can be read from
// /proc. With -profile the build includes the pprof listener.
func caretakerBinary(t testing.TB) string {
	t.Helper()
	if *profileOut != "" {
		return testkit.CaretakerBinary(t, "benchpprof")
	}
	return testkit.CaretakerBinary(t)
}

// caretakerOptions is what one Caretaker of the benchmark is given.
type caretakerOptions struct {
	Broker   string // tcp://host:port of mosquitto; empty: embedded broker
	Influx   string // InfluxDB URL
	Bucket   string
	ClientID string
	Devices  func(w io.Writer) // writes the entries of devices_file's devices list
	Extra    string            // more top-level YAML
	StoreURL string            // store.url (PostgreSQL), for a cluster
	Env      []string          // more environment, e.g. CARETAKER_MQTT_CLUSTER_KEY
}

// benchCaretaker is a running `caretaker serve` (a testkit.Caretaker) and
// where it listens.
type benchCaretaker struct {
	*testkit.Caretaker
	HTTP string // host:port of the API and /ws
	MQTT string // host:port of the embedded broker, if any
	// Startup is from the process's start to its first answer on /readyz.
	Startup time.Duration
	PProf   string // host:port of the pprof listener (built with -profile)
	dir     string
}

// startCaretaker writes a configuration and a devices file and runs
// `caretaker serve` until it answers /readyz (or the test ends).
func startCaretaker(t testing.TB, o caretakerOptions) *benchCaretaker {
	t.Helper()
	bin := caretakerBinary(t)
	dir := t.TempDir()
	c := &benchCaretaker{dir: dir, HTTP: fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))}
	f, err := os.Create(filepath.Join(dir, "devices.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "devices:")
	if o.Devices != nil {
		o.Devices(w)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	mqtt := fmt.Sprintf(`{broker: %q, client_id: %s}`, o.Broker, o.ClientID)
	if o.Broker == "" {
		c.MQTT = fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
		mqtt = fmt.Sprintf(`{embedded: true, embedded_listen: %q, client_id: %s, username: %s, password: %s}`, c.MQTT, o.ClientID, benchMQTTUser, benchMQTTPassword)
	}
	// One token stands for every screen and phone of the benchmark: its
	// WebSocket allowance is that of them all.
	cfg := fmt.Sprintf(`http: {listen: %q, ws_per_token: 2000}
mqtt: %s
influx: {url: %q, bucket: %s, spool_dir: %q}
store: {path: %q, readings_path: %q, photos_dir: %q%s}
auth: {tokens: [{name: bench, role: operator, token: %s}]}
devices_file: %q
%s
`, c.HTTP, mqtt, o.Influx, o.Bucket, filepath.Join(dir, "spool"), filepath.Join(dir, "caretaker.db"),
		filepath.Join(dir, "readings.db"), filepath.Join(dir, "photos"), storeURL(o.StoreURL), benchToken, filepath.Join(dir, "devices.yaml"), o.Extra)
	cfgPath := filepath.Join(dir, "caretaker.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Caretaker = testkit.NewCaretaker(t, bin, cfgPath, filepath.Join(dir, "caretaker.log"))
	if *profileOut != "" {
		c.PProf = fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
		c.Env = []string{"BENCH_PPROF_LISTEN=" + c.PProf}
	}
	c.Env = append(c.Env, o.Env...)
	began := time.Now()
	c.Start()
	c.WaitReady("http://"+c.HTTP, 120*time.Second)
	c.Startup = time.Since(began)
	return c
}

func storeURL(u string) string {
	if u == "" {
		return ""
	}
	return fmt.Sprintf(", url: %q", u)
}

// Stop ends Caretaker with SIGTERM (SIGKILL after 30 s) and waits.
func (c *benchCaretaker) Stop() { c.Caretaker.Stop(30 * time.Second) }

// metric sums the samples of a Prometheus series on /metrics (all label
// sets); -1 when it cannot be read.
func (c *benchCaretaker) metric(name string) float64 {
	m, err := testkit.Scrape("http://" + c.HTTP + "/metrics")
	if err != nil {
		return -1
	}
	return m.Sum(name)
}

// latencyStats are the mean (and the bucket of the 99th percentile)
// reading -> alarm and alarm -> ticket times Caretaker measured itself
// (progress lines, to see where time goes).
func (c *benchCaretaker) latencyStats() string {
	m, err := testkit.Scrape("http://" + c.HTTP + "/metrics")
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, name := range []string{"caretaker_alarm_decision_seconds", "caretaker_alarm_handoff_seconds", "caretaker_ticket_create_seconds", "caretaker_influx_journal_sync_duration_seconds"} {
		n, sum := 0.0, 0.0
		var h99 float64 // the upper bound of the bucket holding the 99th percentile (one histogram)
		if f, ok := m[name]; ok {
			for _, s := range f.GetMetric() {
				if h := s.GetHistogram(); h != nil {
					n += float64(h.GetSampleCount())
					sum += h.GetSampleSum()
					for _, bk := range h.GetBucket() {
						if float64(bk.GetCumulativeCount()) >= 0.99*float64(h.GetSampleCount()) {
							h99 = bk.GetUpperBound()
							break
						}
					}
				}
			}
		}
		if n > 0 {
			fmt.Fprintf(&b, "%s mean %.1f ms, p99 <= %.0f ms (%0.f); ", strings.TrimPrefix(name, "caretaker_"), sum/n*1000, h99*1000, n)
		}
	}
	return b.String()
}

// writeStats are the InfluxDB writer's requests so far: how many, their
// mean points and mean duration (progress lines, to see the write path).
func (c *benchCaretaker) writeStats() string {
	m, err := testkit.Scrape("http://" + c.HTTP + "/metrics")
	if err != nil {
		return err.Error()
	}
	mean := func(name string) (n uint64, avg float64) {
		f, ok := m[name]
		if !ok {
			return 0, 0
		}
		for _, s := range f.GetMetric() {
			if h := s.GetHistogram(); h != nil && h.GetSampleCount() > 0 {
				n += h.GetSampleCount()
				avg += h.GetSampleSum()
			}
		}
		if n > 0 {
			avg /= float64(n)
		}
		return n, avg
	}
	n, pts := mean("caretaker_influx_batch_points")
	_, secs := mean("caretaker_influx_write_duration_seconds")
	return fmt.Sprintf("%d write requests, %.0f points and %.1f ms each on average", n, pts, secs*1000)
}

// gasDevices writes n gas detectors, ids prefix + 6 digits from first.
func gasDevices(prefix string, first, n int) func(w io.Writer) {
	return func(w io.Writer) {
		for i := first; i < first+n; i++ {
			fmt.Fprintf(w, "  - {id: %s%06d, kind: gas, site: s1, building: B%d}\n", prefix, i, i%8+1)
		}
	}
}

func both(fs ...func(w io.Writer)) func(w io.Writer) {
	return func(w io.Writer) {
		for _, f := range fs {
			f(w)
		}
	}
}

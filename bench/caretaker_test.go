package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// benchToken is the operator token of every Caretaker the harness starts.
const benchToken = "bench-operator-0123456789"

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// caretakerBinary builds cmd/caretaker once per run with go build, so that
// Caretaker runs as a process of its own whose CPU time and memory can be
// read from /proc. With -profile the build includes the pprof listener.
func caretakerBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "caretaker-bench-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "caretaker")
		args := []string{"build", "-o", builtBin}
		if *profileOut != "" {
			args = append(args, "-tags", "benchpprof")
		}
		cmd := exec.Command("go", append(args, "../cmd/caretaker")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/caretaker: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// caretakerOptions is what one Caretaker of the benchmark is given.
type caretakerOptions struct {
	Broker   string // tcp://host:port of mosquitto; empty: embedded broker
	Influx   string // InfluxDB URL
	Bucket   string
	ClientID string
	Devices  func(w io.Writer) // writes the entries of devices_file's devices list
	Extra    string            // more top-level YAML
}

// caretakerProc is a running `caretaker serve`.
type caretakerProc struct {
	cmd     *exec.Cmd
	HTTP    string // host:port of the API and /ws
	MQTT    string // host:port of the embedded broker, if any
	PProf   string // host:port of the pprof listener (built with -profile)
	dir     string
	logPath string
	exited  chan struct{}
}

func (c *caretakerProc) PID() int { return c.cmd.Process.Pid }

// startCaretaker writes a configuration and a devices file and runs
// `caretaker serve` until it answers /readyz (or the test ends).
func startCaretaker(t testing.TB, o caretakerOptions) *caretakerProc {
	t.Helper()
	bin := caretakerBinary(t)
	dir := t.TempDir()
	c := &caretakerProc{dir: dir, HTTP: fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t)), exited: make(chan struct{})}
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
		mqtt = fmt.Sprintf(`{embedded: true, embedded_listen: %q, client_id: %s}`, c.MQTT, o.ClientID)
	}
	cfg := fmt.Sprintf(`http: {listen: %q}
mqtt: %s
influx: {url: %q, bucket: %s, spool_dir: %q}
store: {path: %q, readings_path: %q, photos_dir: %q}
auth: {tokens: [{name: bench, role: operator, token: %s}]}
devices_file: %q
%s
`, c.HTTP, mqtt, o.Influx, o.Bucket, filepath.Join(dir, "spool"), filepath.Join(dir, "caretaker.db"),
		filepath.Join(dir, "readings.db"), filepath.Join(dir, "photos"), benchToken, filepath.Join(dir, "devices.yaml"), o.Extra)
	cfgPath := filepath.Join(dir, "caretaker.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c.logPath = filepath.Join(dir, "caretaker.log")
	logf, err := os.Create(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if *profileOut != "" {
		c.PProf = fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
		c.cmd.Env = append(os.Environ(), "BENCH_PPROF_LISTEN="+c.PProf)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.cmd.Wait(); logf.Close(); close(c.exited) }()
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			b, _ := os.ReadFile(c.logPath)
			t.Logf("caretaker log (tail):\n%s", tailString(string(b), 3000))
		}
	})
	deadline := time.Now().Add(120 * time.Second)
	for {
		resp, err := http.Get("http://" + c.HTTP + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		select {
		case <-c.exited:
			b, _ := os.ReadFile(c.logPath)
			t.Fatalf("caretaker exited before it was ready:\n%s", tailString(string(b), 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("caretaker not ready within 120s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop ends Caretaker with SIGTERM (SIGKILL after 30 s) and waits.
func (c *caretakerProc) Stop() {
	select {
	case <-c.exited:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// metric sums the samples of a Prometheus series on /metrics (all label
// sets); -1 when it cannot be read.
func (c *caretakerProc) metric(name string) float64 {
	resp, err := http.Get("http://" + c.HTTP + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
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

package testserver

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// handedOut holds the ports FreePort gave this test process. The kernel
// may hand the port it just freed out again at once, and a server given
// two ports in a row (influxd's HTTP and RPC) then got the same one twice.
var handedOut sync.Map

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that it has not returned before in this process.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, again := handedOut.LoadOrStore(port, true); !again {
			return port
		}
	}
	t.Fatal("free port: every port offered was handed out before")
	return 0
}

// Binary finds a server binary on PATH or in the Go bin directory, skipping
// the test (or failing it under CI) when it is not installed.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found on PATH: the test script must install it", name)
	}
	t.Skipf("%s not found on PATH; run ./scripts/test to install it", name)
	return ""
}

func goBinDirs() []string {
	dirs := []string{"/usr/sbin", "/usr/local/sbin"}
	if gb := os.Getenv("GOBIN"); gb != "" {
		dirs = append(dirs, gb)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(strings.Split(gp, string(os.PathListSeparator))[0], "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	return dirs
}

// Process is a running server started for a test.
type Process struct {
	Name string
	Addr string // host:port of its main listener
	cmd  *exec.Cmd
	// exited closes when the process started last has ended (Wait
	// returned), so that a wait for it to listen fails at once, with its
	// output, when it died (a port taken meanwhile, say).
	exited chan struct{}
	args   []string
	log    *lockedBuffer
	mu     sync.Mutex
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t testing.TB, name, addr string, args ...string) *Process {
	t.Helper()
	p := &Process{Name: name, Addr: addr, args: args, log: &lockedBuffer{}}
	if err := p.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(p.log.String(), 4000))
		}
	})
	return p
}

// Start runs the server (again, after Stop).
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Stdout = p.log
	cmd.Stderr = p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.cmd, p.exited = cmd, exited
	return nil
}

// Exited tells whether the process started last has ended by itself (or
// was stopped).
func (p *Process) Exited() bool {
	p.mu.Lock()
	exited := p.exited
	p.mu.Unlock()
	if exited == nil {
		return true
	}
	select {
	case <-exited:
		return true
	default:
		return false
	}
}

// Stop ends the server and waits for it.
func (p *Process) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	p.cmd = nil
}

// Output is what the server printed so far.
func (p *Process) Output() string { return p.log.String() }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Mosquitto starts a mosquitto broker on a free loopback port. Its queues
// hold a large QoS 1 backlog for persistent sessions, as at-least-once
// delivery needs (docs/operations.md).
func Mosquitto(t testing.TB) *Process {
	t.Helper()
	bin := Binary(t, "mosquitto")
	dir := t.TempDir()
	port := FreePort(t)
	conf := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
%s
persistence true
persistence_location %s/
max_queued_messages 1000000
max_inflight_messages 1000
log_dest stdout
log_type error
log_type warning
`, port, userLine(), dir)
	cf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, "mosquitto", fmt.Sprintf("127.0.0.1:%d", port), bin, "-c", cf)
	waitTCP(t, p, 10*time.Second)
	return p
}

// userLine keeps mosquitto, when started as root, from dropping to its own
// user, which could not write its persistence file in the test's folder.
func userLine() string {
	if os.Geteuid() == 0 {
		return "user root"
	}
	return ""
}

// Influx is an InfluxDB 1.8 server with the 2.x write and Flux endpoints on.
type Influx struct {
	*Process
	URL      string // http://127.0.0.1:PORT
	Database string
}

// InfluxDB starts influxd 1.8 on a free loopback port and creates the
// database db, which the 2.x API reaches as bucket "db".
func InfluxDB(t testing.TB, db string) *Influx {
	t.Helper()
	bin := Binary(t, "influxd")
	dir := t.TempDir()
	port, rpc := FreePort(t), FreePort(t)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = "%[2]s/meta"
[data]
  dir = "%[2]s/data"
  wal-dir = "%[2]s/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%[3]d"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`, rpc, dir, port)
	cf := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	in := &Influx{Database: db, URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	in.Process = start(t, "influxd", fmt.Sprintf("127.0.0.1:%d", port), bin, "-config", cf)
	in.WaitReady(t)
	if _, err := in.Query("CREATE DATABASE " + db); err != nil {
		t.Fatalf("create database: %v", err)
	}
	return in
}

// WaitReady polls /ping until InfluxDB answers 204.
func (in *Influx) WaitReady(t testing.TB) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "influxd at "+in.URL+" ready", func() bool {
		if in.Exited() {
			t.Fatalf("influxd at %s ended before it was ready:\n%s", in.URL, tail(in.Output(), 4000))
		}
		resp, err := http.Get(in.URL + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent
	})
}

// Query runs an InfluxQL statement through the 1.x /query endpoint and
// returns the raw JSON answer.
func (in *Influx) Query(q string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	form := "q=" + url.QueryEscape(q) + "&db=" + url.QueryEscape(in.Database) + "&epoch=ms"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL+"/query", strings.NewReader(form))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode/100 != 2 {
		return b.String(), fmt.Errorf("influx query %q: %s: %s", q, resp.Status, b.String())
	}
	return b.String(), nil
}

func waitTCP(t testing.TB, p *Process, d time.Duration) {
	t.Helper()
	listening := testkit.Within(d, func() bool {
		if p.Exited() {
			t.Fatalf("%s ended before it listened on %s:\n%s", p.Name, p.Addr, tail(p.Output(), 4000))
		}
		c, err := net.DialTimeout("tcp", p.Addr, 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	if !listening {
		t.Fatalf("%s did not listen on %s within %s:\n%s", p.Name, p.Addr, d, p.Output())
	}
}

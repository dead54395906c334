package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Caretaker is `caretaker serve --config Config` run as a child process,
// for drills (kill it, start it again over the same configuration and
// log) and benchmarks (its CPU time and memory are its own). It runs the
// binary, so it imports no Caretaker package; starting Caretaker
// in-process is cmd/caretaker's startCaretaker.
type Caretaker struct {
	t      testing.TB
	Bin    string   // the binary (CaretakerBinary)
	Config string   // path of the configuration file
	Log    string   // stdout and stderr of every start, appended
	Env    []string // added to the test's environment; nil: the test's
	proc   *Proc
}

// NewCaretaker prepares a Caretaker (not started). When the test ends it
// is stopped, and on a failure the tail of its log is printed.
func NewCaretaker(t testing.TB, bin, config, log string) *Caretaker {
	c := &Caretaker{t: t, Bin: bin, Config: config, Log: log}
	t.Cleanup(func() {
		c.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("caretaker log (tail):\n%s", FileTail(c.Log, 6000))
		}
	})
	return c
}

// CaretakerBinary builds the module's cmd/caretaker once per test run
// (with the given build tags) and returns its path.
func CaretakerBinary(t testing.TB, tags ...string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return Build(t, filepath.Join(root, "cmd", "caretaker"), tags...)
}

// Start runs it.
func (c *Caretaker) Start() {
	c.t.Helper()
	cmd := exec.Command(c.Bin, "serve", "--config", c.Config)
	if c.Env != nil {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	c.proc = Start(c.t, cmd, c.Log)
}

// PID is the process id of the running start.
func (c *Caretaker) PID() int { return c.proc.PID() }

// Kill ends it with SIGKILL (a crash) and waits.
func (c *Caretaker) Kill() {
	if c.proc != nil {
		c.proc.Kill()
		c.proc = nil
	}
}

// Stop ends it with SIGTERM, with SIGKILL after grace, and waits.
func (c *Caretaker) Stop(grace time.Duration) {
	if c.proc != nil {
		c.proc.Stop(grace)
		c.proc = nil
	}
}

// WaitReady waits until base's /readyz answers 200, failing the test after
// timeout, or at once (with the log) if the process ends first.
func (c *Caretaker) WaitReady(base string, timeout time.Duration) {
	c.t.Helper()
	exited := c.proc.Exited()
	Eventually(c.t, timeout, "caretaker ready", func() bool {
		select {
		case <-exited:
			c.t.Fatalf("caretaker exited before it was ready:\n%s", FileTail(c.Log, 3000))
		default:
		}
		return Ready(base)
	})
}

// moduleRoot is the folder of the go.mod above the working directory (a
// test runs in its package's folder).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", fmt.Errorf("module root: no go.mod above the working directory")
		}
		dir = up
	}
}

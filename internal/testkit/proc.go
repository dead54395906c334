package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var builds sync.Map // "dir\x00tags" -> *build

type build struct {
	once sync.Once
	bin  string
	err  error
}

// Build compiles the Go main package in dir (relative to the test's
// package, e.g. "." or "../cmd/caretaker") once per test run, with the
// given build tags, and returns the binary's path.
func Build(t testing.TB, dir string, tags ...string) string {
	t.Helper()
	key := dir + "\x00" + fmt.Sprint(tags)
	v, _ := builds.LoadOrStore(key, &build{})
	b := v.(*build)
	b.once.Do(func() {
		out, err := os.MkdirTemp("", "testkit-bin")
		if err != nil {
			b.err = err
			return
		}
		b.bin = filepath.Join(out, filepath.Base(mustAbs(dir)))
		args := []string{"build", "-o", b.bin}
		if len(tags) > 0 {
			args = append(args, "-tags", strings.Join(tags, ","))
		}
		if o, err := exec.Command("go", append(args, dir)...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v: %s", dir, err, o)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

func mustAbs(dir string) string {
	a, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	return a
}

// Proc is a child process whose output goes to a log file. It dies with
// the test binary (Pdeathsig SIGKILL).
type Proc struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

// Start runs cmd with its stdout and stderr appended to the file log (a
// "=== start" line marks each start). The caller ends it with Stop or
// Kill (in a t.Cleanup); should the test binary die first, Pdeathsig
// kills it.
func Start(t testing.TB, cmd *exec.Cmd, log string) *Proc {
	t.Helper()
	f, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd.Stdout, cmd.Stderr = f, f
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	p := &Proc{cmd: cmd, log: log, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.exited) }()
	return p
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the process has ended.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Kill ends the process with SIGKILL (a crash) and waits for it.
func (p *Proc) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Stop ends the process with SIGTERM, with SIGKILL after grace, and waits.
// It tells whether the process stopped within grace.
func (p *Proc) Stop(grace time.Duration) bool {
	select {
	case <-p.exited:
		return true
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return true
	case <-time.After(grace):
		p.Kill()
		return false
	}
}

// LogTail is the last n bytes of the log file.
func (p *Proc) LogTail(n int) string { return FileTail(p.log, n) }

// FileTail is the last n bytes of a file (empty when it cannot be read).
func FileTail(path string, n int) string {
	b, _ := os.ReadFile(path)
	return Tail(string(b), n)
}

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

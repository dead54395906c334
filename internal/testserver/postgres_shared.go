package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// shared is the one PostgreSQL server of a test binary (SharedPostgreSQL).
var shared struct {
	once  sync.Once
	pg    *Postgres
	guard *os.File // write end of the watchdog's pipe, held while the binary lives
	n     atomic.Int64
}

// binaryTB lends PostgreSQL the first caller's t for its messages, with a
// folder and cleanups of the whole test binary's life instead of the test's.
type binaryTB struct {
	testing.TB
	dir string
}

func (b *binaryTB) TempDir() string {
	d, err := os.MkdirTemp(b.dir, "pg")
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func (b *binaryTB) Cleanup(func()) {} // the watchdog stops the server

// SharedPostgreSQL returns the test binary's one PostgreSQL server, started
// by the first test that asks, so that the tests of a package share its
// start-up; each takes a database of its own (PostgresDB). The server stops
// when the test binary ends, however it ends: a watchdog process reads a
// pipe the binary holds, and when that closes it stops the server and
// removes its folder.
func SharedPostgreSQL(t testing.TB) *Postgres {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "caretaker-pg-")
		if err != nil {
			t.Fatal(err)
		}
		pg := PostgreSQL(&binaryTB{TB: t, dir: dir})
		pidFile, err := os.ReadFile(filepath.Join(pg.Dir, "postmaster.pid"))
		if err != nil {
			t.Fatalf("postmaster.pid: %v", err)
		}
		pid := strings.SplitN(string(pidFile), "\n", 2)[0]
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		watch := exec.Command("sh", "-c", `read _; kill -INT "$1"; while kill -0 "$1" 2>/dev/null; do sleep 0.1; done; rm -rf "$2"`,
			"sh", pid, dir)
		watch.Stdin = r
		watch.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives the binary, and its ^C
		if err := watch.Start(); err != nil {
			t.Fatalf("watchdog: %v", err)
		}
		r.Close()
		go func() { _ = watch.Wait() }()
		shared.pg, shared.guard = pg, w
	})
	if shared.pg == nil {
		t.Fatal("the shared PostgreSQL server did not start (see the first test that asked)")
	}
	return shared.pg
}

var notName = regexp.MustCompile(`[^a-z0-9_]+`)

// PostgresDB creates a fresh database, named after the test, on the shared
// server and returns its URL.
func PostgresDB(t testing.TB) string {
	t.Helper()
	pg := SharedPostgreSQL(t)
	name := notName.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return pg.Database(t, fmt.Sprintf("t%d_%s", shared.n.Add(1), name))
}

package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Postgres is a PostgreSQL server of its own, in a temporary folder, on a
// free loopback port, with trust authentication for the loopback address
// only (nothing else can reach it).
type Postgres struct {
	*Process
	Dir  string // the data folder
	Port int
	User string // the superuser, owner of every database made by Database
}

// PostgresBin is the folder of Debian's postgresql-15 programs.
const PostgresBin = "/usr/lib/postgresql/15/bin"

func postgresBinary(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(PostgresBin, name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return Binary(t, name)
}

// PostgreSQL runs initdb and postgres. As root it runs them as the postgres
// user (PostgreSQL refuses root) in a folder that user owns.
func PostgreSQL(t testing.TB) *Postgres {
	t.Helper()
	initdb := postgresBinary(t, "initdb")
	server := postgresBinary(t, "postgres")
	base := t.TempDir()
	dir := filepath.Join(base, "pgdata")
	sock := filepath.Join(base, "sock")
	for _, d := range []string{dir, sock} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	var asUser []string
	user := os.Getenv("USER")
	if os.Geteuid() == 0 {
		user = "postgres"
		// The temporary folder's parents must be passable by postgres.
		for d := base; d != "/" && d != "."; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
				_ = os.Chmod(d, st.Mode().Perm()|0o011)
			}
		}
		for _, d := range []string{base, dir, sock} {
			if out, err := exec.Command("chown", "postgres:postgres", d).CombinedOutput(); err != nil {
				t.Fatalf("chown %s: %v: %s", d, err, out)
			}
		}
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	if user == "" {
		user = "postgres"
	}
	args := append(append([]string{}, asUser...), initdb, "-D", dir, "-U", user, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	port := FreePort(t)
	srv := append(append([]string{}, asUser...), server, "-D", dir, "-p", fmt.Sprint(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+sock,
		"-c", "fsync=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	p := &Postgres{Dir: dir, Port: port, User: user}
	p.Process = start(t, "postgres", fmt.Sprintf("127.0.0.1:%d", port), srv...)
	waitTCP(t, p.Process, 30*time.Second)
	// Accepting TCP is not yet accepting logins: wait for a query to pass.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := p.psql("postgres", "SELECT 1"); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("postgres did not answer: %v\n%s", err, p.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return p
}

func (p *Postgres) psql(db, sql string) (string, error) {
	psql := filepath.Join(PostgresBin, "psql")
	if _, err := os.Stat(psql); err != nil {
		psql = "psql"
	}
	out, err := exec.Command(psql, "-h", "127.0.0.1", "-p", fmt.Sprint(p.Port), "-U", p.User,
		"-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("psql %q: %w: %s", sql, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// Database creates a new, empty database and returns its URL
// (postgres://user@127.0.0.1:port/name?sslmode=disable).
func (p *Postgres) Database(t testing.TB, name string) string {
	t.Helper()
	if _, err := p.psql("postgres", fmt.Sprintf(`CREATE DATABASE %q`, name)); err != nil {
		t.Fatal(err)
	}
	return p.URL(name)
}

// URL is the connection URL of database name.
func (p *Postgres) URL(name string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", p.User, p.Port, name)
}

// Query runs one SQL statement with psql and returns its unaligned output.
func (p *Postgres) Query(db, sql string) (string, error) { return p.psql(db, sql) }

package ticketing

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// storedCode reads ticket id's verification_code straight from the
// database, past the service.
func storedCode(t *testing.T, f *fixture, id int64) string {
	t.Helper()
	var c string
	if err := f.svc.db.QueryRow("SELECT verification_code FROM tickets WHERE id = ?", id).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestVerificationCodeStoredHashed: the code of in-home work is handed
// out once, in the answer, and the database holds a salted hash of it,
// the same code never twice the same: a copy of the file shows no code.
// The right code still lets the technician in; a wrong one does not.
func TestVerificationCodeStoredHashed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, _, err := f.svc.Report(ctx, operator, inHome())
	if err != nil {
		t.Fatal(err)
	}
	other := inHome()
	other.Room = "1202"
	b, _, err := f.svc.Report(ctx, operator, other)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []Ticket{a, b} {
		if len(tk.VerificationCode) != 6 {
			t.Fatalf("answer's code %q", tk.VerificationCode)
		}
		st := storedCode(t, f, tk.ID)
		if strings.Contains(st, tk.VerificationCode) || !strings.HasPrefix(st, codeHashPrefix) {
			t.Fatalf("stored code %q for code %s: want its salted hash", st, tk.VerificationCode)
		}
	}
	if f.cfg.URL != "" {
		// On PostgreSQL the server's files are not the store's to read.
	} else if raw, wal := readFile(f.path), readFile(f.path+"-wal"); strings.Contains(raw+wal, a.VerificationCode) && strings.Contains(raw+wal, b.VerificationCode) {
		t.Fatal("both codes are in the database files")
	}
	mustAct(t, f, tech1, a.ID, ActionRequest{Action: ActClaim})
	if _, err := f.svc.Act(ctx, tech1, a.ID, ActionRequest{Action: ActArrive, Code: b.VerificationCode}); err == nil && a.VerificationCode != b.VerificationCode {
		t.Fatal("another ticket's code let the technician in")
	}
	res := mustAct(t, f, tech1, a.ID, ActionRequest{Action: ActArrive, Code: a.VerificationCode})
	if res.Ticket.Status != StatusOnSite {
		t.Fatalf("right code: status %s", res.Ticket.Status)
	}
	// A new code (after a lock-out) is stored hashed too.
	mustAct(t, f, tech1, b.ID, ActionRequest{Action: ActClaim})
	nc := mustAct(t, f, operator, b.ID, ActionRequest{Action: ActNewCode, Reason: "owner lost it"})
	if st := storedCode(t, f, b.ID); len(nc.VerificationCode) != 6 || strings.Contains(st, nc.VerificationCode) || !strings.HasPrefix(st, codeHashPrefix) {
		t.Fatalf("new code %q stored as %q", nc.VerificationCode, st)
	}
	mustAct(t, f, tech1, b.ID, ActionRequest{Action: ActArrive, Code: nc.VerificationCode})
}

// TestClearCodesHashedOnOpen: a store written before codes were hashed
// keeps them in clear; opening it hashes them, and the code the owner
// holds still works.
func TestClearCodesHashedOnOpen(t *testing.T) {
	f := newFixtureOn(t, onSQLite) // writes the file past the service
	ctx := context.Background()
	tk, _, err := f.svc.Report(ctx, operator, inHome())
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", f.path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE tickets SET verification_code = '424242' WHERE id = ?", tk.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	f.reopen(t)
	if st := storedCode(t, f, tk.ID); !strings.HasPrefix(st, codeHashPrefix) || strings.Contains(st, "424242") {
		t.Fatalf("after reopening, the code is stored as %q", st)
	}
	f.reopen(t) // a second open finds nothing to do and keeps the code
	mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActClaim})
	if res := mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActArrive, Code: "424242"}); res.Ticket.Status != StatusOnSite {
		t.Fatalf("old code after the migration: %s", res.Ticket.Status)
	}
}

// TestStoreFilesPrivate: the database and its WAL are the owner's only
// (0600), in a folder of the owner's only (0700).
func TestStoreFilesPrivate(t *testing.T) {
	f := newFixtureOn(t, onSQLite) // a file of its own only on SQLite
	if _, _, err := f.svc.Report(context.Background(), operator, inHome()); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, filepath.Dir(f.path), 0o700)
	for _, p := range []string{f.path, f.path + "-wal", f.path + "-shm"} {
		checkPrivate(t, p, 0o600)
	}
	// A file left 0644 by an older version is narrowed at open.
	if err := os.Chmod(f.path, 0o644); err != nil {
		t.Fatal(err)
	}
	f.reopen(t)
	checkPrivate(t, f.path, 0o600)
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func checkPrivate(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Errorf("%s: mode %o, want %o", filepath.Base(path), st.Mode().Perm(), want)
	}
}

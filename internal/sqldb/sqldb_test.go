package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/fence"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{"x <= ?1 OR y <= ?1", "x <= $1 OR y <= $1"},
		{"?2, ?, ?1, ?", "$2, $3, $1, $4"},
		{"note = '?' AND n = ?", "note = '?' AND n = $1"},
		{"s = 'it''s ?' AND n = ? -- why?\n AND m = ?", "s = 'it''s ?' AND n = $1 -- why?\n AND m = $2"},
		{`"we?ird" = ? /* ? */ AND ? `, `"we?ird" = $1 /* ? */ AND $2 `},
		{"epoch = $1", "epoch = $1"},
	} {
		if got := Rebind(c.in); got != c.want {
			t.Errorf("Rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTranslate(t *testing.T) {
	in := `CREATE TABLE a (
	id INTEGER PRIMARY KEY AUTOINCREMENT, -- an INTEGER in a comment
	n integer NOT NULL DEFAULT 0, v REAL, b BLOB, note TEXT DEFAULT 'INTEGER REAL');
CREATE TABLE s (id INTEGER PRIMARY KEY CHECK (id = 1), realm TEXT, integers TEXT);`
	want := `CREATE TABLE a (
	id BIGSERIAL PRIMARY KEY, -- an INTEGER in a comment
	n BIGINT NOT NULL DEFAULT 0, v DOUBLE PRECISION, b BYTEA, note TEXT DEFAULT 'INTEGER REAL');
CREATE TABLE s (id BIGSERIAL PRIMARY KEY CHECK (id = 1), realm TEXT, integers TEXT);`
	if got := Translate(PostgreSQL, in); got != want {
		t.Errorf("Translate:\n%s\nwant\n%s", got, want)
	}
	if got := Translate(SQLite, in); got != in {
		t.Errorf("Translate changed SQLite's migration:\n%s", got)
	}
}

func TestCheckURL(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"postgres://ct:secret@db:5432/caretaker?sslmode=require", "postgres://ct:xxxxx@db:5432/caretaker?sslmode=require", ""},
		{"postgresql://db/caretaker", "postgresql://db/caretaker", ""},
		{"mysql://db/caretaker", "", `scheme "mysql"`},
		{"postgres://db", "", "database name"},
		{"postgres:// bad", "", "not a URL"},
	} {
		got, err := CheckURL(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "secret") {
				t.Errorf("CheckURL(%q) = %q, %v; want an error with %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("CheckURL(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// backends opens a fresh database on each engine.
var backends = []struct {
	name string
	open func(t *testing.T) Config
}{
	{"sqlite", func(t *testing.T) Config { return Config{Path: filepath.Join(t.TempDir(), "sub", "x.db")} }},
	{"postgresql", func(t *testing.T) Config { return Config{URL: testserver.PostgresDB(t)} }},
}

func open(t *testing.T, cfg Config) *DB {
	t.Helper()
	db, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigrateOnceOnBothEngines(t *testing.T) {
	ctx := context.Background()
	migs := []string{
		`CREATE TABLE a (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, v REAL NOT NULL);`,
		`CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER NOT NULL REFERENCES a(id), flag INTEGER NOT NULL DEFAULT 0);
		 CREATE UNIQUE INDEX b_a ON b(a_id) WHERE flag = 1;`,
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			cfg := be.open(t)
			for round := 0; round < 2; round++ {
				db := open(t, cfg)
				if err := db.Migrate(ctx, "x_migrations", migs, time.Now); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				var n int
				if err := db.QueryRow("SELECT count(*) FROM x_migrations").Scan(&n); err != nil || n != 2 {
					t.Fatalf("round %d: %d migrations recorded, %v", round, n, err)
				}
				db.Close()
			}
			db := open(t, cfg)
			// 64-bit times, doubles, numbered ids, bools as 0/1, ? placeholders.
			const at = int64(1795000000123)
			var id int64
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				return tx.QueryRowContext(ctx, "INSERT INTO a (at, v) VALUES (?, ?) RETURNING id", at, 0.1).Scan(&id)
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO b (a_id, flag) VALUES (?1, ?2)", id, true)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			var gotAt int64
			var v float64
			var flag bool
			if err := db.QueryRow("SELECT a.at, a.v, b.flag FROM a JOIN b ON b.a_id = a.id WHERE a.id = ?", id).Scan(&gotAt, &v, &flag); err != nil {
				t.Fatal(err)
			}
			if gotAt != at || v != 0.1 || !flag {
				t.Fatalf("read back at %d v %v flag %v", gotAt, v, flag)
			}
			// Foreign keys and partial unique indexes hold.
			_, err = db.Exec("INSERT INTO b (a_id) VALUES (42)")
			if err == nil {
				t.Fatal("dangling reference accepted")
			}
			_, err = db.Exec("INSERT INTO b (a_id, flag) VALUES (?, 1)", id)
			if !IsUniqueViolation(err) {
				t.Fatalf("second flagged row: %v, want a unique violation", err)
			}
		})
	}
}

func TestMigrateRollsBackAFailedStep(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			db := open(t, be.open(t))
			err := db.Migrate(context.Background(), "m", []string{`CREATE TABLE ok (id INTEGER);`, `CREATE TABLE bad (;`}, time.Now)
			if err == nil {
				t.Fatal("broken migration accepted")
			}
			var n int
			if err := db.QueryRow("SELECT count(*) FROM m").Scan(&n); err != nil || n != 1 {
				t.Fatalf("recorded %d migrations after a failure, want 1 (%v)", n, err)
			}
		})
	}
}

// Instances starting together apply each migration once.
func TestConcurrentMigrations(t *testing.T) {
	cfg := Config{URL: testserver.PostgresDB(t)}
	migs := []string{`CREATE TABLE a (id INTEGER PRIMARY KEY);`, `ALTER TABLE a ADD COLUMN n INTEGER;`}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := Open(context.Background(), cfg)
			if err == nil {
				err = db.Migrate(context.Background(), "m", migs, time.Now)
				db.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// Check-then-insert from many connections at once: on SQLite the write
// lock taken at BEGIN serialises them; on PostgreSQL SERIALIZABLE aborts
// the losers and InTx runs them again, so every increment lands once.
func TestInTxSerialisesReadThenWrite(t *testing.T) {
	ctx := context.Background()
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			db := open(t, be.open(t))
			if err := db.Migrate(ctx, "m", []string{`CREATE TABLE c (k TEXT PRIMARY KEY, n INTEGER NOT NULL);`}, time.Now); err != nil {
				t.Fatal(err)
			}
			const workers, each = 8, 10
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						errs <- db.InTx(ctx, func(tx *sql.Tx) error {
							var n int
							err := tx.QueryRowContext(ctx, "SELECT n FROM c WHERE k = 'x'").Scan(&n)
							if errors.Is(err, sql.ErrNoRows) {
								_, err = tx.ExecContext(ctx, "INSERT INTO c (k, n) VALUES ('x', 1)")
								return err
							}
							if err != nil {
								return err
							}
							_, err = tx.ExecContext(ctx, "UPDATE c SET n = ? WHERE k = 'x'", n+1)
							return err
						})
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			var n int
			if err := db.QueryRow("SELECT n FROM c WHERE k = 'x'").Scan(&n); err != nil || n != workers*each {
				t.Fatalf("counter %d (%v), want %d", n, err, workers*each)
			}
		})
	}
}

// A write made under a fencing token whose lease moved on does not happen.
func TestInTxChecksTheFence(t *testing.T) {
	ctx := context.Background()
	db := open(t, Config{URL: testserver.PostgresDB(t)})
	err := db.Migrate(ctx, "m", []string{
		`CREATE TABLE cluster_leases (partition TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);
		 INSERT INTO cluster_leases VALUES ('north', 'b', 8, now() + interval '1 hour');
		 CREATE TABLE w (n INTEGER);`}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	write := func(ctx context.Context) error {
		return db.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO w (n) VALUES (1)")
			return err
		})
	}
	if err := write(fence.With(ctx, fence.Token{Partition: "north", Epoch: 7})); !errors.Is(err, fence.ErrDeposed) {
		t.Fatalf("write of a deposed leader: %v, want ErrDeposed", err)
	}
	if err := write(fence.With(ctx, fence.Token{Partition: "north", Epoch: 8})); err != nil {
		t.Fatalf("write of the leader: %v", err)
	}
	if err := write(ctx); err != nil {
		t.Fatalf("write without a token: %v", err)
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM w").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows written (%v), want 2", n, err)
	}
}

package sqlitedb

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestOpenAndMigrateOnce(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "x.db")
	migs := []string{
		`CREATE TABLE a (id INTEGER PRIMARY KEY);`,
		`CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER NOT NULL REFERENCES a(id));`,
	}
	for round := 0; round < 2; round++ {
		db, err := Open(ctx, path, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := Migrate(ctx, db, "x_migrations", migs, time.Now); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM x_migrations").Scan(&n); err != nil || n != 2 {
			t.Fatalf("round %d: %d migrations recorded, %v", round, n, err)
		}
		// Foreign keys are on: a dangling reference is refused.
		if _, err := db.Exec("INSERT INTO b (a_id) VALUES (42)"); err == nil {
			t.Fatal("foreign key not enforced")
		}
		db.Close()
	}
}

func TestMigrateRollsBackAFailedStep(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = Migrate(ctx, db, "m", []string{`CREATE TABLE ok (id INTEGER);`, `CREATE TABLE bad (;`}, time.Now)
	if err == nil {
		t.Fatal("broken migration accepted")
	}
	var n int
	if err := db.QueryRow("SELECT count(*) FROM m").Scan(&n); err != nil || n != 1 {
		t.Fatalf("recorded %d migrations after a failure, want 1 (%v)", n, err)
	}
}

func TestOpenRefusesQueryInPath(t *testing.T) {
	if _, err := Open(context.Background(), "x.db?_pragma=foo", 0); err == nil {
		t.Fatal("path with ? accepted")
	}
}

package testserver

import "testing"

func TestPostgreSQLStartsAndMakesDatabases(t *testing.T) {
	pg := PostgreSQL(t)
	pg.Database(t, "one")
	if _, err := pg.Query("one", "CREATE TABLE t (x int); INSERT INTO t VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	got, err := pg.Query("one", "SELECT x FROM t")
	if err != nil || got != "7" {
		t.Fatalf("SELECT = %q, %v", got, err)
	}
}

package ticketing

import (
	"context"
	"errors"
	"testing"

	"github.com/caretaker-iot/caretaker/internal/config"
)

func TestOpenAppliesMigrationsOnceAndSetsPragmas(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		for i := 0; i < 2; i++ {
			f.reopen(t)
		}
		var n, maxVersion int
		if err := f.svc.db.QueryRow("SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &maxVersion); err != nil {
			t.Fatal(err)
		}
		if n != len(migrations) || maxVersion != len(migrations) {
			t.Fatalf("schema_migrations: %d rows, max %d; want %d", n, maxVersion, len(migrations))
		}
		if backend != onSQLite {
			return
		}
		var mode string
		var fk int
		if err := f.svc.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || fk != 1 {
			t.Fatalf("journal_mode %q foreign_keys %d, want wal and 1", mode, fk)
		}
	})
}

func TestOpenRejectsBadConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		key  string
	}{
		{"no path nor url", Config{}, "store.path"},
		{"not postgres", Config{URL: "mysql://db/caretaker"}, "store.url"},
		{"no database", Config{URL: "postgres://db:5432"}, "store.url"},
	} {
		_, err := Open(context.Background(), c.cfg)
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Path != c.key {
			t.Errorf("Open %s: %v, want a FieldError on %s", c.name, err, c.key)
		}
	}
}

func TestEverythingSurvivesReopen(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		a := gasAlarm(f, 35)
		mustHandle(t, f, a)
		if _, err := f.svc.AckAlarm(ctx, operator, a.ID); err != nil {
			t.Fatal(err)
		}
		manual, _, err := f.svc.Report(ctx, patrol, Report{Source: SourcePatrol, Category: "water_electric",
			Site: "s1", Building: "B1", Location: "B1 stairwell", Description: "light out on landing 3"})
		if err != nil {
			t.Fatal(err)
		}
		before := mustOpenTickets(t, f)
		f.reopen(t)

		after := mustOpenTickets(t, f)
		if len(after) != 2 || len(before) != 2 {
			t.Fatalf("open tickets before %d after %d, want 2", len(before), len(after))
		}
		for i := range after {
			if after[i].Number != before[i].Number || after[i].ID != before[i].ID || !after[i].CreatedAt.Equal(before[i].CreatedAt) {
				t.Errorf("ticket %d changed across reopen: %+v -> %+v", i, before[i], after[i])
			}
		}
		if h := mustGet(t, f, manual.ID).History; len(h) != 1 || h[0].Action != "created" || h[0].Actor != "pat1" {
			t.Errorf("manual ticket history after reopen: %+v", h)
		}
		if got := actions(mustGet(t, f, after[0].ID).History); len(got) != 2 || got[1] != "alarm_acked" {
			t.Errorf("sensor ticket history after reopen: %v", got)
		}
		alarms, err := f.svc.Alarms(ctx, AlarmsAcked)
		if err != nil {
			t.Fatal(err)
		}
		if len(alarms) != 1 || alarms[0].ID != a.ID || alarms[0].AckedBy != "ops1" || alarms[0].TicketNumber == "" ||
			!alarms[0].RaisedAt.Equal(a.RaisedAt) {
			t.Fatalf("alarms after reopen: %+v", alarms)
		}
	})
}

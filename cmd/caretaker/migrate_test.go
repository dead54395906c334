package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/sqldb"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// fillStore writes records into every table of a SQLite store through the
// services (and the two tables they only fill at the end of a longer story
// directly), and returns the id of the sensor ticket.
func fillStore(t *testing.T, path string) int64 {
	t.Helper()
	ctx := context.Background()
	tickets, err := ticketing.Open(ctx, ticketing.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer tickets.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	alarm := rules.Alarm{ID: rules.AlarmID("gas-lel-critical", "gas-b2-07", now), RuleID: "gas-lel-critical",
		RuleName: "Gas above alarm level", Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2",
		Location: "B2 boiler room", Metric: "lel_pct", Severity: rules.Critical, Level: 1, State: rules.Raised,
		Value: 35, Peak: 35.5, Message: "lel_pct 35 >= 20", RaisedAt: now}
	if err := tickets.HandleAlarm(ctx, alarm); err != nil {
		t.Fatal(err)
	}
	if _, err := tickets.AckAlarm(ctx, ticketing.Actor{Name: "ops1", Role: "operator"}, alarm.ID); err != nil {
		t.Fatal(err)
	}
	open, err := tickets.OpenTickets(ctx)
	if err != nil || len(open) != 1 {
		t.Fatalf("open tickets %v, %v", open, err)
	}
	sensor := open[0].ID
	patrol := ticketing.Actor{Name: "pat1", Role: "patrol"}
	rep, _, err := tickets.Report(ctx, patrol, ticketing.Report{Source: ticketing.SourcePatrol, Category: "water_electric",
		Site: "s1", Building: "B1", Location: "B1 stairwell", Description: "light out on landing 3 — 三楼灯不亮"})
	if err != nil {
		t.Fatal(err)
	}
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
	if _, err := tickets.AddPhoto(ctx, patrol, rep.ID, "", bytes.NewReader(png)); err != nil {
		t.Fatal(err)
	}
	st, err := rules.OpenStore(ctx, rules.StoreConfig{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pack, err := rules.DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Seed(ctx, pack[:3]); err != nil {
		t.Fatal(err)
	}
	base := 1200.5
	if err := st.AddService(ctx, rules.Service{RuleID: "doors", Device: "el-1", Base: &base, By: "tech1", At: now}); err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(ctx, sqldb.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO ticket_recurrences (ticket_id, alarm_id, at) VALUES (%d, '%s', %d)`, sensor, alarm.ID, now.UnixMilli()),
		fmt.Sprintf(`INSERT INTO notifications (id, ticket_id, step, recipient, channel, message, queued_at, next_at)
			VALUES ('d-1', %d, 'first', 'tech1', 'sms', '{"text":"gas"}', %d, %d)`, sensor, now.UnixMilli(), now.UnixMilli()),
		fmt.Sprintf(`INSERT INTO rule_state_devices (partition, device, body, saved_at) VALUES ('', '', '{"format":2}', %d),
			('', 'leak-1', '[{"rule":"water-leak","pending_since":"2026-11-23T01:00:00Z"}]', %d)`, now.UnixMilli(), now.UnixMilli()),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return sensor
}

// tableRows renders every row of every table but the migration records,
// sorted, so that two databases can be compared value by value.
func tableRows(t *testing.T, db *sqldb.DB, tables []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := db.Query("SELECT * FROM " + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, v := range vals {
				if f, ok := v.(float64); ok && f == float64(int64(f)) && !strings.Contains(cols[i], "value") && !strings.Contains(cols[i], "peak") && cols[i] != "base" {
					v = int64(f)
				}
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, "%s=%v|", cols[i], v)
			}
			out[table] = append(out[table], b.String())
		}
		rows.Close()
		slices.Sort(out[table])
	}
	return out
}

func sqliteTableNames(t *testing.T, db *sqldb.DB) []string {
	t.Helper()
	rows, err := db.Query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_migrations' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestMigrateCopiesTheSQLiteStoreIntoPostgreSQL: every table of a real
// SQLite store lands, value for value, in a real PostgreSQL; the service
// then runs on it and numbers new records after the copied ones; a second
// copy into the filled database is refused unless --replace.
func TestMigrateCopiesTheSQLiteStoreIntoPostgreSQL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "caretaker.db")
	sensor := fillStore(t, path)
	url := testserver.PostgresDB(t)

	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"migrate", "--from", path, "--to", url}, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	t.Log(stdout.String())
	src, err := sqldb.Open(ctx, sqldb.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := sqldb.Open(ctx, sqldb.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	tables := sqliteTableNames(t, src)
	want, got := tableRows(t, src, tables), tableRows(t, dst, tables)
	for _, table := range []string{"tickets", "ticket_history", "ticket_numbers", "alarms", "ticket_deadlines", "ticket_photos",
		"ticket_reports", "ticket_recurrences", "notifications", "rule_versions", "rule_services", "rule_state_devices"} {
		if len(want[table]) == 0 {
			t.Errorf("the source's %s is empty: the test does not cover it", table)
		}
	}
	for _, table := range tables {
		if !slices.Equal(got[table], want[table]) {
			t.Errorf("%s differs:\nsqlite     %q\npostgresql %q", table, want[table], got[table])
		}
		if !regexp.MustCompile(`(?m)^  ` + table + ` +` + fmt.Sprint(len(want[table])) + `$`).MatchString(stdout.String()) {
			t.Errorf("output does not count %s (%d rows):\n%s", table, len(want[table]), stdout.String())
		}
	}

	// The copy serves: the sensor ticket with its history, and new records
	// numbered after the copied ones.
	tickets, err := ticketing.Open(ctx, ticketing.Config{URL: url, Path: filepath.Join(t.TempDir(), "x.db")})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := tickets.Get(ctx, sensor)
	if err != nil || len(tk.History) < 2 || tk.Number == "" {
		t.Fatalf("sensor ticket on PostgreSQL: %+v, %v", tk, err)
	}
	fresh, _, err := tickets.Report(ctx, ticketing.Actor{Name: "pat2", Role: "patrol"}, ticketing.Report{Source: ticketing.SourcePatrol,
		Category: "civil", Site: "s1", Building: "B9", Location: "lobby", Description: "cracked tile"})
	if err != nil {
		t.Fatalf("new report after the copy: %v", err)
	}
	if !strings.HasSuffix(fresh.Number, "-0003") {
		t.Errorf("new ticket number %s, want the day's third", fresh.Number)
	}
	tickets.Close()

	// Again: refused, nothing changes; with --replace, the same copy.
	stdout.Reset()
	stderr.Reset()
	if code := run(ctx, []string{"migrate", "--from", path, "--to", url}, &stdout, &stderr, nil); code != 1 ||
		!strings.Contains(stderr.String(), "not empty") || !strings.Contains(stderr.String(), "--replace") {
		t.Fatalf("second migrate: exit %d, %q, want 1 and a refusal naming --replace", code, stderr.String())
	}
	if rows := tableRows(t, dst, []string{"tickets"})["tickets"]; len(rows) != len(want["tickets"])+1 {
		t.Fatalf("refused copy changed the target: %d tickets", len(rows))
	}
	if code := run(ctx, []string{"migrate", "--from", path, "--to", url, "--replace"}, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("migrate --replace: exit %d\n%s", code, stderr.String())
	}
	if got := tableRows(t, dst, tables); !slicesEqualMap(got, want) {
		t.Fatalf("after --replace the target is not the source")
	}
}

func slicesEqualMap(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

func TestMigrateUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"migrate", "--help"}, 0, "--replace"},
		{[]string{"migrate"}, 2, "needs --from"},
		{[]string{"migrate", "--from", "x.db", "--to", "mysql://db/x"}, 2, "--to: scheme"},
		{[]string{"migrate", "--from", "/nonexistent/x.db", "--to", "postgres://127.0.0.1:1/x"}, 1, "--from"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr, nil)
		if code != c.code || !strings.Contains(stdout.String()+stderr.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", c.args, code, stdout.String()+stderr.String(), c.code, c.want)
		}
	}
}

package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/sqlitedb"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestDrillRuleStateSurvivesSIGKILL: a leak probe is wet, its 10 s for is
// running; after the periodic rule-state snapshot Caretaker is killed
// with SIGKILL and restarted on the same data folder. The probe stays
// wet: the alarm is raised at the original time (wet since t0, so at
// t0+10s, the episode's id from t0), not 10 s after the restart.
func TestDrillRuleStateSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the drill builds the binary and runs it twice")
	}
	broker := testserver.Mosquitto(t)
	bin := testkit.CaretakerBinary(t)
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-rulestate, qos: 1}
store: {path: "%[3]s/caretaker.db", readings_path: "%[3]s/readings.db", photos_dir: "%[3]s/photos"}
auth: {tokens: [{name: ops1, role: operator, token: %[4]s}]}
rules: {snapshot_interval: 200ms}
devices:
  - {id: leak-b1-01, kind: water_leak, site: s1, building: B1, location: "B1 pump room"}
`, httpAddr, broker.Addr, dir, operatorToken)
	})
	proc := ct.startProcess(t, bin)
	base, dir := ct.Base, ct.Dir

	wet := func(at time.Time) {
		publish(t, broker.Addr, "sites/s1/devices/leak-b1-01/telemetry",
			fmt.Sprintf(`{"ts": %d, "metrics": {"leak": true}}`, at.UnixMilli()))
	}
	t0 := time.Now().Truncate(time.Millisecond)
	wet(t0)

	// The periodic snapshot has the pending for.
	db, err := sqlitedb.Open(context.Background(), filepath.Join(dir, "caretaker.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitFor(t, 10*time.Second, "a rule-state snapshot holding the pending for of leak-b1-01", func() bool {
		var body string
		err := db.QueryRow("SELECT body FROM rule_state_devices WHERE partition = '' AND device = 'leak-b1-01'").Scan(&body)
		if err != nil && !errors.Is(err, sql.ErrNoRows) && !strings.Contains(err.Error(), "no such table") {
			t.Fatal(err)
		}
		return strings.Contains(body, `"rule":"water-leak"`) &&
			strings.Contains(body, `"pending_since":"`+t0.UTC().Format(time.RFC3339Nano)+`"`)
	})
	if alarms := allAlarms(t, base); len(alarms) != 0 {
		t.Fatalf("alarms before the for ran out: %+v", alarms)
	}

	proc.Kill()
	proc.Start()
	proc.WaitReady(base, 30*time.Second)
	wet(time.Now()) // still wet

	want := t0.Add(10 * time.Second)
	var got drillAlarm
	waitFor(t, 30*time.Second, "the water-leak alarm of leak-b1-01", func() bool {
		for _, a := range allAlarms(t, base) {
			if a.RuleID == "water-leak" && a.Device == "leak-b1-01" {
				got = a
				return true
			}
		}
		return false
	})
	if !got.RaisedAt.Equal(want) || got.ID != fmt.Sprintf("water-leak:leak-b1-01:%d", t0.UnixMilli()) {
		t.Fatalf("alarm %s raised at %s; want the episode wet since %s raised at %s (the for not restarted)",
			got.ID, got.RaisedAt.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if n := len(sensorTickets(t, base)); n != 1 {
		t.Fatalf("%d sensor tickets, want 1", n)
	}
}

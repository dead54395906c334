package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/sqlitedb"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// lostReplies passes every alarm to the real ticket store but reports the
// first n as failed, as when the store commits and the answer is lost.
type lostReplies struct {
	mu   sync.Mutex
	n    int
	sink rules.AlarmSink
}

func (l *lostReplies) HandleAlarm(ctx context.Context, a rules.Alarm) error {
	err := l.sink.HandleAlarm(ctx, a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 {
		l.n--
		return errors.New("reply lost")
	}
	return err
}

// lockStore holds the write lock of the SQLite file at path, on a
// connection of its own as another process would, until unlock is
// called; what it opened is closed when the test ends.
func lockStore(t *testing.T, path string) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitedb.Open(ctx, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return func() {
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
}

// TestAlarmHandoffSurvivesAFailingTicketStore: while the real SQLite ticket
// store refuses alarms (its write lock held by another connection, or its
// answers lost), the engine keeps every change, counts the failures, shows
// them pending and retries on its tick in order; once the store takes them
// there is exactly one ticket and the alarm ends cleared.
func TestAlarmHandoffSurvivesAFailingTicketStore(t *testing.T) {
	for _, tc := range []struct {
		name       string
		lock       bool // hold the store's write lock until recovery
		lost       int  // replies lost after the store committed
		wantFailed float64
	}{
		{name: "store locked", lock: true, wantFailed: 2}, // the raise and its first retry; the clear waits behind it
		{name: "replies lost", lost: 1, wantFailed: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "caretaker.db")
			tickets, err := ticketing.Open(ctx, ticketing.Config{Path: path, BusyTimeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer tickets.Close()

			var unlock func()
			if tc.lock {
				unlock = lockStore(t, path)
			}
			var sink rules.AlarmSink = tickets
			if tc.lost > 0 {
				sink = &lostReplies{n: tc.lost, sink: tickets}
			}
			t0 := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
			now := t0
			metrics := prometheus.NewRegistry()
			engine, err := rules.NewEngine(rules.Config{Sink: sink, Now: func() time.Time { return now }, Metrics: metrics,
				Rules: []rules.Rule{{ID: "leak", Kind: devices.KindWaterLeak, Metric: "leak", Severity: rules.Critical,
					Condition: rules.Condition{Op: "is", Value: true}}}})
			if err != nil {
				t.Fatal(err)
			}
			reading := func(sec int, leak bool) {
				now = t0.Add(time.Duration(sec) * time.Second)
				engine.Reading(ctx, devices.Reading{Device: "leak-b1-01", Kind: devices.KindWaterLeak, Site: "s1", Building: "B1",
					Time: now, Received: now, Values: map[string]devices.Value{"leak": devices.FlagValue(leak)}})
			}
			tick := func(sec int) {
				now = t0.Add(time.Duration(sec) * time.Second)
				engine.Tick(ctx, now)
			}
			count := func() int {
				ts, err := tickets.List(ctx, ticketing.Filter{Device: "leak-b1-01"})
				if err != nil {
					t.Fatal(err)
				}
				return len(ts)
			}

			reading(0, true)
			if got := engine.PendingHandoffs(); got != 1 {
				t.Fatalf("after a refused raise: %d pending, want 1", got)
			}
			if tc.lock {
				tick(1) // still locked: kept
				reading(2, false)
				if got := engine.PendingHandoffs(); got != 2 {
					t.Fatalf("clear behind a waiting raise: %d pending, want 2", got)
				}
				unlock()
			}
			tick(3)
			if got := engine.PendingHandoffs(); got != 0 {
				t.Fatalf("after recovery: %d pending, want 0", got)
			}
			if !tc.lock {
				reading(4, false)
			}
			tick(5)
			if n := count(); n != 1 {
				t.Fatalf("%d tickets, want exactly 1", n)
			}
			alarms, err := tickets.Alarms(ctx, ticketing.AlarmsAll)
			if err != nil {
				t.Fatal(err)
			}
			if len(alarms) != 1 || alarms[0].State != rules.Cleared || alarms[0].TicketID == 0 {
				t.Fatalf("stored alarms %+v: want one, cleared, with its ticket", alarms)
			}
			if got := gathered(t, metrics, "caretaker_alarm_handoff_failures_total"); got != tc.wantFailed {
				t.Fatalf("caretaker_alarm_handoff_failures_total = %v, want %v", got, tc.wantFailed)
			}
			if got := gathered(t, metrics, "caretaker_alarm_handoffs_pending"); got != 0 {
				t.Fatalf("caretaker_alarm_handoffs_pending = %v, want 0", got)
			}
		})
	}
}

// gathered reads one unlabelled counter or gauge.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	m := testkit.Gather(t, reg)
	if !m.Has(name) {
		t.Fatalf("metric %s not registered", name)
	}
	return m.Sum(name)
}

// TestAlarmHandoffWhileStoreLockedServe: a running caretaker whose SQLite
// file is locked by another process's write transaction cannot store an
// L1 gas alarm; /readyz counts it pending; once the lock is gone the
// engine's retry stores it: exactly one ticket, nothing pending.
func TestAlarmHandoffWhileStoreLockedServe(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct := newCaretakerDir(t, operatorConfig(broker.Addr, "caretaker-locked",
		`  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room"}
`))
	dir := ct.Dir
	startCaretaker(t, ct.Config)
	base := ct.Base
	var ready struct {
		Status  string `json:"status"`
		Pending int    `json:"pending_alarm_handoffs"`
	}
	readyz := func() int {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		ready.Pending = -1
		if json.NewDecoder(resp.Body).Decode(&ready) != nil {
			return -1
		}
		return resp.StatusCode
	}
	waitFor(t, 20*time.Second, "caretaker ready", func() bool { return readyz() == http.StatusOK })

	// Another process holds the write lock of the ticket store.
	unlock := lockStore(t, filepath.Join(dir, "caretaker.db"))
	publish(t, broker.Addr, "sites/s1/devices/gas-b2-07/telemetry",
		fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 35}}`, time.Now().UnixMilli()))
	waitFor(t, 30*time.Second, "/readyz counting the refused alarms", func() bool {
		readyz()
		return ready.Pending >= 1
	})
	unlock()
	waitFor(t, 30*time.Second, "nothing pending once the store is back", func() bool {
		return readyz() == http.StatusOK && ready.Pending == 0
	})
	var list struct{ Tickets []ticketing.Ticket }
	getJSON(t, base+"/api/tickets", operatorToken, &list)
	if len(list.Tickets) != 1 || list.Tickets[0].Level != 1 {
		t.Fatalf("tickets %+v, want exactly one L1", list.Tickets)
	}
}

package ticketing

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/rules"
)

// recorder is a Notifier that keeps what it heard.
type recorder struct {
	mu     sync.Mutex
	events []event
}

type event struct {
	Type string
	Data any
}

func (r *recorder) Notify(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{ev.Type, ev.Data})
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i] = e.Type
	}
	return out
}

func (r *recorder) reset() { r.mu.Lock(); r.events = nil; r.mu.Unlock() }

// beijing is the local zone of the tests: 2026-11-22 17:00 UTC is
// already 23 Nov there, which the ticket number must show.
var beijing = time.FixedZone("CST", 8*3600)

var t0 = time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC)

type fixture struct {
	svc   *Service
	clock *testkit.FakeClock
	rec   *recorder
	path  string
	cfg   Config
}

// The store engines. The store tests run on each (forEachBackend); the
// others on testBackend.
const (
	onSQLite     = "sqlite"
	onPostgreSQL = "postgresql"
)

// testBackend is the engine of the tests that name none:
// CARETAKER_TEST_STORE=postgresql runs them all on PostgreSQL.
func testBackend() string {
	if b := os.Getenv("CARETAKER_TEST_STORE"); b != "" {
		return b
	}
	return onSQLite
}

// forEachBackend runs fn as a subtest on SQLite and on a real PostgreSQL
// (one server for the package, a fresh database per test).
func forEachBackend(t *testing.T, fn func(t *testing.T, backend string)) {
	for _, b := range []string{onSQLite, onPostgreSQL} {
		t.Run(b, func(t *testing.T) { fn(t, b) })
	}
}

func newFixture(t *testing.T, mutate ...func(*Config)) *fixture {
	t.Helper()
	return newFixtureOn(t, testBackend(), mutate...)
}

// newFixtureOn opens the service on backend. On PostgreSQL Path still
// places the photos folder.
func newFixtureOn(t *testing.T, backend string, mutate ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{clock: testkit.NewFakeClock(t0), rec: &recorder{}, path: filepath.Join(t.TempDir(), "data", "caretaker.db")}
	// No checklists unless a test asks for them (checklist_test.go).
	f.cfg = Config{Path: f.path, Notifier: f.rec, Now: f.clock.Now, Location: beijing, Checklists: []Checklist{}}
	switch backend {
	case onPostgreSQL:
		f.cfg.URL = testserver.PostgresDB(t)
	case onSQLite:
	default:
		t.Fatalf("store backend %q: want %s or %s", backend, onSQLite, onPostgreSQL)
	}
	for _, m := range mutate {
		m(&f.cfg)
	}
	f.open(t)
	t.Cleanup(func() { f.svc.Close() })
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	svc, err := Open(context.Background(), f.cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	f.svc = svc
}

func (f *fixture) reopen(t *testing.T) {
	t.Helper()
	if err := f.svc.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	f.open(t)
}

// gasAlarm is gas-b2-07 crossing 20 %LEL at the fixture's current time.
func gasAlarm(f *fixture, value float64) rules.Alarm {
	at := f.clock.Now()
	return rules.Alarm{
		ID: rules.AlarmID("gas-lel-critical", "gas-b2-07", at), RuleID: "gas-lel-critical",
		RuleName: "Gas above alarm level", Device: "gas-b2-07", Kind: devices.KindGas,
		Site: "s1", Building: "B2", Location: "B2 boiler room", Metric: "lel_pct",
		Severity: rules.Critical, Level: 1, State: rules.Raised, Value: value, Peak: value,
		Message: fmt.Sprintf("lel_pct %.1f >= 20", value), RaisedAt: at,
	}
}

func mustHandle(t *testing.T, f *fixture, a rules.Alarm) {
	t.Helper()
	if err := f.svc.HandleAlarm(context.Background(), a); err != nil {
		t.Fatalf("HandleAlarm(%s %s): %v", a.State, a.ID, err)
	}
}

func mustOpenTickets(t *testing.T, f *fixture) []Ticket {
	t.Helper()
	ts, err := f.svc.OpenTickets(context.Background())
	if err != nil {
		t.Fatalf("OpenTickets: %v", err)
	}
	return ts
}

func mustGet(t *testing.T, f *fixture, id int64) Ticket {
	t.Helper()
	tk, err := f.svc.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%d): %v", id, err)
	}
	return tk
}

func actions(h []HistoryEntry) []string {
	out := make([]string, len(h))
	for i, e := range h {
		out[i] = e.Action
	}
	return out
}

var operator = Actor{Name: "ops1", Role: "operator"}
var patrol = Actor{Name: "pat1", Role: "patrol"}

var tech1 = Actor{Name: "tech1", Role: "technician"}

// mustAct applies an action that must succeed.
func mustAct(t *testing.T, f *fixture, by Actor, id int64, req ActionRequest) ActionResult {
	t.Helper()
	res, err := f.svc.Act(context.Background(), by, id, req)
	if err != nil {
		t.Fatalf("%s %s on ticket %d: %v", by.Name, req.Action, id, err)
	}
	return res
}

// resolveTicket takes a public ticket through claim (or accept), arrive
// and resolve by tech1.
func resolveTicket(t *testing.T, f *fixture, id int64, note string) {
	t.Helper()
	switch st := mustGet(t, f, id).Status; st {
	case StatusNew:
		mustAct(t, f, tech1, id, ActionRequest{Action: ActClaim})
	case StatusDispatched:
		mustAct(t, f, tech1, id, ActionRequest{Action: ActAccept})
	}
	mustAct(t, f, tech1, id, ActionRequest{Action: ActArrive})
	// The alarm of a sensor ticket may still be active: these tests are
	// about what follows the resolution, so they override it.
	mustAct(t, f, tech1, id, ActionRequest{Action: ActResolve, Note: note, Override: true, Reason: "resolved in the test while the alarm holds"})
}

// eventsOf returns the events of one type.
func (r *recorder) eventsOf(typ string) []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []any
	for _, e := range r.events {
		if e.Type == typ {
			out = append(out, e.Data)
		}
	}
	return out
}

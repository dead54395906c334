package rules

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// memState is a StateStore in memory for the engine's own tests (the
// Store is tested on SQLite and PostgreSQL below): it applies a batch as
// a transaction would, all or nothing, and counts what it wrote.
type memState struct {
	mu     sync.Mutex
	rows   map[string]string // by device; "" the head
	writes map[string]int    // rows written (upserted or removed), by device
	saves  int               // SaveState calls (batches)
	fail   error
}

func newMemState() *memState { return &memState{rows: map[string]string{}, writes: map[string]int{}} }

func (m *memState) SaveState(_ context.Context, b StateBatch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	if m.fail != nil {
		return m.fail
	}
	for _, d := range b.Devices {
		m.writes[d.Device]++
		if d.Body == nil {
			delete(m.rows, d.Device)
		} else {
			m.rows[d.Device] = string(d.Body)
		}
	}
	if b.Head != nil {
		m.writes[""]++
		m.rows[""] = string(b.Head)
	}
	return nil
}

func (m *memState) LoadState(_ context.Context, fn func(device string, body []byte) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]string, 0, len(m.rows))
	for k := range m.rows {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the head first
	for _, k := range keys {
		if err := fn(k, []byte(m.rows[k])); err != nil {
			return err
		}
	}
	return nil
}

func (m *memState) devices() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.rows {
		if k != "" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func (m *memState) counts() (saves int, writes map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saves, maps(m.writes)
}

func maps(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// restart makes a new engine with the harness's rules, clock and sink,
// and takes back the saved state.
func (h *harness) restart(from StateLoader, rules ...Rule) {
	h.t.Helper()
	cfg := Config{Rules: rules, Sink: h.sink, Now: h.clock.Now}
	if h.reg != nil {
		cfg.Devices = h.reg
	}
	e, err := NewEngine(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := e.RestoreState(context.Background(), from); err != nil {
		h.t.Fatal(err)
	}
	h.e = e
}

func (h *harness) save(to StateStore) int {
	h.t.Helper()
	n, err := h.e.SaveChanges(context.Background(), to)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// TestStateChangedAfterASaveSurvivesARestart: what changed after a save,
// by a reading (d2 got wet, d3's rate window moved) or by time alone (d1's
// for completed on a tick), is in the next save, and a restart from the
// rows goes on from it.
func TestStateChangedAfterASaveSurvivesARestart(t *testing.T) {
	rate := Rule{ID: "heat", Kind: devices.KindElevator, Metric: "motor_temp_c", Severity: Major,
		Condition: Condition{Op: "rate_above", PerMinute: 5}}
	st := newMemState()
	h := newHarness(t, nil, leakRule, rate)
	h.run(leakRule, []step{atDev(0, "d1", true)})
	h.run(rate, []step{atDev(0, "d3", 20.0)})
	h.save(st)
	h.run(leakRule, []step{tick(10), atDev(55, "d2", true)}) // d1 raised by the tick
	h.run(rate, []step{atDev(60, "d3", 22.0)})
	h.save(st)
	h.restart(st, leakRule, rate)
	if a := h.e.Active(); len(a) != 1 || a[0].Device != "d1" {
		t.Fatalf("active after the restart %+v, want d1's leak (raised by a tick after the first save)", a)
	}
	h.run(leakRule, []step{tick(65)})
	h.run(rate, []step{atDev(90, "d3", 26.0)}) // +4 in 30 s: over 5/min from +60, not from +0
	if got, want := h.sink.states(), "raised@10 raised@65 raised@90"; got != want {
		t.Fatalf("%q, want %q (d2's for and d3's rate window from after the first save)", got, want)
	}
}

// TestUnchangedDeviceIsNotRewritten: a save writes the devices whose state
// changed since the last one, and nothing at all when none did.
func TestUnchangedDeviceIsNotRewritten(t *testing.T) {
	st := newMemState()
	h := newHarness(t, nil, leakRule)
	h.run(leakRule, []step{atDev(0, "d1", true), atDev(0, "d2", true), atDev(0, "d3", true)})
	if n := h.save(st); n != 3 {
		t.Fatalf("first save wrote %d devices, want 3", n)
	}
	h.run(leakRule, []step{atDev(2, "d2", true), tick(5)}) // a tick with nothing due changes nothing
	if n := h.save(st); n != 1 {
		t.Fatalf("second save wrote %d devices, want 1 (d2)", n)
	}
	saves, writes := st.counts()
	if saves != 2 || writes["d1"] != 1 || writes["d2"] != 2 || writes["d3"] != 1 || writes[""] != 1 {
		t.Fatalf("%d saves, rows written %v; want 2 saves, d2 twice, d1, d3 and the head once", saves, writes)
	}
	if n := h.save(st); n != 0 {
		t.Fatalf("a save with nothing changed wrote %d devices", n)
	}
	if saves, _ := st.counts(); saves != 2 {
		t.Fatalf("a save with nothing changed reached the store (%d saves, want 2)", saves)
	}
	// After a restart from the rows, nothing has changed either.
	h.restart(st, leakRule)
	if n := h.save(st); n != 0 {
		t.Fatalf("a save right after a restart wrote %d devices", n)
	}
	if saves, _ := st.counts(); saves != 2 {
		t.Fatalf("a save right after a restart reached the store (%d saves, want 2)", saves)
	}
}

// TestEndedStateIsRemovedFromTheStore: a device whose episode ended (its
// alarm cleared, nothing left worth keeping) loses its row, and a restart
// does not bring the episode back.
func TestEndedStateIsRemovedFromTheStore(t *testing.T) {
	st := newMemState()
	h := newHarness(t, nil, leakRule)
	h.run(leakRule, []step{atDev(0, "d1", true), atDev(0, "d2", true), tick(10)})
	h.save(st)
	if got := st.devices(); got != "d1,d2" {
		t.Fatalf("stored %q, want d1,d2", got)
	}
	h.run(leakRule, []step{atDev(12, "d1", false)})
	h.save(st)
	if got := st.devices(); got != "d2" {
		t.Fatalf("stored %q after d1 cleared, want d2 alone", got)
	}
	h.restart(st, leakRule)
	if a := h.e.Active(); len(a) != 1 || a[0].Device != "d2" {
		t.Fatalf("active after the restart %+v, want d2's alone", a)
	}
}

// TestFailedSaveIsWrittenNextTime: the changes a store refused are written
// by the next save.
func TestFailedSaveIsWrittenNextTime(t *testing.T) {
	st := newMemState()
	h := newHarness(t, nil, leakRule)
	h.run(leakRule, []step{atDev(0, "d1", true)})
	st.fail = errors.New("disk full")
	if _, err := h.e.SaveChanges(context.Background(), st); err == nil {
		t.Fatal("SaveChanges hid the store's error")
	}
	st.fail = nil
	if n := h.save(st); n != 1 || st.devices() != "d1" {
		t.Fatalf("the save after a failed one wrote %d devices (%q), want d1", n, st.devices())
	}
}

// TestRestoreStateOfARemovedRuleRewritesTheRow: a row holding the state
// of a rule that is gone is written again without it at the next save.
func TestRestoreStateOfARemovedRuleRewritesTheRow(t *testing.T) {
	st := newMemState()
	other := with(leakRule, func(r *Rule) { r.ID = "leak2" })
	h := newHarness(t, nil, leakRule, other)
	h.run(leakRule, []step{atDev(0, "d1", true)})
	h.save(st)
	if !strings.Contains(st.rows["d1"], `"rule":"leak2"`) {
		t.Fatalf("d1's row %s, want leak2's episode in it", st.rows["d1"])
	}
	h.restart(st, leakRule)
	h.save(st)
	if row := st.rows["d1"]; strings.Contains(row, `"rule":"leak2"`) || !strings.Contains(row, `"rule":"leak"`) {
		t.Fatalf("d1's row after the restart without leak2: %s", row)
	}
}

// TestStoreSavesStateByDevice: on both engines, a device's row is written
// when it changed and only then (its saved_at moves), removed when its
// state ended, and the whole snapshot an older instance saved is taken
// back once and then replaced by the rows.
func TestStoreSavesStateByDevice(t *testing.T) {
	forEachStore(t, func(t *testing.T, where StoreConfig) {
		ctx := context.Background()
		now := t0
		st := openStore(t, where, func() time.Time { return now })
		// An older instance's whole snapshot: d1 wet since +0.
		old := newHarness(t, nil, leakRule)
		old.run(leakRule, []step{atDev(0, "d1", true)})
		body, err := old.e.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.db.ExecContext(ctx, "INSERT INTO rule_state(id, body, saved_at) VALUES (1, ?, 0)", string(body)); err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, nil, leakRule)
		h.restart(st, leakRule)
		h.run(leakRule, []step{atDev(1, "d2", true), atDev(1, "d3", true)})
		h.save(st)
		savedAt := func(device string) int64 {
			var at int64
			err := st.db.QueryRowContext(ctx, "SELECT saved_at FROM rule_state_devices WHERE partition = '' AND device = ?", device).Scan(&at)
			if errors.Is(err, sql.ErrNoRows) {
				return -1
			}
			if err != nil {
				t.Fatal(err)
			}
			return at
		}
		var legacy int
		if err := st.db.QueryRowContext(ctx, "SELECT count(*) FROM rule_state").Scan(&legacy); err != nil || legacy != 0 {
			t.Fatalf("%d whole snapshots left (%v), want the older instance's removed", legacy, err)
		}
		if got := storedDevices(t, st, ""); got != "d1,d2,d3" {
			t.Fatalf("stored %q, want d1,d2,d3", got)
		}
		first := now.UnixMilli()
		now = t0.Add(time.Minute)
		h.run(leakRule, []step{atDev(5, "d2", true), atDev(5, "d3", false)})
		h.save(st)
		if a, b, c := savedAt("d1"), savedAt("d2"), savedAt("d3"); a != first || b != now.UnixMilli() || c != -1 {
			t.Fatalf("saved_at d1 %d, d2 %d, d3 %d; want d1 not rewritten (%d), d2 rewritten (%d), d3 removed",
				a, b, c, first, now.UnixMilli())
		}
		st.Close()
		st = openStore(t, where, func() time.Time { return now })
		h.restart(st, leakRule)
		h.run(leakRule, []step{tick(10), tick(11)})
		if got, want := h.sink.states(), "raised@10 raised@11"; got != want {
			t.Fatalf("after a reopen %q, want %q (d1 from the older snapshot, d2 from its row)", got, want)
		}
		// Many devices at once: more than one statement's worth.
		for i := range 3*stateBatch + 7 {
			h.run(leakRule, []step{atDev(20, "m"+string(rune('a'+i%26))+strings.Repeat("x", i/26), true)})
		}
		h.save(st)
		var rows int
		if err := st.db.QueryRowContext(ctx, "SELECT count(*) FROM rule_state_devices WHERE partition = ''").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if want := 1 + 2 + 3*stateBatch + 7; rows != want {
			t.Fatalf("%d rows, want %d (the head, d1, d2 and the new devices)", rows, want)
		}
	})
}

// TestCalendarAtRestKeepsWhenFirstSeen: a calendar rule not yet due keeps
// no episode, only when the device was first seen (or serviced), and that
// survives a restart, from a whole snapshot and from the rows by device:
// the lift is overdue 15 days after it was first seen, not after the
// restart.
func TestCalendarAtRestKeepsWhenFirstSeen(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	const rule = "elevator-maintenance-overdue"
	for _, byDevice := range []bool{false, true} {
		h := packHarness(t, nil)
		h.e.Tick(ctx, t0) // the roster: e1 seen from t0
		if s := h.e.Stats().Rules[rule]; s.Slots != 1 || s.Episodes != 0 {
			t.Fatalf("%s at rest: %+v, want a slot and no episode", rule, s)
		}
		rows := newMemState()
		h.save(rows)
		snap, err := h.e.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		pack, _ := DefaultPack()
		h.clock.Set(t0.Add(5 * day))
		if byDevice {
			h.restart(rows, pack...)
		} else {
			h.e, err = NewEngine(Config{Rules: pack, Sink: h.sink, Now: h.clock.Now, Devices: h.reg})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.e.RestoreSnapshot(snap); err != nil {
				t.Fatal(err)
			}
		}
		if s := h.e.Stats().Rules[rule]; s.Slots != 1 || s.Episodes != 0 {
			t.Fatalf("%s at rest after the restart (by device %v): %+v, want a slot and no episode", rule, byDevice, s)
		}
		for _, d := range []time.Duration{5 * day, 15*day - time.Minute, 15 * day} {
			h.clock.Set(t0.Add(d))
			h.e.Tick(ctx, t0.Add(d))
		}
		var got []string
		for _, a := range h.sink.alarms {
			if a.RuleID == rule {
				got = append(got, string(a.State)+"@"+a.RaisedAt.Sub(t0).String())
			}
		}
		if strings.Join(got, " ") != "raised@360h0m0s" {
			t.Fatalf("by device %v: %v, want raised 15 days after e1 was first seen", byDevice, got)
		}
	}
}

// TestSaveInBatchesWithTheHeadLast: a save of more devices than a batch
// hands the store several batches, the head with the last; when one
// fails, the devices the batches before it wrote stay written and the
// rest are written by the next save.
func TestSaveInBatchesWithTheHeadLast(t *testing.T) {
	st := newMemState()
	h := newHarness(t, nil, leakRule)
	n := 2*deltaBatch + 10
	for i := range n {
		h.run(leakRule, []step{atDev(0, fmt.Sprintf("d%05d", i), true)})
	}
	failing := &failAfter{memState: st, ok: 1}
	if _, err := h.e.SaveChanges(context.Background(), failing); err == nil {
		t.Fatal("the failed batch was not told")
	}
	if got := len(st.rows); got != deltaBatch {
		t.Fatalf("%d rows after the second batch failed, want the first batch's %d (and no head)", got, deltaBatch)
	}
	if w := h.save(st); w != n-deltaBatch {
		t.Fatalf("the next save wrote %d devices, want the %d not written", w, n-deltaBatch)
	}
	saves, writes := st.counts()
	if _, ok := st.rows[""]; !ok || len(st.rows) != n+1 || writes[""] != 1 {
		t.Fatalf("%d rows, head written %d times, want %d rows and the head once", len(st.rows), writes[""], n+1)
	}
	if saves != 1+1+2 { // one good, one refused, then two batches
		t.Fatalf("%d batches handed to the store, want 4", saves)
	}
}

// failAfter refuses the batches after the first ok ones.
type failAfter struct {
	*memState
	ok int
}

func (f *failAfter) SaveState(ctx context.Context, b StateBatch) error {
	if f.ok == 0 {
		f.memState.mu.Lock()
		f.memState.saves++
		f.memState.mu.Unlock()
		return errors.New("disk full")
	}
	f.ok--
	return f.memState.SaveState(ctx, b)
}

// TestSaveDoesNotHoldTheEngine: the store writes without the engine's
// lock. A store sharing its database with the alarm sink (SQLite: one
// writer at a time) holds the database while it writes; a reading that
// raises meanwhile holds the engine and waits for the database in the
// sink. The save must not need the engine then, or both wait for ever
// (SQLite: until its busy timeout fails the ticket).
func TestSaveDoesNotHoldTheEngine(t *testing.T) {
	var db sync.Mutex
	sink := &dbSink{db: &db, entered: make(chan struct{}, 1)}
	e, err := NewEngine(Config{Rules: []Rule{gasRule}, Sink: sink, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	read := func(dev string, v float64) {
		e.Reading(context.Background(), devices.Reading{Device: dev, Kind: devices.KindGas, Site: "s1", Building: "B1", Time: t0,
			Values: map[string]devices.Value{"lel_pct": devices.Num(v)}})
	}
	for i := range 3 * deltaChunk {
		read(fmt.Sprintf("g%04d", i), 25) // raised: kept
	}
	<-sink.entered
	st := &dbState{memState: newMemState(), db: &db}
	reached := make(chan bool, 1)
	st.during = func() {
		go read("late", 30) // raises: holds the engine, waits in the sink for the database
		select {
		case <-sink.entered:
			reached <- true
		case <-time.After(30 * time.Second):
			reached <- false
		}
	}
	done := make(chan error, 1)
	go func() { _, err := e.SaveChanges(context.Background(), st); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the save and a reading wait for each other")
	}
	if !<-reached {
		t.Fatal("the reading during the save never reached the sink")
	}
	if n := len(st.rows); n < 3*deltaChunk {
		t.Fatalf("%d rows saved, want the %d devices'", n, 3*deltaChunk)
	}
}

// dbSink is an alarm sink writing into a database (db) the state store
// shares.
type dbSink struct {
	db      *sync.Mutex
	entered chan struct{}
}

func (s *dbSink) HandleAlarm(context.Context, Alarm) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	s.db.Lock()
	defer s.db.Unlock()
	return nil
}

// dbState holds the database while it writes a batch; during runs once
// in the first.
type dbState struct {
	*memState
	db     *sync.Mutex
	during func()
}

func (d *dbState) SaveState(ctx context.Context, b StateBatch) error {
	d.db.Lock()
	defer d.db.Unlock()
	if f := d.during; f != nil {
		d.during = nil
		f()
	}
	return d.memState.SaveState(ctx, b)
}

// TestPartitionStateTakesBackAnOlderSnapshot: a cluster partition's whole
// snapshot an older instance saved is taken back by the partition's next
// leader and replaced by the partition's rows at its first save; another
// partition's state is not touched.
func TestPartitionStateTakesBackAnOlderSnapshot(t *testing.T) {
	forEachStore(t, func(t *testing.T, where StoreConfig) {
		ctx := context.Background()
		st := openStore(t, where, func() time.Time { return t0 })
		old := newHarness(t, nil, leakRule)
		old.run(leakRule, []step{atDev(0, "d1", true)})
		body, err := old.e.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"north", "south"} {
			if _, err := st.db.ExecContext(ctx, "INSERT INTO rule_state_partitions(partition, body, saved_at) VALUES (?, ?, 0)", p, string(body)); err != nil {
				t.Fatal(err)
			}
		}
		north := PartitionState{Store: st, Partition: "north"}
		h := newHarness(t, nil, leakRule)
		h.restart(north, leakRule)
		h.save(north)
		var left []string
		rows, err := st.db.QueryContext(ctx, "SELECT partition FROM rule_state_partitions ORDER BY partition")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				t.Fatal(err)
			}
			left = append(left, p)
		}
		rows.Close()
		if strings.Join(left, ",") != "south" {
			t.Fatalf("whole snapshots left: %v, want south's alone", left)
		}
		if got, other := storedDevices(t, st, "north"), storedDevices(t, st, ""); got != "d1" || other != "" {
			t.Fatalf("rows of north %q, of a single instance %q; want d1 under north alone", got, other)
		}
		h.restart(north, leakRule)
		h.run(leakRule, []step{tick(10)})
		if got := h.sink.states(); got != "raised@10" {
			t.Fatalf("after the partition's rows were taken back: %q, want d1 raised at +10s", got)
		}
	})
}

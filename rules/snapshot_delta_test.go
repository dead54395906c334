package rules

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// memState is a StateStore in memory for the engine's own tests (the
// Store is tested on SQLite and PostgreSQL below): it applies a delta as
// a transaction would, all or nothing, and counts what it wrote.
type memState struct {
	mu     sync.Mutex
	rows   map[string]string // by device; "" the head
	writes map[string]int    // rows written (upserted or removed), by device
	saves  int               // SaveState calls
	fail   error
}

func newMemState() *memState { return &memState{rows: map[string]string{}, writes: map[string]int{}} }

func (m *memState) SaveState(_ context.Context, d *StateDelta) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	if m.fail != nil {
		return m.fail
	}
	tx := map[string]*string{}
	if h := d.Head(); h != nil {
		s := string(h)
		tx[""] = &s
	}
	err := d.Each(func(device string, body []byte) error {
		if body == nil {
			tx[device] = nil
		} else {
			s := string(body)
			tx[device] = &s
		}
		return nil
	})
	if err != nil {
		return err
	}
	for dev, body := range tx {
		m.writes[dev]++
		if body == nil {
			delete(m.rows, dev)
		} else {
			m.rows[dev] = *body
		}
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

package rules

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/fence"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// forEachStore runs fn as a subtest on a fresh SQLite file and on a fresh
// database of a real PostgreSQL (one server for the package).
func forEachStore(t *testing.T, fn func(t *testing.T, where StoreConfig)) {
	for _, backend := range []string{"sqlite", "postgresql"} {
		t.Run(backend, func(t *testing.T) {
			where := StoreConfig{Path: filepath.Join(t.TempDir(), "caretaker.db")}
			if backend == "postgresql" {
				where = StoreConfig{URL: testserver.PostgresDB(t)}
			}
			fn(t, where)
		})
	}
}

func openStore(t *testing.T, where StoreConfig, now func() time.Time) *Store {
	t.Helper()
	where.Now = now
	st, err := OpenStore(context.Background(), where)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestStoreKeepsVersionsServicesAndStateAcrossReopen: every table of the
// rules store, written and read back after a reopen, on both engines.
func TestStoreKeepsVersionsServicesAndStateAcrossReopen(t *testing.T) {
	forEachStore(t, func(t *testing.T, where StoreConfig) {
		ctx := context.Background()
		at := time.Date(2026, 11, 22, 17, 0, 0, 123e6, time.UTC)
		now := func() time.Time { return at }
		st := openStore(t, where, now)
		if n, err := newHarness(t, nil, leakRule).e.RestoreState(ctx, st); err != nil || n != 0 {
			t.Fatalf("RestoreState from a new store = %d, %v; want 0", n, err)
		}
		if n, err := st.Seed(ctx, []Rule{gasRule}); err != nil || n != 1 {
			t.Fatalf("Seed = %d, %v", n, err)
		}
		if n, err := st.Seed(ctx, []Rule{gasRule}); err != nil || n != 0 {
			t.Fatalf("Seed again = %d, %v; want 0", n, err)
		}
		v2, err := st.Append(ctx, with(gasRule, func(r *Rule) { r.Condition.Value = 25 }), ActionUpdate, Author{Name: "eng1", Role: "engineer"}, "runs high")
		if err != nil || v2.Version != 2 || v2.Old == nil || v2.Old.Version != 1 {
			t.Fatalf("Append = %+v, %v", v2, err)
		}
		base := 1200.5
		for _, sv := range []Service{
			{RuleID: "doors", Device: "d1", By: "tech1", At: at},
			{RuleID: "doors", Device: "d1", Base: &base, By: "tech2", Reason: "rollers", At: at.Add(time.Minute)},
			{RuleID: "doors", Device: "d2", By: "tech1", At: at},
		} {
			if err := st.AddService(ctx, sv); err != nil {
				t.Fatal(err)
			}
		}
		// d1 wet since +0, d2 wet at +1 then dry: only d1's pending for
		// is saved.
		h := newHarness(t, nil, leakRule)
		h.run(leakRule, []step{atDev(0, "d1", true), atDev(1, "d2", true)})
		if _, err := h.e.SaveChanges(ctx, st); err != nil {
			t.Fatal(err)
		}
		h.run(leakRule, []step{atDev(2, "d2", false)})
		if _, err := h.e.SaveChanges(ctx, st); err != nil {
			t.Fatal(err)
		}
		st.Close()

		st = openStore(t, where, now)
		hist, err := st.History(ctx, "gas")
		if err != nil || len(hist) != 2 {
			t.Fatalf("History = %+v, %v", hist, err)
		}
		if h := hist[1]; h.Action != ActionUpdate || h.By != "eng1" || h.Reason != "runs high" || !h.At.Equal(at) ||
			h.Rule.Condition.Value != 25.0 || h.Old == nil || h.Old.Condition.Value != 20.0 {
			t.Fatalf("version 2 after reopen = %+v", h)
		}
		if _, err := st.History(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("History of an unknown rule: %v", err)
		}
		cur, err := st.Current(ctx)
		if err != nil || cur["gas"].Live == nil || cur["gas"].Live.Version != 2 {
			t.Fatalf("Current = %+v, %v", cur, err)
		}
		svs, err := st.LastServices(ctx)
		if err != nil || len(svs) != 2 {
			t.Fatalf("LastServices = %+v, %v", svs, err)
		}
		if s := svs[0]; s.Device != "d1" || s.By != "tech2" || s.Base == nil || *s.Base != base || !s.At.Equal(at.Add(time.Minute)) {
			t.Fatalf("last service of d1 = %+v", s)
		}
		if s := svs[1]; s.Device != "d2" || s.Base != nil {
			t.Fatalf("last service of d2 = %+v", s)
		}
		h2 := newHarness(t, nil, leakRule)
		if n, err := h2.e.RestoreState(ctx, st); err != nil || n != 1 {
			t.Fatalf("RestoreState = %d, %v; want d1's episode", n, err)
		}
		h2.run(leakRule, []step{tick(10)})
		if got := h2.sink.states(); got != "raised@10" {
			t.Fatalf("after the reopen: %q, want d1 raised at +10s (its for went on)", got)
		}
	})
}

func TestOpenStoreNamesTheBadKey(t *testing.T) {
	for _, c := range []struct {
		cfg StoreConfig
		key string
	}{
		{StoreConfig{}, "store.path"},
		{StoreConfig{URL: "http://db/caretaker"}, "store.url"},
		{StoreConfig{URL: "postgres://user:hunter2@db"}, "store.url"},
	} {
		_, err := OpenStore(context.Background(), c.cfg)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.key || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("OpenStore(%+v) = %v, want a FieldError on %s without the password", c.cfg, err, c.key)
		}
	}
}

// The rule state and services written for a leader whose lease moved on
// are refused; the saved state stays the last leader's.
func TestStoreRefusesWritesOfADeposedLeader(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, StoreConfig{URL: testserver.PostgresDB(t)}, time.Now)
	if _, err := st.db.Exec(`CREATE TABLE ` + fence.LeaseTable + ` (partition TEXT PRIMARY KEY, holder TEXT NOT NULL,
		epoch BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);
		INSERT INTO ` + fence.LeaseTable + ` VALUES ('north', 'b', 3, now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	leader := fence.With(ctx, fence.Token{Partition: "north", Epoch: 3})
	old := fence.With(ctx, fence.Token{Partition: "north", Epoch: 2})
	north := PartitionState{Store: st, Partition: "north"}
	h := newHarness(t, nil, leakRule)
	h.run(leakRule, []step{atDev(0, "d1", true)})
	if _, err := h.e.SaveChanges(leader, north); err != nil {
		t.Fatal(err)
	}
	h.run(leakRule, []step{atDev(1, "d1", false), atDev(1, "d2", true)})
	if _, err := h.e.SaveChanges(old, north); !errors.Is(err, fence.ErrDeposed) {
		t.Fatalf("SaveState of the deposed leader: %v, want ErrDeposed", err)
	}
	if err := st.AddService(old, Service{RuleID: "doors", Device: "d1", By: "tech1", At: time.Now()}); !errors.Is(err, fence.ErrDeposed) {
		t.Fatalf("AddService under the old token: %v, want ErrDeposed", err)
	}
	if got := storedDevices(t, st, "north"); got != "d1" {
		t.Fatalf("saved state of devices %q; want the leader's (d1)", got)
	}
}

// storedDevices lists the devices of a partition's saved rule state.
func storedDevices(t *testing.T, st *Store, partition string) string {
	t.Helper()
	var devs []string
	err := st.loadState(context.Background(), partition, func(device string, _ []byte) error {
		if device != "" {
			devs = append(devs, device)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(devs, ",")
}

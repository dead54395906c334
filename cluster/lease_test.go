package cluster

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/caretaker-iot/caretaker/internal/fence"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

func openLeases(t *testing.T) Leases {
	t.Helper()
	pg := testserver.PostgreSQL(t)
	db, err := sql.Open("pgx", pg.Database(t, "leases"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l := Leases{DB: db}
	if err := l.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Migrate(context.Background()); err != nil {
		t.Fatalf("second migration: %v", err)
	}
	return l
}

// stalling is a lease store whose renewals hang while stalled, as those of
// a leader whose database link is cut.
type stalling struct {
	LeaseStore
	mu      sync.Mutex
	stalled bool
}

func (s *stalling) Renew(ctx context.Context, p, h string, epoch int64, lease time.Duration) (bool, error) {
	s.mu.Lock()
	st := s.stalled
	s.mu.Unlock()
	if st {
		<-ctx.Done()
		return false, ctx.Err()
	}
	return s.LeaseStore.Renew(ctx, p, h, epoch, lease)
}

// member is one instance competing for a partition in the test.
type member struct {
	name    string
	mu      sync.Mutex
	tokens  []fence.Token // terms begun
	leading bool
	cancel  context.CancelFunc
	done    chan error
}

func (m *member) state() (bool, []fence.Token) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leading, append([]fence.Token(nil), m.tokens...)
}

func startMember(t *testing.T, name string, store LeaseStore, lease time.Duration) *member {
	t.Helper()
	m := &member{name: name, done: make(chan error, 1)}
	el, err := New(Config{Leases: store, Partition: "north", Instance: name, Lease: lease,
		Lead: func(ctx context.Context) error { <-ctx.Done(); return nil },
		OnChange: func(leading bool, tok fence.Token) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.leading = leading
			if leading {
				m.tokens = append(m.tokens, tok)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { _ = el.Run(ctx); close(m.done) }()
	t.Cleanup(func() { cancel(); <-m.done })
	return m
}

// TestLeaseTakeOverOnPostgreSQL: of two instances one leads; when it stops
// it gives the lease back and the other takes over under a higher epoch;
// when the leader's renewals hang, it stops leading by the lease's expiry
// and the other takes over; the deposed epoch's writes are refused by
// fence.Check.
func TestLeaseTakeOverOnPostgreSQL(t *testing.T) {
	leases := openLeases(t)
	const lease = 1500 * time.Millisecond
	a := startMember(t, "ct-a", leases, lease)
	testkit.Eventually(t, 10*time.Second, "ct-a leads", func() bool { l, _ := a.state(); return l })
	sb := &stalling{LeaseStore: leases}
	b := startMember(t, "ct-b", sb, lease)

	// A leader that stops gives the lease back: b takes over.
	a.cancel()
	<-a.done
	testkit.Eventually(t, 10*time.Second, "ct-b takes over once ct-a stopped", func() bool { l, _ := b.state(); return l })
	_, at := a.state()
	_, bt := b.state()
	if len(bt) != 1 || bt[0].Epoch <= at[0].Epoch {
		t.Fatalf("ct-b took epoch %v after ct-a's %v: the epoch must rise", bt, at)
	}
	ctx := context.Background()
	if got, err := leases.All(ctx); err != nil || len(got) != 1 || got[0].Holder != "ct-b" {
		t.Fatalf("leases = %+v, %v, want north held by ct-b", got, err)
	}

	// b's database link hangs: it stops leading, c takes over after expiry.
	c := startMember(t, "ct-c", leases, lease)
	sb.mu.Lock()
	sb.stalled = true
	sb.mu.Unlock()
	testkit.Eventually(t, 10*time.Second, "ct-b stops leading when it cannot renew", func() bool { l, _ := b.state(); return !l })
	testkit.Eventually(t, 10*time.Second, "ct-c takes over the expired lease", func() bool { l, _ := c.state(); return l })
	_, ct := c.state()
	if ct[0].Epoch <= bt[0].Epoch {
		t.Fatalf("ct-c epoch %d after ct-b's %d", ct[0].Epoch, bt[0].Epoch)
	}

	// The fencing token: the deposed epoch cannot write, the current can.
	check := func(tok fence.Token) error {
		tx, err := leases.DB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		return fence.Check(fence.With(ctx, tok), tx)
	}
	if err := check(bt[0]); !errors.Is(err, fence.ErrDeposed) {
		t.Fatalf("fence.Check with the deposed epoch = %v, want ErrDeposed", err)
	}
	if err := check(ct[0]); err != nil {
		t.Fatalf("fence.Check with the leader's epoch = %v", err)
	}
}

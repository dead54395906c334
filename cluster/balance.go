package cluster

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Members are the live instances of a cluster: each beats its row of
// cluster_members every third of the lease; a row not renewed within the
// lease (by the database's clock) counts no more.
type Members struct{ DB *sql.DB }

const membersSchema = `CREATE TABLE IF NOT EXISTS cluster_members (
	instance   TEXT PRIMARY KEY,
	expires_at TIMESTAMPTZ NOT NULL
)`

// Migrate creates the members table if it is not there yet.
func (m Members) Migrate(ctx context.Context) error {
	if _, err := m.DB.ExecContext(ctx, membersSchema); err != nil {
		return fmt.Errorf("cluster: create cluster_members: %w", err)
	}
	return nil
}

// Beat marks instance alive for lease and returns how many instances are.
func (m Members) Beat(ctx context.Context, instance string, lease time.Duration) (live int, err error) {
	if _, err := m.DB.ExecContext(ctx, `INSERT INTO cluster_members (instance, expires_at)
		VALUES ($1, now() + $2 * interval '1 millisecond')
		ON CONFLICT (instance) DO UPDATE SET expires_at = EXCLUDED.expires_at`, instance, lease.Milliseconds()); err != nil {
		return 0, fmt.Errorf("cluster: beat: %w", err)
	}
	if err := m.DB.QueryRowContext(ctx, `SELECT count(*) FROM cluster_members WHERE expires_at > now()`).Scan(&live); err != nil {
		return 0, fmt.Errorf("cluster: count members: %w", err)
	}
	return live, nil
}

// Leave removes instance at once (an orderly stop).
func (m Members) Leave(ctx context.Context, instance string) error {
	_, err := m.DB.ExecContext(ctx, `DELETE FROM cluster_members WHERE instance = $1`, instance)
	return err
}

// MemberStore is what the Balancer needs of Members.
type MemberStore interface {
	Beat(ctx context.Context, instance string, lease time.Duration) (live int, err error)
	Leave(ctx context.Context, instance string) error
}

// Balancer spreads the partitions over the live instances: an instance
// takes a free lease only while it leads fewer than its fair share
// (ceil(partitions / live instances)), and gives one back when it leads
// more, so N instances share N partitions and the survivors take over the
// partitions of one that died (fewer instances, a larger share).
type Balancer struct {
	Members    MemberStore
	Instance   string
	Partitions int
	Lease      time.Duration
	Logger     *slog.Logger

	mu      sync.Mutex
	live    int // 0: not known yet
	leading map[string]bool
}

// Run beats every third of the lease until ctx ends, then leaves.
func (b *Balancer) Run(ctx context.Context) error {
	every := b.Lease / 3
	for {
		bctx, cancel := context.WithTimeout(ctx, every)
		live, err := b.Members.Beat(bctx, b.Instance, b.Lease)
		cancel()
		switch {
		case ctx.Err() != nil:
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = b.Members.Leave(lctx, b.Instance)
			cancel()
			return nil
		case err != nil:
			if b.Logger != nil {
				b.Logger.Warn("cluster membership not renewed", "err", err)
			}
		default:
			b.mu.Lock()
			b.live = live
			b.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

// fair is this instance's share; called with mu held.
func (b *Balancer) fair() int {
	n := max(b.live, 1)
	return (b.Partitions + n - 1) / n
}

// MayTake tells whether this instance may take another free lease.
func (b *Balancer) MayTake() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live > 0 && len(b.leading) < b.fair()
}

// ShouldYield tells whether the leader of partition should give its lease
// back, this instance leading more than its share; at most one partition
// yields per excess.
func (b *Balancer) ShouldYield(partition string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.live == 0 || !b.leading[partition] || len(b.leading) <= b.fair() {
		return false
	}
	delete(b.leading, partition)
	return true
}

// Changed records that this instance started or stopped leading partition.
func (b *Balancer) Changed(partition string, leading bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.leading == nil {
		b.leading = map[string]bool{}
	}
	if leading {
		b.leading[partition] = true
	} else {
		delete(b.leading, partition)
	}
}

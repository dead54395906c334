package cluster

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/caretaker-iot/caretaker/internal/fence"
)

// Leases are the lease rows in PostgreSQL (table fence.LeaseTable).
type Leases struct{ DB *sql.DB }

// schema creates the lease table; the columns partition, holder, epoch and
// expires_at are what fence.Check reads.
const schema = `CREATE TABLE IF NOT EXISTS ` + fence.LeaseTable + ` (
	partition   TEXT PRIMARY KEY,
	holder      TEXT NOT NULL,
	epoch       BIGINT NOT NULL,
	expires_at  TIMESTAMPTZ NOT NULL,
	acquired_at TIMESTAMPTZ NOT NULL
)`

// Migrate creates the lease table if it is not there yet.
func (l Leases) Migrate(ctx context.Context) error {
	if _, err := l.DB.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("cluster: create %s: %w", fence.LeaseTable, err)
	}
	return nil
}

// Acquire takes the partition's lease for holder when nobody holds it or
// its lease has expired by the database's clock, raising the epoch. ok is
// false when another holder's lease still runs.
func (l Leases) Acquire(ctx context.Context, partition, holder string, lease time.Duration) (epoch int64, ok bool, err error) {
	err = l.DB.QueryRowContext(ctx, `INSERT INTO `+fence.LeaseTable+` (partition, holder, epoch, expires_at, acquired_at)
		VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond', now())
		ON CONFLICT (partition) DO UPDATE SET holder = EXCLUDED.holder, epoch = `+fence.LeaseTable+`.epoch + 1,
			expires_at = EXCLUDED.expires_at, acquired_at = EXCLUDED.acquired_at
		WHERE `+fence.LeaseTable+`.expires_at <= now()
		RETURNING epoch`, partition, holder, lease.Milliseconds()).Scan(&epoch)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("cluster: take lease of %q: %w", partition, err)
	}
	return epoch, true, nil
}

// Renew extends holder's lease of epoch by lease from the database's now.
// ok is false when the lease is no longer holder's under that epoch, or
// has expired: it cannot be renewed, only taken again.
func (l Leases) Renew(ctx context.Context, partition, holder string, epoch int64, lease time.Duration) (ok bool, err error) {
	res, err := l.DB.ExecContext(ctx, `UPDATE `+fence.LeaseTable+` SET expires_at = now() + $4 * interval '1 millisecond'
		WHERE partition = $1 AND holder = $2 AND epoch = $3 AND expires_at > now()`,
		partition, holder, epoch, lease.Milliseconds())
	if err != nil {
		return false, fmt.Errorf("cluster: renew lease of %q: %w", partition, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("cluster: renew lease of %q: %w", partition, err)
	}
	return n == 1, nil
}

// Release ends holder's lease of epoch now, so another instance takes
// over without waiting for it to expire.
func (l Leases) Release(ctx context.Context, partition, holder string, epoch int64) error {
	_, err := l.DB.ExecContext(ctx, `UPDATE `+fence.LeaseTable+` SET expires_at = now()
		WHERE partition = $1 AND holder = $2 AND epoch = $3 AND expires_at > now()`, partition, holder, epoch)
	if err != nil {
		return fmt.Errorf("cluster: release lease of %q: %w", partition, err)
	}
	return nil
}

// Lease is one partition's lease as the database sees it now.
type Lease struct {
	Partition string    `json:"partition"`
	Holder    string    `json:"leader,omitempty"` // empty: nobody holds a running lease
	Epoch     int64     `json:"epoch"`
	ExpiresAt time.Time `json:"expires_at"`
}

// All returns every partition's lease, by partition name. A lease that has
// run out has no Holder.
func (l Leases) All(ctx context.Context) ([]Lease, error) {
	rows, err := l.DB.QueryContext(ctx, `SELECT partition, holder, epoch, expires_at, expires_at > now()
		FROM `+fence.LeaseTable+` ORDER BY partition`)
	if err != nil {
		return nil, fmt.Errorf("cluster: read leases: %w", err)
	}
	defer rows.Close()
	var out []Lease
	for rows.Next() {
		var ls Lease
		var running bool
		if err := rows.Scan(&ls.Partition, &ls.Holder, &ls.Epoch, &ls.ExpiresAt, &running); err != nil {
			return nil, fmt.Errorf("cluster: read leases: %w", err)
		}
		if !running {
			ls.Holder = ""
		}
		out = append(out, ls)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cluster: read leases: %w", err)
	}
	return out, nil
}

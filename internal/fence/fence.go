package fence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Token names the lease a write is made under: its partition and the epoch
// the lease had when this instance took it. Every take-over raises the
// epoch, so an older token no longer matches.
type Token struct {
	Partition string
	Epoch     int64
}

// ErrDeposed is returned (wrapped) by Check when the token's lease is held
// under another epoch, or has expired: the write must not happen.
var ErrDeposed = errors.New("fenced: this instance no longer holds the partition's lease")

type key struct{}

// With returns ctx carrying t.
func With(ctx context.Context, t Token) context.Context { return context.WithValue(ctx, key{}, t) }

// From returns the token ctx carries, if any.
func From(ctx context.Context) (Token, bool) {
	t, ok := ctx.Value(key{}).(Token)
	return t, ok
}

// LeaseTable is the table of leases (created by the cluster package's
// migration): partition TEXT PRIMARY KEY, holder TEXT, epoch BIGINT,
// expires_at TIMESTAMPTZ.
const LeaseTable = "cluster_leases"

// Check verifies, inside tx, that the token ctx carries (if any) still holds
// its lease: same epoch, not expired by the database's clock. The row is
// read FOR SHARE, so a take-over waits until tx ends and no write of an old
// epoch commits after a new epoch began. Only for PostgreSQL transactions.
func Check(ctx context.Context, tx *sql.Tx) error {
	t, ok := From(ctx)
	if !ok {
		return nil
	}
	var epoch int64
	err := tx.QueryRowContext(ctx, `SELECT epoch FROM `+LeaseTable+
		` WHERE partition = $1 AND expires_at > now() FOR SHARE`, t.Partition).Scan(&epoch)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("partition %q epoch %d: lease expired: %w", t.Partition, t.Epoch, ErrDeposed)
	case err != nil:
		return fmt.Errorf("partition %q: check lease: %w", t.Partition, err)
	case epoch != t.Epoch:
		return fmt.Errorf("partition %q: epoch %d, lease now at %d: %w", t.Partition, t.Epoch, epoch, ErrDeposed)
	}
	return nil
}

// Held tells whether the lease of ctx's token is still this holder's (nil),
// in a transaction of its own that writes nothing: for work that writes nothing to
// the store but must not be done by a deposed leader, such as dialling
// the partition's MQTT session again. Without a token it is nil.
func Held(ctx context.Context, db *sql.DB) error {
	if _, ok := From(ctx); !ok {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil) // not read-only: Check locks the row FOR SHARE
	if err != nil {
		return fmt.Errorf("check lease: %w", err)
	}
	defer tx.Rollback()
	return Check(ctx, tx)
}

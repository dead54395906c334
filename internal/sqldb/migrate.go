package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrationLock is the key of the PostgreSQL advisory lock every
// migration step holds, so that instances starting together take turns.
const migrationLock = 0x43617265 // "Care"

// Migrate applies the migrations not applied yet, in order, each in its own
// transaction (translated for the engine), recording them in table
// (created if needed). Migration i+1 is migrations[i]; a migration is never
// edited once released.
func (db *DB) Migrate(ctx context.Context, table string, migrations []string, now func() time.Time) error {
	step := func(fn func(*sql.Tx) error) error {
		if db.Engine != PostgreSQL {
			return db.oneTx(ctx, nil, fn)
		}
		lock := func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", migrationLock)
			return err
		}
		return db.oneTx(ctx, nil, lock, fn)
	}
	err := step(func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+table+` (
		version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: migrations table %s: %w", db, table, err)
	}
	for i, m := range migrations {
		version := i + 1
		err := step(func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE version = ?", version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, Translate(db.Engine, m)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO "+table+"(version, applied_at) VALUES (?, ?)", version, now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: migration %d: %w", db, version, err)
		}
	}
	return nil
}

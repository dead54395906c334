package tsdb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// convertLegacy moves the readings table of the first version of the file
// (one row per value) into series and chunks, in one transaction: a
// conversion cut short (kill -9) leaves the old table as it was and starts
// again on the next Open. The space the old rows took is given back
// (VACUUM) once they are gone.
func convertLegacy(db *sql.DB, log *slog.Logger, chunkValues int) error {
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'readings'`).Scan(&n); err != nil {
		return fmt.Errorf("look for readings of the first version: %w", err)
	}
	if n == 0 {
		return nil
	}
	start := time.Now()
	log.Info("embedded store: converting the readings of the first version into chunks")
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// The old rows are read on a connection of their own while tx writes.
	rows, err := db.QueryContext(ctx, `SELECT device, metric, kind, site, building, ts_ms, value FROM readings ORDER BY device, metric, kind, site, building, ts_ms`)
	if err != nil {
		return fmt.Errorf("read readings of the first version: %w", err)
	}
	defer rows.Close()
	s := &Store{chunkValues: chunkValues}
	var (
		cur, k seriesKey
		id     int64
		ss     []sample
		values int64
	)
	flush := func() error {
		if len(ss) == 0 {
			return nil
		}
		if err := s.insertChunks(ctx, tx, id, ss); err != nil {
			return err
		}
		values += int64(len(ss))
		ss = ss[:0]
		return nil
	}
	for rows.Next() {
		var (
			ms int64
			v  sql.NullFloat64
		)
		if err := rows.Scan(&k.device, &k.metric, &k.kind, &k.site, &k.building, &ms, &v); err != nil {
			return fmt.Errorf("read readings of the first version: %w", err)
		}
		if !v.Valid { // NaN reads back as NULL
			v.Float64 = math.NaN()
		}
		if k != cur || id == 0 {
			if err := flush(); err != nil {
				return err
			}
			if id, err = seriesID(ctx, tx, k); err != nil {
				return err
			}
			cur = k
		}
		ss = append(ss, sample{ms: ms, v: v.Float64})
		if len(ss) == chunkValues {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read readings of the first version: %w", err)
	}
	if err := flush(); err != nil {
		return err
	}
	rows.Close()
	if _, err := tx.ExecContext(ctx, `DROP TABLE readings`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("convert readings of the first version: %w", err)
	}
	if _, err := db.ExecContext(ctx, `VACUUM`); err != nil {
		log.Warn("embedded store: the space of the old readings is not given back (VACUUM failed); it is used again as readings come", "error", err)
	}
	log.Info("embedded store: readings of the first version converted", "values", values, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

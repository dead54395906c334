package tsdb

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"slices"
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
	log.Info("embedded store: converting the readings of the first version into chunks; the service starts once it is done")
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// The old rows are read on a connection of their own while tx writes,
	// a device's metric after the other (its index's order), so that only
	// the series of one device and metric wait in their chunk buffers at a
	// time, whatever the count of devices.
	var total int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM readings`).Scan(&total); err != nil {
		return fmt.Errorf("count readings of the first version: %w", err)
	}
	rows, err := db.QueryContext(ctx, `SELECT device, metric, kind, site, building, ts_ms, value FROM readings
		ORDER BY device, metric, ts_ms`)
	if err != nil {
		return fmt.Errorf("read readings of the first version: %w", err)
	}
	defer rows.Close()
	s := &Store{chunkValues: chunkValues}
	type pending struct {
		id int64
		ss []sample
	}
	var (
		open   = map[string]*pending{}
		key    []byte
		cols   [5]sql.RawBytes
		values int64
	)
	flush := func(p *pending) error {
		slices.SortStableFunc(p.ss, func(a, b sample) int { return cmp.Compare(a.ms, b.ms) })
		if err := s.insertChunks(ctx, tx, p.id, p.ss); err != nil {
			return err
		}
		values += int64(len(p.ss))
		p.ss = p.ss[:0]
		return nil
	}
	flushAll := func() error {
		for k, p := range open {
			if len(p.ss) > 0 {
				if err := flush(p); err != nil {
					return err
				}
			}
			delete(open, k)
		}
		return nil
	}
	var group []byte // device and metric of the series in open
	said := time.Now()
	for rows.Next() {
		var (
			ms int64
			v  sql.NullFloat64
		)
		if err := rows.Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &ms, &v); err != nil {
			return fmt.Errorf("read readings of the first version: %w", err)
		}
		if g := len(cols[0]) + 1 + len(cols[1]); len(group) != g || string(group[:len(cols[0])]) != string(cols[0]) ||
			string(group[len(cols[0])+1:]) != string(cols[1]) {
			if err := flushAll(); err != nil {
				return err
			}
			group = append(append(append(group[:0], cols[0]...), 0), cols[1]...)
			if time.Since(said) > 10*time.Second {
				said = time.Now()
				log.Info("embedded store: converting", "values", values, "of", total)
			}
		}
		if !v.Valid { // NaN reads back as NULL
			v.Float64 = math.NaN()
		}
		key = key[:0]
		for _, c := range cols {
			key = append(append(key, c...), 0)
		}
		p, ok := open[string(key)]
		if !ok {
			k := seriesKey{device: string(cols[0]), metric: string(cols[1]), kind: string(cols[2]), site: string(cols[3]), building: string(cols[4])}
			id, err := seriesID(ctx, tx, k)
			if err != nil {
				return err
			}
			p = &pending{id: id, ss: make([]sample, 0, chunkValues)}
			open[string(key)] = p
		}
		p.ss = append(p.ss, sample{ms: ms, v: v.Float64})
		if len(p.ss) == chunkValues {
			if err := flush(p); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read readings of the first version: %w", err)
	}
	if err := flushAll(); err != nil {
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

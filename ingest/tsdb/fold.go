package tsdb

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// fold moves every row of samples into chunks, in one transaction: per
// series, the fresh values go into the series' newest chunk while it holds
// fewer than chunkValues (decoded, merged, encoded again), the rest into
// new chunks. The caller holds flushMu.
func (s *Store) fold(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	fresh, err := readSamples(ctx, tx, `SELECT series, ts_ms, bits FROM samples ORDER BY series, ts_ms`)
	if err != nil {
		return err
	}
	var dec decoder
	for _, id := range slices.Sorted(maps.Keys(fresh)) {
		ss := fresh[id]
		var (
			rowid int64
			n     int
			data  []byte
		)
		err := tx.QueryRowContext(ctx, `SELECT rowid, n, data FROM chunks WHERE series = ? ORDER BY min_ts DESC LIMIT 1`, id).Scan(&rowid, &n, &data)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case n < s.chunkValues:
			old, err := dec.decode(nil, data)
			if err != nil { // left as it is: the fresh values go to a chunk of their own
				s.log.Error("embedded store: a chunk cannot be read", "series", id, "error", err)
				break
			}
			ss = mergeSamples(old, ss)
			if _, err := tx.ExecContext(ctx, `DELETE FROM chunks WHERE rowid = ?`, rowid); err != nil {
				return err
			}
		}
		if err := s.insertChunks(ctx, tx, id, ss); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM samples`); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.fresh = 0
	return nil
}

// insertChunks writes ss (ordered by time) as chunks of up to chunkValues.
func (s *Store) insertChunks(ctx context.Context, tx *sql.Tx, series int64, ss []sample) error {
	for len(ss) > 0 {
		piece := ss[:min(len(ss), s.chunkValues)]
		ss = ss[len(piece):]
		blob, err := s.enc.encode(piece)
		if err != nil {
			return fmt.Errorf("chunk: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO chunks (series, min_ts, max_ts, n, data) VALUES (?, ?, ?, ?, ?)`,
			series, piece[0].ms, piece[len(piece)-1].ms, len(piece), blob); err != nil {
			return err
		}
	}
	return nil
}

// readSamples reads rows of (series, ts_ms, bits), ordered by time within
// a series, into one slice per series.
func readSamples(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, query string, args ...any) (map[int64][]sample, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]sample{}
	for rows.Next() {
		var (
			id, ms, b int64
		)
		if err := rows.Scan(&id, &ms, &b); err != nil {
			return nil, err
		}
		out[id] = append(out[id], sample{ms: ms, v: math.Float64frombits(uint64(b))})
	}
	return out, rows.Err()
}

// mergeSamples merges two slices ordered by time.
func mergeSamples(a, b []sample) []sample {
	out := make([]sample, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if b[0].ms < a[0].ms {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// DeleteBefore removes readings and events older than t and tells how many
// went (values and events): chunks wholly older go, a chunk across t is
// cut.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	n, freshGone, err := s.deleteBefore(ctx, t.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("embedded store retention: %w", err)
	}
	s.fresh -= int(freshGone)
	return n, nil
}

func (s *Store) deleteBefore(ctx context.Context, cut int64) (n, freshGone int64, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	affected := func(query string, args ...any) (int64, error) {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	if freshGone, err = affected(`DELETE FROM samples WHERE ts_ms < ?`, cut); err != nil {
		return 0, 0, err
	}
	var whole int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM chunks WHERE min_ts < ? AND max_ts < ?`, cut, cut).Scan(&whole); err != nil {
		return 0, 0, err
	}
	if _, err := affected(`DELETE FROM chunks WHERE min_ts < ? AND max_ts < ?`, cut, cut); err != nil {
		return 0, 0, err
	}
	type across struct {
		rowid int64
		data  []byte
	}
	var cutChunks []across
	rows, err := tx.QueryContext(ctx, `SELECT rowid, data FROM chunks WHERE min_ts < ? AND max_ts >= ?`, cut, cut)
	if err != nil {
		return 0, 0, err
	}
	for rows.Next() {
		var c across
		if err := rows.Scan(&c.rowid, &c.data); err != nil {
			rows.Close()
			return 0, 0, err
		}
		cutChunks = append(cutChunks, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	var dec decoder
	var cutGone int64
	for _, c := range cutChunks {
		ss, err := dec.decode(nil, c.data)
		if err != nil {
			s.log.Error("embedded store retention: a chunk cannot be read, left as it is", "error", err)
			continue
		}
		i, _ := slices.BinarySearchFunc(ss, cut, func(x sample, cut int64) int { return cmp.Compare(x.ms, cut) })
		keep := ss[i:]
		cutGone += int64(i)
		blob, err := s.enc.encode(keep)
		if err != nil {
			return 0, 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE chunks SET min_ts = ?, n = ?, data = ? WHERE rowid = ?`, keep[0].ms, len(keep), blob, c.rowid); err != nil {
			return 0, 0, err
		}
	}
	events, err := affected(`DELETE FROM device_events WHERE ts_ms < ?`, cut)
	if err != nil {
		return 0, 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, err
	}
	return freshGone + whole + cutGone + events, freshGone, nil
}

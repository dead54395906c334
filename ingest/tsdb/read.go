package tsdb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// Readings returns the stored values of one device between q.From
// (inclusive) and q.To (exclusive), ordered by time then metric; what is
// still buffered is written first. A zero To means now, a zero From a day
// before To.
func (s *Store) Readings(ctx context.Context, q devices.Query) ([]devices.Point, error) {
	var out []devices.Point
	err := s.ReadingsFunc(ctx, q, func(p devices.Point) error {
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadingsFunc is Readings handing each value to fn as it is decoded,
// holding no more than the chunks that overlap in time: a backtest of a
// month reads through it. Everything is read in one transaction, so a
// fold under way is seen wholly or not at all. An error from fn stops the
// read and is returned as it is. A chunk that cannot be decoded is
// skipped and logged, the others are read.
func (s *Store) ReadingsFunc(ctx context.Context, q devices.Query, fn func(devices.Point) error) error {
	q, err := q.Normalize(s.now)
	if err != nil {
		return err
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	if err := s.readMerged(ctx, q, fn); err != nil {
		if _, ok := err.(fnError); ok {
			return err.(fnError).err
		}
		return fmt.Errorf("embedded store query: %w", err)
	}
	return nil
}

// fnError carries fn's error out of readMerged untouched.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// chunkRef is a chunk not read yet.
type chunkRef struct {
	rowid, series, minTS int64
}

// cursor walks the values of one chunk (or of the fresh rows of one
// series) within the query's range.
type cursor struct {
	ss     []sample
	i      int
	metric string
}

func (c *cursor) less(o *cursor) bool {
	a, b := c.ss[c.i], o.ss[o.i]
	if a.ms != b.ms {
		return a.ms < b.ms
	}
	return c.metric < o.metric
}

func (s *Store) readMerged(ctx context.Context, q devices.Query, fn func(devices.Point) error) error {
	from, to := q.From.UnixMilli(), q.To.UnixMilli()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read only
	query := `SELECT id, metric FROM series WHERE device = ?`
	args := []any{q.Device}
	if q.Metric != "" {
		query += ` AND metric = ?`
		args = append(args, q.Metric)
	}
	if q.Kind != "" {
		query += ` AND kind = ?`
		args = append(args, string(q.Kind))
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	metrics := map[int64]string{}
	names := map[string]string{} // one string per metric name
	for rows.Next() {
		var (
			id int64
			m  string
		)
		if err := rows.Scan(&id, &m); err != nil {
			rows.Close()
			return err
		}
		if n, ok := names[m]; ok {
			m = n
		}
		names[m] = m
		metrics[id] = m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(metrics) == 0 {
		return nil
	}
	in := strings.Repeat("?, ", len(metrics)-1) + "?"
	ids := make([]any, 0, len(metrics)+2)
	for id := range metrics {
		ids = append(ids, id)
	}
	fresh, err := readSamples(ctx, tx, `SELECT series, ts_ms, bits FROM samples WHERE series IN (`+in+`) AND ts_ms >= ? AND ts_ms < ? ORDER BY series, ts_ms`,
		append(ids, from, to)...)
	if err != nil {
		return err
	}
	var pending []chunkRef
	rows, err = tx.QueryContext(ctx, `SELECT rowid, series, min_ts FROM chunks WHERE series IN (`+in+`) AND min_ts < ? AND max_ts >= ? ORDER BY min_ts`,
		append(ids, to, from)...)
	if err != nil {
		return err
	}
	for rows.Next() {
		var c chunkRef
		if err := rows.Scan(&c.rowid, &c.series, &c.minTS); err != nil {
			rows.Close()
			return err
		}
		pending = append(pending, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	chunkData, err := tx.PrepareContext(ctx, `SELECT data FROM chunks WHERE rowid = ?`)
	if err != nil {
		return err
	}
	defer chunkData.Close()

	var h curHeap
	for id, ss := range fresh {
		h.push(&cursor{ss: ss, metric: metrics[id]})
	}
	var (
		dec   decoder
		spare [][]sample // buffers of cursors done
		blob  []byte
	)
	for {
		for len(pending) > 0 && (len(h) == 0 || pending[0].minTS <= h[0].ss[h[0].i].ms) {
			c := pending[0]
			pending = pending[1:]
			if err := chunkData.QueryRowContext(ctx, c.rowid).Scan(&blob); err != nil {
				return err
			}
			var buf []sample
			if n := len(spare); n > 0 {
				buf, spare = spare[n-1][:0], spare[:n-1]
			}
			ss, err := dec.decode(buf, blob)
			if err != nil {
				s.log.Error("embedded store: a chunk cannot be read, skipped", "series", c.series, "error", err)
				continue
			}
			lo, hi := 0, len(ss)
			for lo < hi && ss[lo].ms < from {
				lo++
			}
			for hi > lo && ss[hi-1].ms >= to {
				hi--
			}
			if lo < hi {
				h.push(&cursor{ss: ss[:hi], i: lo, metric: metrics[c.series]})
			}
		}
		if len(h) == 0 {
			return ctx.Err()
		}
		top := h[0]
		v := top.ss[top.i]
		if err := fn(devices.Point{Time: time.UnixMilli(v.ms), Metric: top.metric, Value: v.v}); err != nil {
			return fnError{err}
		}
		if top.i++; top.i < len(top.ss) {
			h.down(0)
		} else {
			spare = append(spare, top.ss)
			h.pop()
		}
	}
}

// curHeap is a min-heap of cursors by their current value.
type curHeap []*cursor

func (h *curHeap) push(c *cursor) {
	*h = append(*h, c)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *curHeap) pop() {
	s := *h
	n := len(s) - 1
	s[0] = s[n]
	s[n] = nil
	*h = s[:n]
	if n > 0 {
		h.down(0)
	}
}

func (h curHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].less(h[l]) {
			m = r
		}
		if !h[m].less(h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

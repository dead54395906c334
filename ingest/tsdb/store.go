package tsdb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/internal/promreg"
	"github.com/caretaker-iot/caretaker/internal/sqlitedb"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Embedded store tuning: a buffered batch goes to disk every flushEvery or
// once it holds flushRows rows, whichever comes first; while a message
// waits for its acknowledgement (AfterDurable), within durableWait or once
// durableBatch messages wait. A batch that fails is kept and retried while
// the buffer holds fewer than Config.MaxBufferedRows rows
// (default 100 000).
const (
	flushEvery   = 200 * time.Millisecond
	flushRows    = 1000
	durableWait  = 20 * time.Millisecond
	durableBatch = 250
)

// Config configures the embedded store. Path is required.
type Config struct {
	Path      string
	Retention time.Duration // rows older are deleted by Run; 0 keeps everything
	Logger    *slog.Logger  // nil: discard
	Metrics   prometheus.Registerer
	// MaxBufferedRows: while the file refuses writes, batches are kept
	// for a retry until the buffer holds this many rows (one per metric
	// value); past it a failed batch is dropped and counted lost.
	// Default 100 000.
	MaxBufferedRows int
	Now             func() time.Time // default time.Now
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxBufferedRows <= 0 {
		c.MaxBufferedRows = 100 * flushRows
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

const schema = `
CREATE TABLE IF NOT EXISTS readings (
	ts_ms    INTEGER NOT NULL,
	device   TEXT    NOT NULL,
	kind     TEXT    NOT NULL,
	site     TEXT    NOT NULL,
	building TEXT    NOT NULL,
	metric   TEXT    NOT NULL,
	value    REAL    NOT NULL,
	is_flag  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS readings_device_metric_ts ON readings (device, metric, ts_ms);
CREATE INDEX IF NOT EXISTS readings_ts ON readings (ts_ms);
CREATE TABLE IF NOT EXISTS device_events (
	ts_ms    INTEGER NOT NULL,
	device   TEXT    NOT NULL,
	kind     TEXT    NOT NULL,
	site     TEXT    NOT NULL,
	building TEXT    NOT NULL,
	event    TEXT    NOT NULL,
	active   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS device_events_device_ts ON device_events (device, ts_ms);
CREATE INDEX IF NOT EXISTS device_events_ts ON device_events (ts_ms);
`

// Store is the time-series store used when no InfluxDB is
// configured: a SQLite file of its own (WAL mode), one row per metric value.
// Writes are buffered and go to disk in one transaction per batch.
type Store struct {
	db          *sql.DB
	log         *slog.Logger
	retention   time.Duration
	now         func() time.Time
	maxBuffered int
	lostMetric  prometheus.Counter
	commitTime  prometheus.Histogram
	lost        atomic.Int64

	mu       sync.Mutex // guards the buffers
	readings []readingRow
	events   []devices.Event
	waiters  []func()      // AfterDurable callbacks of what is buffered
	waiting  chan struct{} // the first waiter came: Run arms durableWait
	flushNow chan struct{} // durableBatch waiters: Run flushes
	flushMu  sync.Mutex    // one batch transaction at a time
	acks     ingest.Callbacks
}

type readingRow struct {
	r      *devices.Reading
	metric string
	value  devices.Value
}

// Open opens (creating if needed) the store at path. Rows older
// than retention are deleted by Run; 0 keeps everything.
func Open(path string, retention time.Duration, logger *slog.Logger) (*Store, error) {
	return OpenWith(Config{Path: path, Retention: retention, Logger: logger})
}

// OpenWith opens (creating if needed) the store cfg.Path.
func OpenWith(cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	path := cfg.Path
	if err := sqlitedb.PrepareFile(path); err != nil { // 0600 in a folder 0700
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("embedded store open %s: %w", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded store schema %s: %w", path, err)
	}
	lost := promreg.Register(cfg.Metrics, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caretaker_embedded_store_points_lost_total",
		Help: "Readings and events the embedded store lost, by reason: buffer_full (the file refused writes until the buffer was full).",
	}, []string{"reason"}))
	return &Store{
		db:          db,
		log:         cfg.Logger.With("component", "tsdb", "path", path),
		retention:   cfg.Retention,
		now:         cfg.Now,
		maxBuffered: cfg.MaxBufferedRows,
		lostMetric:  lost.WithLabelValues("buffer_full"),
		commitTime: promreg.Register(cfg.Metrics, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "caretaker_embedded_store_commit_duration_seconds",
			Help:    "Time one write transaction of the embedded store took (what acknowledgements wait for), successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		})),
		waiting:  make(chan struct{}, 1),
		flushNow: make(chan struct{}, 1),
	}, nil
}

// Lost is the number of readings and events dropped so far (the file
// refused writes until the buffer was full).
func (s *Store) Lost() int64 { return s.lost.Load() }

// Buffered is the number of rows (one per metric value) and events
// waiting to be written.
func (s *Store) Buffered() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.readings) + len(s.events))
}

// WriteReading buffers a reading. When the buffer is full it is written at
// once, in the caller's goroutine, which slows an overeager producer down.
func (s *Store) WriteReading(ctx context.Context, r devices.Reading) error {
	rd := r
	s.mu.Lock()
	for name, v := range r.Values {
		s.readings = append(s.readings, readingRow{r: &rd, metric: name, value: v})
	}
	full := len(s.readings) >= flushRows
	s.mu.Unlock()
	if full {
		return s.Flush(ctx)
	}
	return nil
}

// WriteEvent buffers an event.
func (s *Store) WriteEvent(ctx context.Context, e devices.Event) error {
	s.mu.Lock()
	s.events = append(s.events, e)
	full := len(s.events) >= flushRows
	s.mu.Unlock()
	if full {
		return s.Flush(ctx)
	}
	return nil
}

// AfterDurable calls done once everything written so far is committed
// (DurableWriter). Run must be running: it flushes within durableWait of
// the first waiter, or at once when durableBatch wait.
func (s *Store) AfterDurable(done func()) {
	s.mu.Lock()
	if len(s.readings) == 0 && len(s.events) == 0 && len(s.waiters) == 0 {
		s.mu.Unlock()
		// Nothing buffered; a flush under way holds flushMu until its
		// commit, so waiting for it is waiting for everything before.
		s.acks.Go(func() {
			s.flushMu.Lock()
			s.flushMu.Unlock() //nolint:staticcheck // an empty critical section: a barrier
			done()
		})
		return
	}
	s.waiters = append(s.waiters, done)
	n := len(s.waiters)
	s.mu.Unlock()
	switch {
	case n == 1:
		signal(s.waiting)
	case n >= durableBatch:
		signal(s.flushNow)
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Flush writes what is buffered in one transaction, then calls the
// AfterDurable callbacks that waited for it. A batch that fails is put
// back to be retried with the next one, unless the buffer is past
// MaxBufferedRows: then it is dropped (the error says so), counted lost
// (Lost, caretaker_embedded_store_points_lost_total) and its waiters are
// released, so the broker is not held up for ever.
func (s *Store) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	readings, events, waiters := s.readings, s.events, s.waiters
	s.readings, s.events, s.waiters = nil, nil, nil
	s.mu.Unlock()
	if len(readings) == 0 && len(events) == 0 {
		s.acks.Go(waiters...)
		return nil
	}
	start := time.Now()
	err := s.insert(ctx, readings, events)
	s.commitTime.Observe(time.Since(start).Seconds())
	if err == nil {
		s.acks.Go(waiters...)
		return nil
	}
	s.mu.Lock()
	kept := len(readings)+len(s.readings) < s.maxBuffered
	if kept {
		s.readings = append(readings, s.readings...)
		s.events = append(events, s.events...)
		s.waiters = append(waiters, s.waiters...)
	}
	s.mu.Unlock()
	if !kept {
		n := int64(countReadings(readings) + len(events))
		s.lost.Add(n)
		s.lostMetric.Add(float64(n))
		s.acks.Go(waiters...)
		return fmt.Errorf("embedded store flush of %d values and %d events: %w (buffer full: dropped, %d readings and events lost)", len(readings), len(events), err, n)
	}
	return fmt.Errorf("embedded store flush of %d values and %d events: %w (kept for a retry)", len(readings), len(events), err)
}

// countReadings is the number of readings the rows hold: a reading's rows
// (one per metric) are next to each other and share its pointer.
func countReadings(rows []readingRow) int {
	n := 0
	for i := range rows {
		if i == 0 || rows[i].r != rows[i-1].r {
			n++
		}
	}
	return n
}

func (s *Store) insert(ctx context.Context, readings []readingRow, events []devices.Event) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if len(readings) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO readings (ts_ms, device, kind, site, building, metric, value, is_flag) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, row := range readings {
			r := row.r
			if _, err := st.ExecContext(ctx, r.Time.UnixMilli(), r.Device, string(r.Kind), r.Site, r.Building,
				row.metric, row.value.Float(), row.value.IsFlag); err != nil {
				return err
			}
		}
	}
	if len(events) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO device_events (ts_ms, device, kind, site, building, event, active) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range events {
			if _, err := st.ExecContext(ctx, e.Time.UnixMilli(), e.Device, string(e.Kind), e.Site, e.Building, e.Name, e.Active); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

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

// ReadingsFunc is Readings handing each value to fn as SQLite reads it,
// holding none: a backtest of a month reads through it. An error from fn
// stops the read and is returned as it is.
func (s *Store) ReadingsFunc(ctx context.Context, q devices.Query, fn func(devices.Point) error) error {
	q, err := q.Normalize(s.now)
	if err != nil {
		return err
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	query := `SELECT ts_ms, metric, value FROM readings WHERE device = ? AND ts_ms >= ? AND ts_ms < ?`
	args := []any{q.Device, q.From.UnixMilli(), q.To.UnixMilli()}
	if q.Metric != "" {
		query += ` AND metric = ?`
		args = append(args, q.Metric)
	}
	if q.Kind != "" {
		query += ` AND kind = ?`
		args = append(args, string(q.Kind))
	}
	query += ` ORDER BY ts_ms, metric`
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("embedded store query: %w", err)
	}
	defer rows.Close()
	var (
		ms     int64
		metric sql.RawBytes
		p      devices.Point
		names  []string // a device has a handful of metrics: one string each
	)
	for rows.Next() {
		if err := rows.Scan(&ms, &metric, &p.Value); err != nil {
			return fmt.Errorf("embedded store query: %w", err)
		}
		p.Metric = ""
		for _, n := range names {
			if n == string(metric) {
				p.Metric = n
				break
			}
		}
		if p.Metric == "" {
			p.Metric = string(metric)
			names = append(names, p.Metric)
		}
		p.Time = time.UnixMilli(ms)
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("embedded store query: %w", err)
	}
	return nil
}

// DeleteBefore removes readings and events older than t and tells how many
// rows went.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	for _, table := range []string{"readings", "device_events"} {
		res, err := s.db.ExecContext(ctx, `DELETE FROM `+table+` WHERE ts_ms < ?`, t.UnixMilli())
		if err != nil {
			return n, fmt.Errorf("embedded store retention: %w", err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	return n, nil
}

// Run flushes the buffer every 200ms and applies retention until ctx ends,
// then flushes once more and returns nil.
func (s *Store) Run(ctx context.Context) error {
	flush := time.NewTicker(flushEvery)
	defer flush.Stop()
	var retain <-chan time.Time
	if s.retention > 0 {
		every := min(max(s.retention/10, time.Minute), time.Hour)
		t := time.NewTicker(every)
		defer t.Stop()
		retain = t.C
		s.applyRetention(ctx)
	}
	durable := time.NewTimer(durableWait)
	durable.Stop()
	for {
		select {
		case <-s.waiting:
			durable.Reset(durableWait)
		case <-durable.C:
			if err := s.Flush(ctx); err != nil {
				s.log.Error("embedded store flush failed", "error", err)
			}
		case <-s.flushNow:
			if err := s.Flush(ctx); err != nil {
				s.log.Error("embedded store flush failed", "error", err)
			}
		case <-flush.C:
			if err := s.Flush(ctx); err != nil {
				s.log.Error("embedded store flush failed", "error", err)
			}
		case <-retain:
			s.applyRetention(ctx)
		case <-ctx.Done():
			if err := s.Flush(context.WithoutCancel(ctx)); err != nil {
				s.log.Error("embedded store final flush failed", "error", err)
			}
			return nil
		}
	}
}

func (s *Store) applyRetention(ctx context.Context) {
	n, err := s.DeleteBefore(ctx, s.now().Add(-s.retention))
	if err != nil {
		s.log.Error("embedded store retention failed", "error", err)
		return
	}
	if n > 0 {
		s.log.Info("embedded store retention", "deleted_rows", n, "retention", s.retention)
	}
}

// Close writes what is buffered, waits for the acknowledgements under way
// and closes the file.
func (s *Store) Close() error {
	err := s.Flush(context.Background())
	s.acks.Wait()
	if cerr := s.db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("embedded store close: %w", cerr)
	}
	return err
}

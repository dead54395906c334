package tsdb

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"maps"
	"math"
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

	foldRowsDefault      = 2000
	foldPerSeriesDefault = 16
	chunkValuesDefault   = 512
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

	// samples start a fold into chunks once they are foldRows rows and
	// foldPerSeries a series on average: a chunk is written again at each
	// fold until full, so a fold holds a few values of each series.
	foldRows, foldPerSeries int
	chunkValues             int // values a chunk holds at most
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
	if c.foldRows <= 0 {
		c.foldRows, c.foldPerSeries = foldRowsDefault, foldPerSeriesDefault
	}
	if c.chunkValues <= 0 {
		c.chunkValues = chunkValuesDefault
	}
	return c
}

// The file's schema: a series per device metric; its fresh values one row
// each in samples (the append log an acknowledgement waits for), folded
// into chunks of up to chunkValues values (chunk.go) once samples holds
// foldRows rows. Values are float64 bits, so that nothing (NaN included)
// is refused. The readings table of the first version (one row per value)
// is converted on Open (legacy.go).
const schema = `
CREATE TABLE IF NOT EXISTS series (
	id       INTEGER PRIMARY KEY,
	device   TEXT    NOT NULL,
	metric   TEXT    NOT NULL,
	kind     TEXT    NOT NULL,
	site     TEXT    NOT NULL,
	building TEXT    NOT NULL,
	UNIQUE (device, metric, kind, site, building)
);
CREATE TABLE IF NOT EXISTS samples (
	series INTEGER NOT NULL,
	ts_ms  INTEGER NOT NULL,
	bits   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_series_ts ON samples (series, ts_ms);
CREATE TABLE IF NOT EXISTS chunks (
	series INTEGER NOT NULL,
	min_ts INTEGER NOT NULL,
	max_ts INTEGER NOT NULL,
	n      INTEGER NOT NULL,
	data   BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_series_ts ON chunks (series, min_ts);
CREATE INDEX IF NOT EXISTS chunks_ts ON chunks (min_ts);
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
// configured: a SQLite file of its own (WAL mode) holding each series of
// values in compressed chunks, fresh values one row each until folded.
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
	flushMu  sync.Mutex    // one write transaction at a time (batch, fold, retention)
	acks     ingest.Callbacks

	// guarded by flushMu
	ids           map[seriesKey]int64 // series ids committed
	fresh         int                 // rows in samples
	foldRows      int
	foldPerSeries int
	chunkValues   int
	enc           encoder
}

// seriesKey names a series: one metric of one device, where it is.
type seriesKey struct {
	device, metric, kind, site, building string
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
	log := cfg.Logger.With("component", "tsdb", "path", path)
	if err := convertLegacy(db, log, cfg.chunkValues); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded store %s: %w", path, err)
	}
	var fresh int
	if err := db.QueryRow(`SELECT COUNT(*) FROM samples`).Scan(&fresh); err != nil {
		db.Close()
		return nil, fmt.Errorf("embedded store %s: %w", path, err)
	}
	lost := promreg.Register(cfg.Metrics, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caretaker_embedded_store_points_lost_total",
		Help: "Readings and events the embedded store lost, by reason: buffer_full (the file refused writes until the buffer was full).",
	}, []string{"reason"}))
	return &Store{
		db:          db,
		log:         log,
		retention:   cfg.Retention,
		now:         cfg.Now,
		maxBuffered: cfg.MaxBufferedRows,
		lostMetric:  lost.WithLabelValues("buffer_full"),
		commitTime: promreg.Register(cfg.Metrics, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "caretaker_embedded_store_commit_duration_seconds",
			Help:    "Time one write transaction of the embedded store took (what acknowledgements wait for), successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		})),
		waiting:       make(chan struct{}, 1),
		flushNow:      make(chan struct{}, 1),
		ids:           map[seriesKey]int64{},
		fresh:         fresh,
		foldRows:      cfg.foldRows,
		foldPerSeries: cfg.foldPerSeries,
		chunkValues:   cfg.chunkValues,
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
		s.fresh += len(readings)
		if s.fresh >= max(s.foldRows, s.foldPerSeries*len(s.ids)) {
			// What is folded is durable already: a failed fold is
			// tried again after the next batch, nothing is lost.
			if err := s.fold(ctx); err != nil {
				s.log.Error("embedded store fold into chunks failed", "error", err)
			}
		}
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
	defer tx.Rollback()             //nolint:errcheck // a no-op after Commit
	var created map[seriesKey]int64 // series made in this transaction
	if len(readings) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO samples (series, ts_ms, bits) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, row := range readings {
			r := row.r
			k := seriesKey{device: r.Device, metric: row.metric, kind: string(r.Kind), site: r.Site, building: r.Building}
			id, ok := s.ids[k]
			if !ok {
				if id, ok = created[k]; !ok {
					if id, err = seriesID(ctx, tx, k); err != nil {
						return err
					}
					if created == nil {
						created = map[seriesKey]int64{}
					}
					created[k] = id
				}
			}
			if _, err := st.ExecContext(ctx, id, r.Time.UnixMilli(), int64(math.Float64bits(row.value.Float()))); err != nil {
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
	if err := tx.Commit(); err != nil {
		return err
	}
	maps.Copy(s.ids, created)
	return nil
}

// seriesID finds or makes the series k.
func seriesID(ctx context.Context, tx *sql.Tx, k seriesKey) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO series (device, metric, kind, site, building) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (device, metric, kind, site, building) DO NOTHING`, k.device, k.metric, k.kind, k.site, k.building); err != nil {
		return 0, err
	}
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM series WHERE device = ? AND metric = ? AND kind = ? AND site = ? AND building = ?`,
		k.device, k.metric, k.kind, k.site, k.building).Scan(&id)
	return id, err
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

package ticketing

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/caretaker-iot/caretaker/internal/sqldb"
)

// Service keeps tickets and alarms in SQLite (Config.Path) or PostgreSQL
// (Config.URL).
type Service struct {
	cfg Config
	db  *sqldb.DB

	// queued marks the open transactions that stored pages, so the
	// sender is woken once they commit (Config.PagesQueued).
	queuedMu sync.Mutex
	queued   map[*sql.Tx]bool

	metrics serviceMetrics
}

// Open opens the PostgreSQL database at cfg.URL, or (creating it if
// needed) the SQLite file at cfg.Path with WAL, foreign keys and a busy
// timeout on every connection, and applies the schema migrations not
// applied yet.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ticketing config: %w", err)
	}
	db, err := sqldb.Open(ctx, sqldb.Config{Path: cfg.Path, URL: cfg.URL, BusyTimeout: cfg.BusyTimeout})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Service{cfg: cfg, db: db, queued: map[*sql.Tx]bool{}}
	s.metrics = newServiceMetrics(cfg.Metrics, s)
	if err := db.Migrate(ctx, "schema_migrations", migrations, s.now); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := hashStoredCodes(ctx, db.DB); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", cfg.Path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *Service) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// Ping tells whether the store answers (for readiness).
func (s *Service) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store ping: %w", err)
	}
	return nil
}

// inTx runs fn in one write transaction (sqldb.DB.InTx: on PostgreSQL it
// may run fn again, so fn sets afresh what it tells its caller), committed
// when fn returns nil; when the committed run stored pages,
// Config.PagesQueued hears of it after the commit.
func (s *Service) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	var runs []*sql.Tx
	err := s.db.InTx(ctx, func(tx *sql.Tx) error { runs = append(runs, tx); return fn(tx) })
	if len(runs) > 0 {
		s.queuedMu.Lock()
		queued := s.queued[runs[len(runs)-1]]
		for _, tx := range runs {
			delete(s.queued, tx)
		}
		s.queuedMu.Unlock()
		if queued && err == nil && s.cfg.PagesQueued != nil {
			s.cfg.PagesQueued()
		}
	}
	return err
}

func (s *Service) now() time.Time { return s.cfg.Now() }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// nullMS stores an optional time as unix ms, or NULL.
func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ms(*t)
}

package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/caretaker-iot/caretaker/internal/fence"
	"github.com/caretaker-iot/caretaker/internal/sqlitedb"
)

// Engine is the database a DB runs on.
type Engine string

// The engines.
const (
	SQLite     Engine = "sqlite"
	PostgreSQL Engine = "postgresql"
)

// Config says which database to open: URL (postgres://...) when set, the
// SQLite file at Path otherwise.
type Config struct {
	Path        string        // SQLite file; its folder is created
	URL         string        // PostgreSQL: postgres:// or postgresql:// URL
	BusyTimeout time.Duration // SQLite: how long a writer waits for the lock; default 5s
	MaxConns    int           // PostgreSQL: connections in the pool; default 10
}

// DB is an open database. Its *sql.DB answers reads; writes go through InTx.
type DB struct {
	*sql.DB
	Engine Engine
	name   string // the file, or the URL without its password
}

// Open opens the database cfg names and checks that it answers.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.URL == "" {
		db, err := sqlitedb.Open(ctx, cfg.Path, cfg.BusyTimeout)
		if err != nil {
			return nil, err
		}
		return &DB{DB: db, Engine: SQLite, name: cfg.Path}, nil
	}
	name, err := CheckURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	pc, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	db := sql.OpenDB(connector{stdlib.GetConnector(*pc)})
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 10
	}
	db.SetMaxOpenConns(cfg.MaxConns)
	db.SetMaxIdleConns(cfg.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", name, err)
	}
	return &DB{DB: db, Engine: PostgreSQL, name: name}, nil
}

// CheckURL checks that u is a PostgreSQL URL and returns it without its
// password, fit for messages and logs.
func CheckURL(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", errors.New("not a URL (want postgres://user@host:5432/dbname)")
	}
	if p.Scheme != "postgres" && p.Scheme != "postgresql" {
		return "", fmt.Errorf("scheme %q: want postgres://user@host:5432/dbname", p.Scheme)
	}
	if p.Host == "" || strings.Trim(p.Path, "/") == "" {
		return "", errors.New("want postgres://user@host:5432/dbname: host and database name are required")
	}
	return p.Redacted(), nil
}

// String names the database: its file, or its URL without the password.
func (db *DB) String() string { return db.name }

// ErrConflict, wrapped in an error fn returns to InTx, says that the
// transaction met a concurrent one and must run again.
var ErrConflict = errors.New("concurrent change, run again")

// maxRuns bounds how often InTx runs a transaction that keeps meeting
// concurrent ones.
const maxRuns = 20

// InTx runs fn in one write transaction, committed when fn returns nil
// and rolled back otherwise. On PostgreSQL it is SERIALIZABLE, begins
// with fence.Check, and runs again (up to maxRuns times) when the server
// aborts it for a concurrent one or fn returns ErrConflict: fn must set
// afresh, on every run, whatever it tells its caller.
func (db *DB) InTx(ctx context.Context, fn func(*sql.Tx) error) error {
	for run := 1; ; run++ {
		err := db.runTx(ctx, fn)
		if err == nil || !Retryable(err) || run == maxRuns {
			return err
		}
		// A short, growing, jittered pause lets the other one finish.
		pause := time.Duration(run*run)*time.Millisecond + time.Duration(time.Now().UnixNano()%int64(3*time.Millisecond))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// ReadTx runs fn in one read-only transaction, so that the reads in fn
// see one state of the database (a ticket's row, history and commands
// from the same moment), never a write landing between two of them. On
// SQLite it takes no write lock (a deferred BEGIN: the snapshot is taken
// at the first read); on PostgreSQL it is REPEATABLE READ.
func (db *DB) ReadTx(ctx context.Context, fn func(*sql.Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.Engine == PostgreSQL {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	return fn(tx)
}

func (db *DB) runTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if db.Engine != PostgreSQL {
		return db.oneTx(ctx, nil, fn)
	}
	fenced := func(tx *sql.Tx) error { return fence.Check(ctx, tx) }
	return db.oneTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable}, fenced, fn)
}

// oneTx runs fns in order in one transaction, committed when they all
// return nil and rolled back at the first error.
func (db *DB) oneTx(ctx context.Context, opts *sql.TxOptions, fns ...func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	for _, fn := range fns {
		if err := fn(tx); err != nil {
			_ = tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// Retryable tells whether err is a transaction that met a concurrent one:
// PostgreSQL's serialization failure (40001) or deadlock (40P01), or
// ErrConflict.
func Retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return errors.Is(err, ErrConflict)
}

// IsUniqueViolation tells whether err is a unique index refusing a row.
func IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

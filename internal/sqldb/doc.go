// Package sqldb opens the database Caretaker keeps its records in, on one
// of two engines, and gives the stores one way to use either:
//
//   - SQLite (store.path, the embedded default) through internal/sqlitedb;
//   - PostgreSQL (store.url, postgres://...) through pgx's database/sql
//     driver, wrapped so that the stores' SQL, written once with ?
//     placeholders, runs unchanged: ? and ?N become $N, a Go bool becomes
//     0/1 as SQLite stores it, and every argument is converted as
//     database/sql converts it for SQLite.
//
// Each store keeps one list of migrations, in portable SQL, applied on both
// engines; Translate turns SQLite's column types into PostgreSQL's
// (INTEGER is BIGINT there, REAL is DOUBLE PRECISION, an INTEGER PRIMARY
// KEY is a BIGSERIAL). Migrations take an advisory lock on PostgreSQL, so
// several instances starting at once apply each one once.
//
// InTx is the one way a store writes. On SQLite every transaction takes
// the write lock at BEGIN, so check-then-insert is atomic. On PostgreSQL
// the same guarantee comes from SERIALIZABLE transactions: a transaction
// that raced another is aborted by the server (SQLSTATE 40001, or 40P01 for
// a deadlock) and InTx runs it again, so fn must change nothing outside the
// transaction but variables it sets afresh on every run. On PostgreSQL,
// InTx first calls fence.Check: a write made for a leader whose lease is
// gone does not happen.
//
// It knows nothing of what the tables hold, and no ORM: the stores write
// their SQL.
package sqldb

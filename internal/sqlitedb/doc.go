// Package sqlitedb opens the SQLite files Caretaker keeps its records in
// (modernc.org/sqlite, no cgo) the one way they must be opened: WAL,
// foreign keys, a busy timeout and transactions that take the write lock at
// BEGIN. internal/sqldb applies the stores' migrations and runs their
// transactions, on this or on PostgreSQL.
//
// It knows nothing of what the tables hold.
package sqlitedb

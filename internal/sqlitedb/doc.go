// Package sqlitedb opens the SQLite files Caretaker keeps its records in
// (modernc.org/sqlite, no cgo) the one way they must be opened: WAL,
// foreign keys, a busy timeout and transactions that take the write lock at
// BEGIN; and applies numbered migrations, each once, in a transaction.
//
// Several packages may share one file: each keeps its own migration table.
// It knows nothing of what the tables hold.
package sqlitedb

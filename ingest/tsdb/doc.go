// Package tsdb is ingest's embedded time-series store, used when no
// InfluxDB is configured: Store keeps readings and events in a SQLite file
// of its own (WAL mode), one row per metric value, written in one
// transaction per batch, and reads history back.
//
// Store is an ingest.DurableWriter: AfterDurable calls back once what was
// written is committed (or, the file refusing writes until the buffer is
// full, counted lost). Open starts nothing; Run flushes and applies
// retention; Close writes what is left and waits for the acknowledgements
// under way. The package must never lose a row without counting it, share
// its file with the ticket store, or learn about rules, tickets or screens.
package tsdb

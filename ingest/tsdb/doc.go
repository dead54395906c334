// Package tsdb is ingest's embedded time-series store, used when no
// InfluxDB is configured: Store keeps readings and events in a SQLite file
// of its own (WAL mode). Each metric of each device is a series; its
// values are written one row each into an append log (samples), in one
// transaction per batch, and folded, a few thousand at a time, into
// chunks of up to 512 values (chunk.go: delta-of-delta times, values as
// decimal deltas or XORed bits, deflated), some 1 to 3 bytes a value on
// disk against about 100 for a row per value. A readings file of the
// first version (a row per value) is converted on Open, in one
// transaction (legacy.go).
//
// Store is an ingest.DurableWriter: AfterDurable calls back once what was
// written is committed (or, the file refusing writes until the buffer is
// full, counted lost). Open starts nothing; Run flushes and applies
// retention; Close writes what is left and waits for the acknowledgements
// under way. Readings and ReadingsFunc merge the chunks and the fresh rows
// in time then metric order in one read transaction, so a fold under way
// is seen wholly or not at all. The package must never lose a row without
// counting it, share its file with the ticket store, or learn about rules,
// tickets or screens.
package tsdb

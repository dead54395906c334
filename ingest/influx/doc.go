// Package influx is ingest's InfluxDB room: Store writes readings and
// events as line protocol in batches of its own (blocking writes, gzip,
// one request at a time) and reads history back with InfluxQL on /query,
// a window of the period per query, its chunked MessagePack answer
// decoded as it arrives (ReadingsFunc hands each value over as it comes:
// a backtest holds no device's month); a server without /query is read
// with Flux, its CSV answer parsed row by row.
//
// What InfluxDB cannot take goes to an on-disk spool (ingest/spool) and
// is replayed in order; only a full spool or a batch InfluxDB refuses as
// malformed loses points, and that is counted and logged. Store is an
// ingest.DurableWriter: AfterDurable calls back once what was written is
// answered 2xx, spooled or counted lost.
//
// Open starts nothing; Run sends batches, replays the spool and keeps the
// durability promises; Close writes what is left and waits for the
// acknowledgements under way. The package must never drop a point without
// counting it, put an unchecked or unquoted value into a query, or learn about
// rules, tickets or screens.
package influx

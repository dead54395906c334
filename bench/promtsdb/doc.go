// Package promtsdb measures Prometheus's TSDB
// (github.com/prometheus/prometheus/tsdb) as a candidate for the embedded
// store, on the readings of bench/tsdbdata, with the figures of bench's
// TestStoreCandidates: bytes a value on disk, values written a second
// (committed), values read a second in time then metric order per device.
// It is a module of its own so that Prometheus's dependencies stay out of
// Caretaker's go.mod:
//
//	cd bench/promtsdb && go test -run TestPromTSDB -v -args -devices 1000 -hours 2
//
// It holds tests only; it must never be imported.
package promtsdb

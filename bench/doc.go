// Package bench measures Caretaker against the physical limit of the
// machine it runs on and prints the table of docs/benchmarks.md:
//
//  1. the broker ceiling: a subscriber that only counts, through mosquitto;
//  2. end-to-end ingest: QoS 1 readings published as fast as the broker
//     takes them until InfluxDB answers a count of all of them, with the
//     default rule pack running, through mosquitto and through the
//     embedded broker (rate, completeness, CPU per reading, peak RSS);
//  3. alarm latency under half the ceiling's load, publish to alarm.raised
//     and to the ticket stored, on a WebSocket client;
//  4. scale: memory with 100 000 devices, 500 WebSocket clients at 1 000
//     events/s with one stalled, 1 000 Modbus devices polled at 1 Hz;
//  5. backtest: a month of one-minute readings of 1 000 detectors replayed
//     from memory, and from InfluxDB and the embedded store by
//     `caretaker backtest` (readings/s, peak RSS).
//
// Real servers only (internal/testserver): mosquitto, InfluxDB 1.8.10, and
// Caretaker built with go build and run as a process of its own, so its
// CPU time and memory come from /proc; the publisher is a process of its
// own too. TestBenchTable runs it: quick (a smoke run, in CI) by default,
// the real figures with -full (./bench/run). It fails on correctness only
// (a reading missing from InfluxDB, an alarm or ticket that never came),
// never on speed: figures go to the table, not to assertions.
//
// It holds tests and benchmarks only; it must never be imported.
package bench

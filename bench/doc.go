// Package bench measures the ingest path end to end: readings published
// over MQTT (QoS 1) by a separate process, through mosquitto, Caretaker's
// MQTT gateway, pipeline and InfluxDB writer, until InfluxDB answers a query
// that counts them all. See docs/benchmarks.md for the command and figures.
//
// It holds benchmarks only; it must never be imported.
package bench

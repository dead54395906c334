// Package ingest takes device data in and hands it on: the Pipeline, the
// parsers of the device contract (topics, telemetry, events, status) and
// the contracts between the rooms (contract.go: Message, Sink, Writer,
// DurableWriter, Callbacks).
//
// The rooms around it:
//
//   - ingest/mqtt: the gateway to an external broker (paho), the embedded
//     broker (mochi-mqtt) and the relay bus for caretaker/events/...;
//   - ingest/modbus: the poller of Modbus TCP and RTU devices;
//   - ingest/influx: the InfluxDB writer and reader, with its spool
//     (ingest/spool);
//   - ingest/tsdb: the embedded SQLite store used when there is no
//     InfluxDB.
//
// Gateways hand what they receive to the Pipeline's bounded queue (Submit
// for raw messages, SubmitReading and SubmitStatus for what a gateway
// decoded itself) through a Submitter interface each declares. The Pipeline
// checks it against the device registry, enriches it with the device's
// kind, site and building, writes every reading and event to the Writer
// (the time-series store) and then passes it to a Sink.
//
// A QoS 1 message is acknowledged only once what it carried is safe
// (Message.Done): seen (and, a SettlingSink, settled) by the Sink and
// made durable by the Writer (DurableWriter: committed, written or
// spooled), so a killed process loses nothing the sender does not deliver
// again.
//
// The package knows devices only: it must never learn about rules, alarms,
// tickets or screens, nor import its rooms (cmd/ wires them to it). Bad
// input is rejected with a counted, rate-limited log line, never a panic.
package ingest

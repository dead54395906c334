// Package ingest takes device data in and hands it on. Data arrives over
// MQTT, either from an external broker through paho (MQTTGateway) or from
// devices connected to the embedded mochi-mqtt broker (Broker), and from
// Modbus devices polled by ingest/modbus; all of it goes through the
// Pipeline's bounded queue (Submit for raw messages, SubmitReading and
// SubmitStatus for what a gateway decoded itself), which checks it against
// the device registry, enriches it with the device's kind, site and
// building, writes every reading and event to the time-series store
// (InfluxDB through Influx, or the SQLite EmbeddedStore) and then passes it
// to a Sink.
//
// A QoS 1 message, from the external broker or to the embedded one, is
// acknowledged only once what it carried is safe (Message.Done): seen by
// the Sink and made durable by the Writer (DurableWriter: committed,
// written or spooled), so a killed process loses nothing the sender does
// not deliver again. The writers flush early while acknowledgements wait,
// and the gateways cap what is in flight; the embedded broker's hook
// takes QoS 1 messages over from the broker so that its read loops need
// not wait (broker.go).
//
// The InfluxDB writer batches itself and puts what InfluxDB cannot take
// into an on-disk spool (ingest/spool), replayed in order; only a full
// spool or a batch InfluxDB refuses as malformed loses points, and that is
// counted and logged.
//
// The package knows devices only: it must never learn about rules, alarms,
// tickets or screens. Whatever sits behind the Sink is wired in cmd/.
// Bad input is rejected with a counted, rate-limited log line, never a panic.
package ingest

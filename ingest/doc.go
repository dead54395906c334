// Package ingest takes device data in and hands it on. Data arrives over
// MQTT, either from an external broker through paho (MQTTGateway) or from
// devices connected to the embedded mochi-mqtt broker (Broker); both hand raw
// messages to the Pipeline, which parses them, checks them against the
// device registry, enriches them with the device's kind, site and building,
// writes every reading and event to the time-series store (InfluxDB through
// Influx, or the SQLite EmbeddedStore) and then passes it to a Sink.
//
// The package knows devices only: it must never learn about rules, alarms,
// tickets or screens. Whatever sits behind the Sink is wired in cmd/.
// Bad input is rejected with a counted, rate-limited log line, never a panic.
package ingest

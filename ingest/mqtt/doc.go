// Package mqtt is ingest's MQTT room: Gateway subscribes to the device
// topics on an external broker through paho, Broker is an MQTT broker
// inside caretaker (mochi-mqtt) that devices connect to, and both hand
// every device message to a Submitter (the ingest Pipeline). Both also
// carry caretaker's own events (caretaker/events/...) for the dashboard's
// relay: Publish and Subscribe (bus.go).
//
// A QoS 1 message is acknowledged only once what it carried is safe
// (ingest.Message.Done); at most MaxInFlight wait for that, then the
// broker (or the read loops) wait: backpressure, not loss. One device's
// messages reach the Submitter in the order they arrived. The embedded
// broker's hook takes QoS 1 messages over from the broker so that its
// read loops need not wait (broker.go).
//
// Constructors start nothing; Run connects or listens until ctx ends. The
// package must never decode payloads (the pipeline does), store anything,
// or learn about rules, tickets or screens; and it never logs a password.
package mqtt

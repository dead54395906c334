// Package ingesttest holds test kits for the ingest rooms and for code
// that consumes the ingest pipeline: Recorder, a Sink and Writer that
// remembers what it was handed and lets a test wait for it with a deadline
// instead of sleeping; GatedWriter and DoneFlag for acknowledgements; and
// the helpers the rooms' tests share (a registry, a running pipeline, MQTT
// clients, deadline polls). It is for tests only: production code must
// never import it.
package ingesttest

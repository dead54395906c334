// Package ingesttest holds test kits for code that consumes the ingest
// pipeline: Recorder, a Sink and Writer that remembers what it was handed
// and lets a test wait for it with a deadline instead of sleeping.
package ingesttest

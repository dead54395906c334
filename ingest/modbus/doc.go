// Package modbus polls Modbus TCP and RTU devices of the registry and hands
// their decoded readings to the ingest pipeline.
//
// Planning (plan.go) turns a device's register map into as few read
// requests as the protocol allows; decoding (decode.go) turns the answer
// into values for every register type, byte and word order, scale and
// offset; the Gateway (gateway.go) keeps one connection per address, shared
// by the units behind it, and one poll loop per connection, so requests to
// one serial line or TCP gateway are serialised and a dead unit costs the
// others at most its own timeout, once per back-off period.
//
// Three outcomes stay apart downstream: a value read and plausible is a
// reading; a value outside the register's min/max is "implausible": kept out
// of the reading (so out of the rules and the metric's series), counted and
// handed on separately; no answer is no reading at all, counted as a failed
// poll, and after Config.OfflineAfter failures in a row a device.status
// offline.
//
// The one write is a device action (write.go): Gateway.Write sets an entry
// the model declares writable (a coil or a holding register) through the
// poll loop that owns the address's connection, between two polls, and
// reads it back. Nothing else is ever written; input registers and
// discrete inputs are read-only.
package modbus

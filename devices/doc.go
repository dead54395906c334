// Package devices is the shared vocabulary of Caretaker: device kinds and
// their canonical metrics, the Device and its register map, the Reading,
// Event and Status values that gateways produce, and the Registry loaded
// from configuration.
//
// Every other package speaks in these terms. This package imports nothing of
// the project and must never learn about protocols, storage, rules or
// tickets: it is the one thing the simulator and the gateways share.
package devices

// Package firmwaresim simulates an estate of building devices (elevators,
// leak probes, power meters, gas detectors) that speak MQTT like real
// firmware: telemetry, events, an "online" status and "offline" as their
// will. Signal models and a scenario timeline make faults happen on cue.
//
// It shares only the devices vocabulary with Caretaker and must never import
// the gateways it talks to, so that it proves the protocols for real.
// Everything random comes from a seeded source: the same seed, estate and
// scenario produce the same values.
package firmwaresim

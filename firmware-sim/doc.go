// Package firmwaresim simulates an estate of building devices (elevators,
// leak probes, power meters, gas detectors) the way real firmware behaves:
// MQTT devices publish telemetry, events, an "online" status and "offline"
// as their will; Modbus devices are served as units behind Modbus TCP
// gateways through the register maps of the devices model library. Signal
// models and a scenario timeline make faults happen on cue, fault injection
// makes devices misbehave at chosen rates, and Load drives a benchmark.
//
// It shares only the devices vocabulary with Caretaker and must never import
// the gateways it talks to, so that it proves the protocols for real.
// Everything random comes from a seeded source: the same seed, estate and
// scenario produce the same values.
package firmwaresim

// Command caretaker is the Caretaker process: it reads the configuration,
// wires the gateways, the time-series store, the rules engine, ticketing and
// the dashboard together, and stops them in order on SIGINT or SIGTERM.
//
//	caretaker serve --config caretaker.yaml   the production process
//	caretaker demo                            everything in one process, with a simulated estate
//	caretaker version                         version, commit, Go version
//
// Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad configuration.
package main

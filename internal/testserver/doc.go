// Package testserver starts the real servers integration tests and
// benchmarks run against: mosquitto, InfluxDB 1.8 and pymodbus (Modbus TCP,
// and RTU on a socat pseudo-terminal pair), each on a free loopback port
// or serial line in a temporary directory, stopped when the test ends.
//
// The binaries come from PATH (the README's test command installs them).
// When one is missing the test is skipped locally and fails under CI, so a
// CI run never passes without having exercised the real parts.
package testserver

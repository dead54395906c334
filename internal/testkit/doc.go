// Package testkit is what the tests of every package share: Eventually
// (wait on state with a deadline, never on timing), a FakeClock moved by
// hand, Prometheus metrics read with expfmt (from a /metrics page or a
// Gatherer), WaitReady for a service's /readyz, Build for a Go binary built
// once per test run, and Proc for a child process that can be stopped or
// killed with SIGKILL.
//
// It is generic on purpose: it imports no Caretaker package, so that any
// package's internal tests can use it without an import cycle. Starting
// Caretaker itself (in-process or as a process) lives in cmd/caretaker's
// tests and in bench, built on these parts.
package testkit

package main

import (
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// What the tests of cmd/caretaker share to run Caretaker, built on
// internal/testkit. In-process: startCaretaker and runCaretaker
// (serve_test.go). As a process: testkit.NewCaretaker with
// testkit.CaretakerBinary.

// waitFor waits on state: cond is polled until it holds, the test fails
// after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, d, what, cond)
}

// waitReady waits until the caretaker at base (http://host:port) answers
// /readyz with 200.
func waitReady(t *testing.T, base string) {
	t.Helper()
	testkit.WaitReady(t, base, 30*time.Second)
}

// drillScrape reads one series from base's /metrics: an exact name with
// labels, or a bare name whose samples (every label set) are summed. The
// test fails when /metrics cannot be read.
func drillScrape(t *testing.T, base, series string) float64 {
	t.Helper()
	return testkit.Metric(t, base+"/metrics", series)
}

package testkit

import (
	"testing"
	"time"
)

// Poll is how often Eventually looks again.
const Poll = 20 * time.Millisecond

// Eventually checks cond every Poll until it holds and fails the test
// (t.Fatalf, naming what) when it has not held within timeout. cond runs on
// the test's goroutine, so it may itself fail the test.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Within(timeout, cond) {
		t.Fatalf("%s: not within %s", what, timeout)
	}
}

// Within checks cond every Poll until it holds (true) or timeout has passed
// (false), for callers that report the failure themselves.
func Within(timeout time.Duration, cond func() bool) bool {
	return WithinEvery(timeout, Poll, cond)
}

// WithinEvery is Within looking again every step (a benchmark that times
// the wait picks its resolution).
func WithinEvery(timeout, step time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(step)
	}
}

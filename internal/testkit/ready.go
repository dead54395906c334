package testkit

import (
	"net/http"
	"testing"
	"time"
)

// Ready tells whether base + "/readyz" answers 200 now.
func Ready(base string) bool {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// WaitReady waits until base + "/readyz" answers 200, failing the test
// after timeout. base is a URL such as "http://127.0.0.1:8080".
func WaitReady(t testing.TB, base string, timeout time.Duration) {
	t.Helper()
	Eventually(t, timeout, base+" ready", func() bool { return Ready(base) })
}

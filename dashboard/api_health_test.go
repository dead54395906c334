package dashboard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestReadyzStates: the readiness check's answer as /readyz shows it.
func TestReadyzStates(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		want   []string
	}{
		{"ready", nil, 200, []string{`"status":"ready"`}},
		{"degraded", &Degraded{Reason: "influx unreachable; readings go to the spool"}, 200,
			[]string{`"status":"degraded"`, `"reason":"influx unreachable; readings go to the spool"`}},
		{"degraded, wrapped", fmt.Errorf("store: %w", &Degraded{Reason: "x"}), 200, []string{`"status":"degraded"`}},
		{"down", errors.New("store: database is locked"), 503, []string{"not ready: store: database is locked"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEstate(t, HubConfig{}, func(c *Config) {
				c.Ready = func(context.Context) error { return tc.err }
			})
			status, body := e.do(t, "GET", "/readyz", "", "")
			if status != tc.status {
				t.Errorf("status %d, want %d: %s", status, tc.status, body)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body %s lacks %s", body, w)
				}
			}
		})
	}
}

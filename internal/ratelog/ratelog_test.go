package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRateLog(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), 10*time.Second, func() time.Time { return clock })

	steps := []struct {
		advance time.Duration
		key     string
		logged  bool
		held    string // the suppressed count the line carries, if any
	}{
		{0, "a", true, ""},
		{time.Second, "a", false, ""},
		{time.Second, "a", false, ""},
		{0, "b", true, ""}, // another reason has its own budget
		{8 * time.Second, "a", true, "suppressed=2"},
		{time.Second, "a", false, ""},
		{10 * time.Second, "a", true, "suppressed=1"},
	}
	for i, s := range steps {
		clock = clock.Add(s.advance)
		buf.Reset()
		l.Warn(s.key, "rejected", "topic", "t")
		line := buf.String()
		if (line != "") != s.logged {
			t.Fatalf("step %d: logged %q, want logged=%v", i, line, s.logged)
		}
		if s.held != "" && !strings.Contains(line, s.held) {
			t.Errorf("step %d: line %q lacks %s", i, line, s.held)
		}
		if s.held == "" && strings.Contains(line, "suppressed") {
			t.Errorf("step %d: line %q has a suppressed count", i, line)
		}
	}
}

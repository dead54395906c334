// Package ratelog writes log lines at most once per key per interval, and
// tells in the next line how many it held back, so a flood of bad input
// cannot drown the log. The ingest rooms (the pipeline, the InfluxDB
// writer) use it for what a counter counts already; it must never be the
// only record of something: a held-back line is a number in the next one,
// not a fact of its own.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Logger writes at most one line per key per interval and tells in the
// next line how many it held back, so a flood of bad messages cannot drown
// the log.
type Logger struct {
	logger   *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

// New makes a Logger writing to logger; now is its clock.
func New(logger *slog.Logger, interval time.Duration, now func() time.Time) *Logger {
	return &Logger{logger: logger, interval: interval, now: now, last: map[string]time.Time{}, held: map[string]int{}}
}

// Warn logs msg with args unless a line for key went out less than an
// interval ago.
func (l *Logger) Warn(key, msg string, args ...any) { l.log(slog.LevelWarn, key, msg, args...) }

// Error is Warn at error level.
func (l *Logger) Error(key, msg string, args ...any) { l.log(slog.LevelError, key, msg, args...) }

func (l *Logger) log(level slog.Level, key, msg string, args ...any) {
	now := l.now()
	l.mu.Lock()
	if last, ok := l.last[key]; ok && now.Sub(last) < l.interval {
		l.held[key]++
		l.mu.Unlock()
		return
	}
	suppressed := l.held[key]
	l.last[key] = now
	l.held[key] = 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	l.logger.Log(context.Background(), level, msg, args...)
}

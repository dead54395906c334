package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// rateLog writes at most one line per key per interval and tells in the
// next line how many it held back, so a flood of bad messages cannot drown
// the log.
type rateLog struct {
	logger   *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
	held map[string]int
}

func newRateLog(logger *slog.Logger, interval time.Duration, now func() time.Time) *rateLog {
	return &rateLog{logger: logger, interval: interval, now: now, last: map[string]time.Time{}, held: map[string]int{}}
}

// Warn logs msg with args unless a line for key went out less than an
// interval ago.
func (l *rateLog) Warn(key, msg string, args ...any) { l.log(slog.LevelWarn, key, msg, args...) }

// Error is Warn at error level.
func (l *rateLog) Error(key, msg string, args ...any) { l.log(slog.LevelError, key, msg, args...) }

func (l *rateLog) log(level slog.Level, key, msg string, args ...any) {
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

package placecode

import (
	"sync"
	"time"
)

// Limiter caps the reports one code may file: at most Max in any Window.
// It lives in memory: a restart forgets the counts (a code then gets a
// fresh allowance), and with several instances each counts its own.
type Limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	used map[string][]time.Time // code id -> times of its reports within the window
}

// maxCodes bounds the codes remembered; past it, codes whose window is
// over are forgotten first.
const maxCodes = 10000

// NewLimiter allows max reports per code in window (max < 1: 1); now nil
// is time.Now.
func NewLimiter(max int, window time.Duration, now func() time.Time) *Limiter {
	if max < 1 {
		max = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{max: max, window: window, now: now, used: map[string][]time.Time{}}
}

// Allow takes one report of code id if its allowance has room; when not,
// it says how long until it has.
func (l *Limiter) Allow(id string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	times := l.recent(l.used[id], now)
	if len(times) >= l.max {
		l.used[id] = times
		return false, times[0].Add(l.window).Sub(now)
	}
	if len(l.used) >= maxCodes {
		for k, v := range l.used {
			if len(l.recent(v, now)) == 0 {
				delete(l.used, k)
			}
		}
	}
	l.used[id] = append(times, now)
	return true, 0
}

// Undo gives back the last report taken for id (it could not be filed).
func (l *Limiter) Undo(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t := l.used[id]; len(t) > 0 {
		l.used[id] = t[:len(t)-1]
	}
}

func (l *Limiter) recent(times []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(times) && !times[i].Add(l.window).After(now) {
		i++
	}
	return times[i:]
}

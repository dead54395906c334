package dashboard

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Failed authentication is limited per client address (Config's
// AuthFailBurst and AuthFailEvery): so many wrong tokens in a row are
// answered 401, then one more every AuthFailEvery; past that the address
// is answered 429 with Retry-After, whatever token it sends, until it has
// waited.

// maxFailAddrs bounds the addresses remembered; beyond it the ones whose
// failures have all drained are forgotten first.
const maxFailAddrs = 10000

// failLimiter is a token bucket of failures per client address.
type failLimiter struct {
	burst float64
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	addrs map[string]*failBucket
}

type failBucket struct {
	level float64 // failures not drained yet
	at    time.Time
	n     int // failures counted since the address was first seen
}

func newFailLimiter(burst int, every time.Duration, now func() time.Time) *failLimiter {
	return &failLimiter{burst: float64(burst), every: every, now: now, addrs: map[string]*failBucket{}}
}

// drain lowers b's level by the time since it was last seen. Called with
// mu held.
func (l *failLimiter) drain(b *failBucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.level = math.Max(0, b.level-float64(d)/float64(l.every))
	}
	b.at = now
}

// blocked says whether addr must wait, and how long, before its next try.
func (l *failLimiter) blocked(addr string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.addrs[limitKey(addr)]
	if !ok {
		return 0, false
	}
	l.drain(b, l.now())
	if b.level+1 <= l.burst {
		return 0, false
	}
	return time.Duration((b.level + 1 - l.burst) * float64(l.every)), true
}

// fail counts a failure of addr and tells how many it made; blocked
// says when it must wait.
func (l *failLimiter) fail(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	key := limitKey(addr)
	b, ok := l.addrs[key]
	if !ok {
		if len(l.addrs) >= maxFailAddrs {
			l.forget(now)
		}
		b = &failBucket{at: now}
		l.addrs[key] = b
	}
	l.drain(b, now)
	b.level++
	b.n++
	return b.n
}

// forget drops the addresses whose failures have drained, and if that is
// not enough, some others (they start afresh), so memory stays bounded
// however many addresses try. Called with mu held.
func (l *failLimiter) forget(now time.Time) {
	for a, b := range l.addrs {
		l.drain(b, now)
		if b.level == 0 {
			delete(l.addrs, a)
		}
	}
	for a := range l.addrs {
		if len(l.addrs) < maxFailAddrs*9/10 {
			break
		}
		delete(l.addrs, a)
	}
}

// limitKey is what failures are counted by: the IPv4 address, or the /64
// of an IPv6 one (one host can hold a whole /64).
func limitKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil || ip.To4() != nil {
		return addr
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// clientAddr is the address the request came from (no port); a
// forwarded-for header is not trusted.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func tooManyFailures(w http.ResponseWriter, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, "too many failed authentications from this address; retry after "+strconv.Itoa(secs)+" s", "")
}

package dashboard

import (
	"fmt"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// TestFailLimiter: burst failures pass, the next try waits one interval
// and gets one more; addresses are counted apart, but one IPv6 /64 is one
// address; however many addresses fail, memory stays bounded.
func TestFailLimiter(t *testing.T) {
	clock := testkit.NewFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	l := newFailLimiter(3, 10*time.Second, clock.Now)
	steps := []struct {
		do          string // "fail" or "try"
		addr        string
		advance     time.Duration
		wantBlocked bool
		wantWait    time.Duration
	}{
		{"fail", "10.0.0.1", 0, false, 0},
		{"fail", "10.0.0.1", 0, false, 0},
		{"try", "10.0.0.1", 0, false, 0},
		{"fail", "10.0.0.1", 0, false, 0},
		{"try", "10.0.0.1", 0, true, 10 * time.Second},
		{"try", "10.0.0.2", 0, false, 0},
		{"try", "10.0.0.1", 4 * time.Second, true, 6 * time.Second},
		{"try", "10.0.0.1", 6 * time.Second, false, 0},
		{"fail", "10.0.0.1", 0, false, 0},
		{"try", "10.0.0.1", 0, true, 10 * time.Second},
		{"fail", "2001:db8::1", 0, false, 0},
		{"fail", "2001:db8::2", 0, false, 0},
		{"fail", "2001:db8::3", 0, false, 0},
		{"try", "2001:db8::ffff", 0, true, 10 * time.Second},
		{"try", "2001:db8:0:1::1", 0, false, 0},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if s.do == "fail" {
			l.fail(s.addr)
			continue
		}
		wait, blocked := l.blocked(s.addr)
		if blocked != s.wantBlocked || wait != s.wantWait {
			t.Errorf("step %d (%s %s): blocked %v wait %v, want %v %v", i, s.do, s.addr, blocked, wait, s.wantBlocked, s.wantWait)
		}
	}
	for i := 0; i < 3*maxFailAddrs; i++ {
		l.fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := len(l.addrs); n > maxFailAddrs {
		t.Fatalf("%d addresses remembered, want at most %d", n, maxFailAddrs)
	}
}

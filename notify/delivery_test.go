package notify

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestDeliveryIDStable(t *testing.T) {
	at := time.Date(2026, 12, 2, 9, 31, 0, 0, time.UTC)
	id := DeliveryID(42, at, "1", "tech1", "hook")
	if again := DeliveryID(42, at, "1", "tech1", "hook"); again != id {
		t.Fatalf("same page, ids %s and %s", id, again)
	}
	seen := map[string]string{id: "base"}
	for name, other := range map[string]string{
		"ticket":    DeliveryID(43, at, "1", "tech1", "hook"),
		"opened":    DeliveryID(42, at.Add(time.Millisecond), "1", "tech1", "hook"),
		"step":      DeliveryID(42, at, "2", "tech1", "hook"),
		"recipient": DeliveryID(42, at, "1", "tech2", "hook"),
		"channel":   DeliveryID(42, at, "1", "tech1", "mail"),
		// Field boundaries count: "1"+"tech1" is not "1t"+"ech1".
		"boundary": DeliveryID(42, at, "1t", "ech1", "hook"),
	} {
		if prev, dup := seen[other]; dup {
			t.Errorf("%s changes nothing: same id as %s", name, prev)
		}
		seen[other] = name
	}
}

func TestRetryDelay(t *testing.T) {
	r := Retry{Min: 2 * time.Second, Max: 5 * time.Minute}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
		64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := r.Delay(i + 1); got != w {
			t.Errorf("Delay(%d) = %s, want %s", i+1, got, w)
		}
	}
	if got := r.Delay(10000); got != 5*time.Minute {
		t.Errorf("Delay(10000) = %s, want the cap", got)
	}
	// Jitter from an injected source: within [d/2, d].
	for _, c := range []struct {
		j    float64
		want time.Duration
	}{{0, 4 * time.Second}, {0.5, 6 * time.Second}, {0.999999, 8 * time.Second}} {
		jr := Retry{Min: 2 * time.Second, Max: time.Minute, Jitter: func() float64 { return c.j }}
		if got := jr.Delay(3); got.Round(time.Millisecond) != c.want {
			t.Errorf("jitter %v: Delay(3) = %s, want %s", c.j, got, c.want)
		}
	}
	if d := RetryFrom(Settings{}, nil); d.Min != 2*time.Second || d.Max != 5*time.Minute {
		t.Errorf("RetryFrom defaults = %+v", d)
	}
}

func TestExpired(t *testing.T) {
	q := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		after time.Duration
		want  bool
	}{{0, false}, {59*time.Minute + 59*time.Second, false}, {time.Hour, true}, {2 * time.Hour, true}} {
		if got := Expired(q, q.Add(c.after), time.Hour); got != c.want {
			t.Errorf("Expired after %s = %v, want %v", c.after, got, c.want)
		}
	}
}

func TestIsPermanent(t *testing.T) {
	if !IsPermanent(fmt.Errorf("send: %w", &Permanent{Err: errNoAddress})) {
		t.Error("wrapped Permanent not seen")
	}
	if IsPermanent(errors.New("503")) || IsPermanent(nil) {
		t.Error("plain error taken as permanent")
	}
}

package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// TestAttemptDrill: the receiver answers 503 for the first 8 s of a fake
// clock, then 200. Each attempt waits for the retry delay on the fake
// clock; the page is sent once, every try with the same delivery id.
func TestAttemptDrill(t *testing.T) {
	start := time.Date(2026, 12, 2, 9, 31, 0, 0, time.UTC)
	clk := testkit.NewFakeClock(start) // the receiver reads it from its own goroutine
	clock := clk.Now
	rc := newReceiver(t, func(int, recorded) (int, string) {
		if clock().Sub(start) < 8*time.Second {
			return 503, "busy"
		}
		return 200, "ok"
	})
	ch, _ := NewChannel(ChannelConfig{Name: "hook", Type: TypeWebhook, URL: rc.URL, Secret: hookSecret}, Options{})
	pg, in := samplePage("hook", LangEN)
	retry := Retry{Min: time.Second, Max: time.Minute}
	var o Outcome
	var states []string
	for attempts := 0; attempts < 20; attempts = o.Attempts {
		o = Attempt(context.Background(), ch, NewMessage(pg, in, ""), attempts, start, clock, retry, time.Hour)
		states = append(states, o.State)
		if o.State != StateQueued {
			break
		}
		clk.Set(o.NextAt) // the worker wakes when the row is due
	}
	// 503 at 0s, 1s, 3s, 7s; 200 at 15s.
	if strings.Join(states, ",") != "queued,queued,queued,queued,sent" || o.Result.Status != 200 || clock().Sub(start) != 15*time.Second {
		t.Fatalf("states %v, last %+v at +%s", states, o, clock().Sub(start))
	}
	for i, r := range rc.requests() {
		if r.Header.Get(HeaderDelivery) != pg.ID {
			t.Errorf("try %d has id %q", i+1, r.Header.Get(HeaderDelivery))
		}
	}
}

func TestAttemptFailsAfterMaxAgeOrPermanent(t *testing.T) {
	start := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	now := start.Add(59 * time.Minute)
	rc := newReceiver(t, func(int, recorded) (int, string) { return 500, "down" })
	ch, _ := NewChannel(ChannelConfig{Name: "hook", Type: TypeWebhook, URL: rc.URL, Secret: hookSecret}, Options{})
	pg, in := samplePage("hook", LangEN)
	o := Attempt(context.Background(), ch, NewMessage(pg, in, ""), 9, start, func() time.Time { return now },
		Retry{Min: 2 * time.Second, Max: 5 * time.Minute}, time.Hour)
	if o.State != StateFailed || !strings.Contains(o.Error, "max_age") || o.Result.Status != 500 || o.Attempts != 10 {
		t.Errorf("at +59m: %+v", o)
	}
	sms, _ := NewChannel(ChannelConfig{Name: "sms", Type: TypeSMSHTTP, URL: rc.URL, Body: "{{text}}"}, Options{})
	pg.Recipient.Phone = ""
	o = Attempt(context.Background(), sms, NewMessage(pg, in, ""), 0, start, func() time.Time { return start },
		Retry{Min: time.Second, Max: time.Minute}, time.Hour)
	if o.State != StateFailed || !strings.Contains(o.Error, "no address") {
		t.Errorf("no phone: %+v", o)
	}
}

package notify

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// memOutbox is an in-memory outbox for the worker's tests; rows go
// through JSON as they would through a database.
type memOutbox struct {
	mu        sync.Mutex
	rows      map[string]*memRow
	failWrite int // Record fails this many times
}

type memRow struct {
	Raw      []byte // the Message as JSON
	Attempts int
	QueuedAt time.Time
	NextAt   time.Time
	State    string
	Outcomes []Outcome
}

func newMemOutbox() *memOutbox { return &memOutbox{rows: map[string]*memRow{}} }

// Queue adds the page once (INSERT OR IGNORE on the delivery id).
func (b *memOutbox) Queue(t *testing.T, m Message, at time.Time) {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.rows[m.ID]; !ok {
		b.rows[m.ID] = &memRow{Raw: raw, QueuedAt: at, NextAt: at, State: StateQueued}
	}
}

func (b *memOutbox) Due(_ context.Context, now time.Time, limit int) ([]Queued, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Queued
	for _, r := range b.rows {
		if r.State == StateQueued && !r.NextAt.After(now) {
			var m Message
			if err := json.Unmarshal(r.Raw, &m); err != nil {
				return nil, err
			}
			out = append(out, Queued{Message: m, Attempts: r.Attempts, QueuedAt: r.QueuedAt})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Message.ID < out[j].Message.ID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (b *memOutbox) Record(_ context.Context, id string, o Outcome) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failWrite > 0 {
		b.failWrite--
		return errors.New("database is locked")
	}
	r := b.rows[id]
	r.Attempts, r.State, r.NextAt = o.Attempts, o.State, o.NextAt
	r.Outcomes = append(r.Outcomes, o)
	return nil
}

func (b *memOutbox) row(id string) memRow {
	b.mu.Lock()
	defer b.mu.Unlock()
	return *b.rows[id]
}

// nextDue is the earliest next attempt of a queued row.
func (b *memOutbox) nextDue() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var min time.Time
	for _, r := range b.rows {
		if r.State == StateQueued && (min.IsZero() || r.NextAt.Before(min)) {
			min = r.NextAt
		}
	}
	return min, !min.IsZero()
}

// TestWorkerDrill: a webhook receiver answers 503 for 8 s, then 200; a
// mail page to a person without an address fails at once; a log page is
// sent. The webhook page is delivered once, every try with the same id,
// and the record keeps each answer. A new worker (a restart) over the same
// outbox finds nothing left to send.
func TestWorkerDrill(t *testing.T) {
	start := time.Date(2026, 12, 2, 9, 31, 0, 0, time.UTC)
	clock := testkit.NewFakeClock(start)
	rc := newReceiver(t, func(int, recorded) (int, string) {
		if clock.Now().Sub(start) < 8*time.Second {
			return 503, "busy"
		}
		return 200, "ok"
	})
	chans, err := NewChannels([]ChannelConfig{
		{Name: "hook", Type: TypeWebhook, URL: rc.URL, Secret: hookSecret},
		{Name: "mail", Type: TypeEmail, SMTP: SMTPConfig{Addr: "127.0.0.1:1", From: "c@example.com", TLS: "none"}},
		{Name: "screen", Type: TypeLog},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	box := newMemOutbox()
	pg, in := samplePage("hook", LangEN)
	hook := NewMessage(pg, in, "")
	box.Queue(t, hook, start)
	box.Queue(t, hook, start) // queued twice: one row
	pg.Channel, pg.ID, pg.Recipient.Email = "mail", "d-mail", ""
	box.Queue(t, NewMessage(pg, in, ""), start)
	pg.Channel, pg.ID = "screen", "d-screen"
	box.Queue(t, NewMessage(pg, in, ""), start)

	var mu sync.Mutex
	var heard []string
	w, err := NewWorker(WorkerConfig{Outbox: box, Channels: chans, Now: clock.Now,
		Retry: Retry{Min: time.Second, Max: time.Minute}, MaxAge: time.Hour,
		OnOutcome: func(_ context.Context, m Message, o Outcome) {
			mu.Lock()
			heard = append(heard, m.Channel+":"+o.State)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := w.Pass(context.Background()); err != nil {
			t.Fatal(err)
		}
		next, ok := box.nextDue()
		if !ok {
			break
		}
		if next.After(clock.Now()) {
			clock.Set(next)
		}
	}
	r := box.row(hook.ID)
	if r.State != StateSent || r.Attempts != 5 || r.Outcomes[4].Result.Status != 200 || r.Outcomes[0].Result.Status != 503 {
		t.Fatalf("hook row %+v", r)
	}
	reqs := rc.requests()
	if len(reqs) != 5 {
		t.Fatalf("%d requests, want 4 refused and 1 delivered", len(reqs))
	}
	for i, q := range reqs {
		if q.Header.Get(HeaderDelivery) != hook.ID || !verifySignature(hookSecret, q) {
			t.Errorf("try %d: id %q", i+1, q.Header.Get(HeaderDelivery))
		}
	}
	if m := box.row("d-mail"); m.State != StateFailed || m.Attempts != 1 || !strings.Contains(m.Outcomes[0].Error, "no address") {
		t.Errorf("mail row %+v", m)
	}
	if s := box.row("d-screen"); s.State != StateSent {
		t.Errorf("log row %+v", s)
	}
	mu.Lock()
	got := strings.Join(heard, ",")
	mu.Unlock()
	for _, want := range []string{"hook:queued", "hook:sent", "mail:failed", "screen:sent"} {
		if !strings.Contains(got, want) {
			t.Errorf("OnOutcome heard %s, missing %s", got, want)
		}
	}
	w2, _ := NewWorker(WorkerConfig{Outbox: box, Channels: chans, Now: clock.Now})
	if n, _ := w2.Pass(context.Background()); n != 0 {
		t.Errorf("after restart %d pages tried again", n)
	}
}

// TestWorkerRecordFailureResends: when the outcome cannot be written, the
// page stays queued and goes again with the same id (at least once).
func TestWorkerRecordFailureResends(t *testing.T) {
	start := time.Date(2026, 12, 2, 9, 31, 0, 0, time.UTC)
	rc := newReceiver(t, func(int, recorded) (int, string) { return 200, "ok" })
	chans, _ := NewChannels([]ChannelConfig{{Name: "hook", Type: TypeWebhook, URL: rc.URL, Secret: hookSecret}}, Options{})
	box := newMemOutbox()
	box.failWrite = 1
	pg, in := samplePage("hook", LangEN)
	m := NewMessage(pg, in, "")
	box.Queue(t, m, start)
	w, _ := NewWorker(WorkerConfig{Outbox: box, Channels: chans, Now: func() time.Time { return start }})
	_, _ = w.Pass(context.Background())
	_, _ = w.Pass(context.Background())
	reqs := rc.requests()
	if len(reqs) != 2 || reqs[0].Header.Get(HeaderDelivery) != reqs[1].Header.Get(HeaderDelivery) || box.row(m.ID).State != StateSent {
		t.Fatalf("%d requests, row %+v", len(reqs), box.row(m.ID))
	}
}

func TestWorkerExpiredAndUnknownChannel(t *testing.T) {
	start := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	rc := newReceiver(t, ok200)
	chans, _ := NewChannels([]ChannelConfig{{Name: "hook", Type: TypeWebhook, URL: rc.URL, Secret: hookSecret}}, Options{})
	box := newMemOutbox()
	pg, in := samplePage("hook", LangEN)
	old := NewMessage(pg, in, "")
	box.Queue(t, old, start) // queued before a long outage
	pg.Channel, pg.ID = "gone", "d-gone"
	box.Queue(t, NewMessage(pg, in, ""), start.Add(2*time.Hour))
	w, _ := NewWorker(WorkerConfig{Outbox: box, Channels: chans, MaxAge: time.Hour,
		Now: func() time.Time { return start.Add(2 * time.Hour) }})
	_, _ = w.Pass(context.Background())
	if r := box.row(old.ID); r.State != StateFailed || !strings.Contains(r.Outcomes[0].Error, "max_age") || len(rc.requests()) != 0 {
		t.Errorf("expired row %+v, %d requests", r, len(rc.requests()))
	}
	if r := box.row("d-gone"); r.State != StateFailed || !strings.Contains(r.Outcomes[0].Error, "unknown channel gone") {
		t.Errorf("unknown channel row %+v", r)
	}
}

// TestWorkerRunWakes: Run sends a page as soon as it is woken, and returns
// when its context ends.
func TestWorkerRunWakes(t *testing.T) {
	rc := newReceiver(t, ok200)
	chans, _ := NewChannels([]ChannelConfig{{Name: "hook", Type: TypeWebhook, URL: rc.URL, Secret: hookSecret}}, Options{})
	box := newMemOutbox()
	wake := make(chan struct{}, 1)
	w, _ := NewWorker(WorkerConfig{Outbox: box, Channels: chans, Wake: wake, Poll: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	pg, in := samplePage("hook", LangEN)
	m := NewMessage(pg, in, "")
	box.Queue(t, m, time.Now())
	wake <- struct{}{}
	if !testkit.Within(10*time.Second, func() bool { return box.row(m.ID).State == StateSent }) {
		t.Fatalf("not sent after wake: %+v", box.row(m.ID))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

func TestMessageForListingHidesCode(t *testing.T) {
	pg := Page{ID: "d-r", Recipient: Person{Name: "Ms Wang", Phone: "+86139", Lang: LangEN, IsReporter: true}}
	m := NewMessage(pg, gasIncident, "")
	l := m.ForListing()
	if !strings.Contains(m.Body, "4711") || strings.Contains(l.Body, "4711") || l.Incident.Code != "" {
		t.Errorf("listing body %q (sent body %q)", l.Body, m.Body)
	}
}

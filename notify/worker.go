package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Queued is one page of the outbox as the worker gets it: the rendered
// message (its ID is the delivery id, its Channel the channel's name), the
// attempts made so far and when it was queued.
type Queued struct {
	Message  Message
	Attempts int
	QueuedAt time.Time
}

// Outbox is what the worker needs of the durable outbox; the ticket store
// implements it (pages are written there in the same transaction as the
// change that causes them).
type Outbox interface {
	// Due returns up to limit queued pages whose next attempt is due at
	// now, oldest first.
	Due(ctx context.Context, now time.Time, limit int) ([]Queued, error)
	// Record writes the outcome of an attempt on the page with the id.
	Record(ctx context.Context, id string, o Outcome) error
}

// WorkerConfig configures a Worker. Zero fields take the defaults of
// withDefaults.
type WorkerConfig struct {
	Outbox   Outbox
	Channels map[string]Channel
	Retry    Retry         // see RetryFrom
	MaxAge   time.Duration // default 1h
	Now      func() time.Time
	// Poll is how often Run looks for due pages without being woken.
	// Default 1s.
	Poll time.Duration
	// Batch caps the pages of one pass. Default 100.
	Batch int
	// Wake, when not nil, makes Run look at once (the outbox signals a
	// commit that queued pages).
	Wake <-chan struct{}
	// OnOutcome hears every outcome after it is recorded (metrics,
	// dashboard events, a system alarm for a failing channel), with the
	// context of Run (its values, such as a leader's fencing token, not its
	// cancellation); it must not block. May be nil.
	OnOutcome func(ctx context.Context, m Message, o Outcome)
	// Delivered, when not nil, observes for each page sent the seconds
	// from its queueing (in the same transaction as the ticket change
	// that caused it) to its delivery.
	Delivered interface{ Observe(float64) }
	Logger    *slog.Logger
}

func (c WorkerConfig) withDefaults() WorkerConfig {
	if c.MaxAge == 0 {
		c.MaxAge = time.Hour
	}
	if c.Retry.Min == 0 {
		c.Retry = RetryFrom(Settings{}, c.Retry.Jitter)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Poll == 0 {
		c.Poll = time.Second
	}
	if c.Batch == 0 {
		c.Batch = 100
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Worker sends the due pages of the outbox and records what came of them.
type Worker struct {
	cfg WorkerConfig
	log *slog.Logger
}

// NewWorker checks the configuration; it starts nothing (see Run).
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	cfg = cfg.withDefaults()
	if cfg.Outbox == nil {
		return nil, errors.New("notify worker: no outbox")
	}
	return &Worker{cfg: cfg, log: cfg.Logger.With("component", "notify")}, nil
}

// Run passes over the outbox until ctx ends, every Poll and whenever Wake
// fires. It returns nil when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := w.Pass(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("outbox pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-w.cfg.Wake:
		}
	}
}

// Pass makes one attempt on each due page: channels in parallel, the pages
// of one channel in order. It returns how many pages it tried.
func (w *Worker) Pass(ctx context.Context) (int, error) {
	now := w.cfg.Now()
	due, err := w.cfg.Outbox.Due(ctx, now, w.cfg.Batch)
	if err != nil {
		return 0, fmt.Errorf("outbox due: %w", err)
	}
	byChannel := map[string][]Queued{}
	var order []string
	for _, q := range due {
		c := q.Message.Channel
		if _, ok := byChannel[c]; !ok {
			order = append(order, c)
		}
		byChannel[c] = append(byChannel[c], q)
	}
	var wg sync.WaitGroup
	for _, name := range order {
		wg.Add(1)
		go func(name string, qs []Queued) {
			defer wg.Done()
			for _, q := range qs {
				if ctx.Err() != nil {
					return
				}
				w.one(ctx, name, q)
			}
		}(name, byChannel[name])
	}
	wg.Wait()
	return len(due), nil
}

func (w *Worker) one(ctx context.Context, name string, q Queued) {
	var o Outcome
	ch, ok := w.cfg.Channels[name]
	switch {
	case !ok:
		o = Outcome{State: StateFailed, Attempts: q.Attempts, Error: "unknown channel " + name, At: w.cfg.Now()}
	case Expired(q.QueuedAt, w.cfg.Now(), w.cfg.MaxAge):
		o = Outcome{State: StateFailed, Attempts: q.Attempts, At: w.cfg.Now(),
			Error: "not delivered within max_age " + w.cfg.MaxAge.String()}
	default:
		o = Attempt(ctx, ch, q.Message, q.Attempts, q.QueuedAt, w.cfg.Now, w.cfg.Retry, w.cfg.MaxAge)
	}
	if ctx.Err() != nil && o.State != StateSent {
		return // stopping: the page stays queued as it was
	}
	// Record even when ctx ended after a successful send, so it is not sent
	// again needlessly.
	rctx := context.WithoutCancel(ctx)
	if err := w.cfg.Outbox.Record(rctx, q.Message.ID, o); err != nil {
		// The page stays queued and is sent again, with the same id.
		w.log.Warn("record delivery", "delivery", q.Message.ID, "channel", name, "err", err)
		return
	}
	if o.State == StateSent && w.cfg.Delivered != nil && !q.QueuedAt.IsZero() {
		w.cfg.Delivered.Observe(max(0, o.At.Sub(q.QueuedAt).Seconds()))
	}
	if o.State != StateQueued || o.Attempts == 1 {
		w.log.Debug("delivery", "delivery", q.Message.ID, "channel", name, "state", o.State, "attempts", o.Attempts, "error", o.Error)
	}
	if w.cfg.OnOutcome != nil {
		w.cfg.OnOutcome(rctx, q.Message, o)
	}
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/caretaker-iot/caretaker/internal/fence"
)

// LeaseStore takes, renews and gives back leases; Leases is the one on
// PostgreSQL.
type LeaseStore interface {
	Acquire(ctx context.Context, partition, holder string, lease time.Duration) (epoch int64, ok bool, err error)
	Renew(ctx context.Context, partition, holder string, epoch int64, lease time.Duration) (ok bool, err error)
	Release(ctx context.Context, partition, holder string, epoch int64) error
}

// Balance decides whether this instance takes or keeps a partition
// (Balancer).
type Balance interface {
	MayTake() bool
	ShouldYield(partition string) bool
	Changed(partition string, leading bool)
}

// Clock is the elector's time: a monotonic Now and timers.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config configures an Elector. Leases, Partition, Instance and Lead are
// required.
type Config struct {
	Leases    LeaseStore
	Partition string
	Instance  string        // this instance's name, unique in the cluster
	Lease     time.Duration // default 10s; renewed every third of it
	// Lead is the leader work. It runs while this instance holds the
	// lease, on a context that carries the fencing token (fence.With) and
	// is cancelled at once when the lease is lost; Run waits for it to
	// return before it competes for the lease again. An error it returns
	// gives the lease back, so another instance may do better.
	Lead func(ctx context.Context) error
	// OnChange, if set, hears when this instance starts (true) and stops
	// (false) leading the partition.
	OnChange func(leading bool, t fence.Token)
	// Balance, if set, spreads the partitions over the instances: a free
	// lease is taken only while it allows, a held one given back when it
	// says this instance leads too many.
	Balance Balance
	Clock   Clock
	Logger  *slog.Logger
}

// Elector competes for one partition's lease and runs the leader work
// while it holds it.
type Elector struct {
	cfg Config
	log *slog.Logger
}

// New checks cfg and fills in its defaults.
func New(cfg Config) (*Elector, error) {
	switch {
	case cfg.Leases == nil:
		return nil, errors.New("cluster: a lease store is required")
	case cfg.Partition == "":
		return nil, errors.New("cluster: a partition name is required")
	case cfg.Instance == "":
		return nil, errors.New("cluster.instance: required")
	case cfg.Lead == nil:
		return nil, errors.New("cluster: leader work is required")
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Elector{cfg: cfg, log: cfg.Logger.With("component", "cluster", "partition", cfg.Partition, "instance", cfg.Instance)}, nil
}

// Run competes for the lease every third of its length until ctx ends,
// and leads while it holds it. On the way out it gives a held lease back.
func (e *Elector) Run(ctx context.Context) error {
	every := e.cfg.Lease / 3
	for {
		if e.cfg.Balance != nil && !e.cfg.Balance.MayTake() {
			select {
			case <-ctx.Done():
				return nil
			case <-e.cfg.Clock.After(every):
			}
			continue
		}
		sent := e.cfg.Clock.Now()
		actx, cancel := context.WithTimeout(ctx, every)
		epoch, ok, err := e.cfg.Leases.Acquire(actx, e.cfg.Partition, e.cfg.Instance, e.cfg.Lease)
		cancel()
		switch {
		case ctx.Err() != nil:
			if ok { // taken as ctx ended: give it straight back
				e.release(ctx, epoch)
			}
			return nil
		case err != nil:
			e.log.Warn("cannot reach the lease table; trying again", "err", err)
		case ok:
			e.lead(ctx, fence.Token{Partition: e.cfg.Partition, Epoch: epoch}, sent.Add(e.cfg.Lease))
			if ctx.Err() != nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-e.cfg.Clock.After(every):
		}
	}
}

// lead runs one term: the leader work under token until the lease is lost
// or ctx ends. deadline is when the lease runs out by this instance's
// clock unless renewed.
func (e *Elector) lead(ctx context.Context, token fence.Token, deadline time.Time) {
	every := e.cfg.Lease / 3
	e.log.Info("leading the partition", "epoch", token.Epoch)
	if e.cfg.Balance != nil {
		e.cfg.Balance.Changed(e.cfg.Partition, true)
	}
	if e.cfg.OnChange != nil {
		e.cfg.OnChange(true, token)
	}
	lctx, stop := context.WithCancel(fence.With(ctx, token))
	done := make(chan error, 1)
	go func() { done <- e.cfg.Lead(lctx) }()
	finish := func(why string, release bool) {
		stop()
		err := <-done
		if release {
			e.release(ctx, token.Epoch)
		}
		if e.cfg.Balance != nil {
			e.cfg.Balance.Changed(e.cfg.Partition, false)
		}
		if e.cfg.OnChange != nil {
			e.cfg.OnChange(false, token)
		}
		e.log.Info("no longer leading the partition", "epoch", token.Epoch, "why", why, "err", err)
	}
	next := e.cfg.Clock.Now().Add(every)
	for {
		at := next
		if deadline.Before(at) {
			at = deadline
		}
		wait := at.Sub(e.cfg.Clock.Now())
		select {
		case <-ctx.Done():
			finish("stopping", true)
			return
		case err := <-done:
			done <- err // finish reads it again
			finish(fmt.Sprintf("the leader work ended: %v", err), true)
			return
		case <-e.cfg.Clock.After(max(wait, 0)):
		}
		now := e.cfg.Clock.Now()
		if !now.Before(deadline) {
			e.log.Error("lease expired before it could be renewed: leader work stopped", "epoch", token.Epoch)
			finish("lease expired", false)
			return
		}
		rctx, cancel := context.WithDeadline(ctx, time.Now().Add(deadline.Sub(now)))
		ok, err := e.cfg.Leases.Renew(rctx, token.Partition, e.cfg.Instance, token.Epoch, e.cfg.Lease)
		cancel()
		switch {
		case ctx.Err() != nil:
			continue // the next turn stops
		case err != nil:
			e.log.Warn("lease not renewed; trying again before it expires", "err", err, "expires_in", deadline.Sub(e.cfg.Clock.Now()))
			next = e.cfg.Clock.Now().Add(every / 4)
		case !ok:
			e.log.Error("lease taken over by another instance: leader work stopped", "epoch", token.Epoch)
			finish("deposed", false)
			return
		default:
			deadline, next = now.Add(e.cfg.Lease), now.Add(every)
			if e.cfg.Balance != nil && e.cfg.Balance.ShouldYield(e.cfg.Partition) {
				finish("given back to balance the partitions over the instances", true)
				// Sit out one lease, so another instance takes it.
				select {
				case <-ctx.Done():
				case <-e.cfg.Clock.After(e.cfg.Lease):
				}
				return
			}
		}
	}
}

func (e *Elector) release(ctx context.Context, epoch int64) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := e.cfg.Leases.Release(rctx, e.cfg.Partition, e.cfg.Instance, epoch); err != nil {
		e.log.Warn("lease not given back; another instance takes over when it expires", "err", err)
	}
}

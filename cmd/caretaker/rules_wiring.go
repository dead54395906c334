package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// openRuleStore opens the rule versions (tables of their own in
// store.url or store.path), seeds them on first start with the configured rules and
// replaces *ruleSet with the versions in force.
func openRuleStore(ctx context.Context, cfg Config, ruleSet *[]rules.Rule) (*rules.Store, error) {
	st, err := rules.OpenStore(ctx, rules.StoreConfig{Path: cfg.Store.Path, URL: cfg.Store.URL})
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", cfg.Store.storeName(), err)
	}
	rs, err := rules.LoadRules(ctx, st, *ruleSet)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("store %s: rules: %w", cfg.Store.storeName(), err)
	}
	*ruleSet = rs
	return st, nil
}

// newRuleBook builds what the API uses to tune rules, and hands the engine
// what it had before a restart: the saved rule state (pending for and
// clear_for, windows, counter offsets, flap history, refused handoffs),
// the active alarms (so an episode going on is not raised, nor ticketed,
// twice) and the recorded services.
//
// In a cluster engine is the standby engine, and each partition's leader
// takes back that partition's state itself (clusterRun.lead): the book
// applies changes to the standby and the engines this instance leads.
func newRuleBook(ctx context.Context, st *rules.Store, engine *rules.Engine, tickets *ticketing.Service,
	history readingStore, reg *devices.Registry, logger *slog.Logger, clustered rules.LiveRules) (*rules.Book, error) {
	if clustered != nil {
		return rules.NewBook(rules.BookConfig{Store: st, Engine: clustered,
			Backtest: &rules.Backtester{History: history, Devices: reg, Tickets: pastTickets{tickets}, Workers: serveBacktestWorkers()},
			Logger:   logger.With("component", "rules")})
	}
	active, err := tickets.Alarms(ctx, ticketing.AlarmsActive)
	if err != nil {
		return nil, fmt.Errorf("reload active alarms: %w", err)
	}
	as := make([]rules.Alarm, len(active))
	for i, a := range active {
		as[i] = a.Alarm
	}
	// The rule state saved before the restart first, then the active
	// alarms (one raised after the last snapshot still stands).
	if n, err := engine.RestoreState(ctx, st); errors.Is(err, rules.ErrStateUnreadable) {
		logger.Error("saved rule state not all taken back: those devices' pending for-durations and windows start afresh",
			"err", err, "episodes", n)
	} else if err != nil {
		return nil, err
	} else if n > 0 || engine.PendingHandoffs() > 0 {
		logger.Info("rule state taken back", "episodes", n, "pending_handoffs", engine.PendingHandoffs())
	}
	engine.Restore(as)
	book, err := rules.NewBook(rules.BookConfig{Store: st, Engine: engine,
		Backtest: &rules.Backtester{History: history, Devices: reg, Tickets: pastTickets{tickets}, Workers: serveBacktestWorkers()},
		Logger:   logger.With("component", "rules")})
	if err != nil {
		return nil, err
	}
	if err := book.RestoreServices(ctx); err != nil {
		return nil, err
	}
	return book, nil
}

// pastTickets gives the backtester the tickets opened on a device.
type pastTickets struct{ s *ticketing.Service }

func (p pastTickets) TicketsOn(ctx context.Context, device string, from, to time.Time) ([]rules.PastTicket, error) {
	var out []rules.PastTicket
	for offset := 0; ; offset += 1000 {
		page, err := p.s.List(ctx, ticketing.Filter{Device: device, From: from, To: to, Limit: 1000, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, t := range page {
			out = append(out, rules.PastTicket{ID: t.ID, Number: t.Number, Device: t.DeviceID, Source: string(t.Source), CreatedAt: t.CreatedAt})
		}
		if len(page) < 1000 {
			return out, nil
		}
	}
}

// serveBacktestWorkers is how many devices a backtest asked through the
// API replays at once: half the cores, so that live readings keep the
// other half (caretaker backtest, alone, takes them all).
func serveBacktestWorkers() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// Both reading stores hand the backtester their history as a stream.
var (
	_ rules.StreamHistory = (*tsdb.Store)(nil)
	_ rules.StreamHistory = influxStore{}
)

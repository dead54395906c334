package rules

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Book is the rules as engineers handle them: stored versions in the
// Store, applied live to the Engine, backtested by the Backtester. The
// HTTP API and the CLI work through it.
type Book struct {
	cfg BookConfig
	// mu serialises changes: a version is stored and applied to the
	// engine as one step, so the engine never ends on an older version
	// than the store's current one.
	mu sync.Mutex
}

// LiveRules is where the book applies a change at once: the Engine, or
// (in a cluster) the engines of the partitions this instance leads.
type LiveRules interface {
	Put(ctx context.Context, id string, live, shadow *Rule) error
	RecordService(ctx context.Context, ruleID, device string, at time.Time) (base float64, known bool, err error)
	RestoreService(ruleID, device string, base float64)
	RestoreServiceAt(ruleID, device string, at time.Time)
}

// BookConfig builds a Book.
type BookConfig struct {
	Store    *Store
	Engine   LiveRules
	Backtest *Backtester // nil: backtests are refused
	Logger   *slog.Logger
	Now      func() time.Time
}

// NewBook builds the book; Store and Engine are required.
func NewBook(cfg BookConfig) (*Book, error) {
	if cfg.Store == nil || cfg.Engine == nil {
		return nil, fmt.Errorf("rule book: store and engine are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Book{cfg: cfg}, nil
}

// LoadRules seeds the store with the configured rules it does not hold
// yet and returns the versions in force (live and shadow), for NewEngine.
func LoadRules(ctx context.Context, s *Store, configured []Rule) ([]Rule, error) {
	if _, err := s.Seed(ctx, configured); err != nil {
		return nil, err
	}
	cur, err := s.Current(ctx)
	if err != nil {
		return nil, err
	}
	var out []Rule
	for _, c := range cur {
		if c.Live != nil {
			out = append(out, *c.Live)
		}
		if c.Shadow != nil {
			out = append(out, *c.Shadow)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out, nil
}

// RestoreServices hands the engine the counter base and the time of every
// recorded service, after a restart.
func (b *Book) RestoreServices(ctx context.Context) error {
	svcs, err := b.cfg.Store.LastServices(ctx)
	if err != nil {
		return err
	}
	for _, s := range svcs {
		if s.Base != nil {
			b.cfg.Engine.RestoreService(s.RuleID, s.Device, *s.Base)
		}
		b.cfg.Engine.RestoreServiceAt(s.RuleID, s.Device, s.At)
	}
	return nil
}

// View is a rule as the API shows it: the version in force (live, or the
// shadow one when the rule has only that) and a shadow version on trial.
type View struct {
	Rule
	Shadow *Rule `json:"shadow,omitempty"`
}

func view(c Current) View {
	if c.Live == nil {
		return View{Rule: *c.Shadow}
	}
	return View{Rule: *c.Live, Shadow: c.Shadow}
}

// List returns every rule, sorted by id.
func (b *Book) List(ctx context.Context) ([]View, error) {
	cur, err := b.cfg.Store.Current(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(cur))
	for _, c := range cur {
		out = append(out, view(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Get returns one rule, or ErrNotFound.
func (b *Book) Get(ctx context.Context, id string) (View, error) {
	cur, err := b.cfg.Store.Current(ctx)
	if err != nil {
		return View{}, err
	}
	c, ok := cur[id]
	if !ok {
		return View{}, ErrNotFound
	}
	return view(c), nil
}

// History returns every version of a rule, oldest first.
func (b *Book) History(ctx context.Context, id string) ([]Version, error) {
	return b.cfg.Store.History(ctx, id)
}

// Put stores r as the next version of rule id and applies it at once. A
// shadow-mode r runs beside the live version until promoted; a live r
// replaces the live version and ends any shadow trial. An unknown id
// creates the rule (e.g. a narrower "gas-lel-critical.b2").
func (b *Book) Put(ctx context.Context, by Author, id string, r Rule, reason string) (Version, error) {
	if r.ID == "" {
		r.ID = id
	}
	if r.ID != id {
		return Version{}, fieldErr("id", "%q does not match the rule in the path (%q)", r.ID, id)
	}
	r.Version = 0
	b.mu.Lock()
	defer b.mu.Unlock()
	action := ActionUpdate
	if _, err := b.cfg.Store.History(ctx, id); err == ErrNotFound {
		action = ActionCreate
	} else if err != nil {
		return Version{}, err
	}
	return b.append(ctx, r, action, by, reason)
}

// Rollback makes version a copy of an earlier one, in force at once.
func (b *Book) Rollback(ctx context.Context, by Author, id string, version int, reason string) (Version, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	hist, err := b.cfg.Store.History(ctx, id)
	if err != nil {
		return Version{}, err
	}
	for _, v := range hist {
		if v.Version == version {
			r := v.Rule
			if reason == "" {
				reason = fmt.Sprintf("rollback to version %d", version)
			}
			return b.append(ctx, r, ActionRollback, by, reason)
		}
	}
	return Version{}, fieldErr("version", "rule %s has no version %d", id, version)
}

// Promote makes the shadow version on trial the live one.
func (b *Book) Promote(ctx context.Context, by Author, id, reason string) (Version, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, err := b.Get(ctx, id)
	if err != nil {
		return Version{}, err
	}
	var r Rule
	switch {
	case v.Shadow != nil:
		r = *v.Shadow
	case v.Mode == ModeShadow:
		r = v.Rule
	default:
		return Version{}, fieldErr("mode", "%v: rule %s runs no shadow version", errNoShadow, id)
	}
	r.Mode = ModeLive
	return b.append(ctx, r, ActionPromote, by, reason)
}

// append stores and applies a version; the caller holds b.mu.
func (b *Book) append(ctx context.Context, r Rule, action string, by Author, reason string) (Version, error) {
	v, err := b.cfg.Store.Append(ctx, r, action, by, reason)
	if err != nil {
		return Version{}, err
	}
	cur, err := b.cfg.Store.Current(ctx)
	if err != nil {
		return Version{}, err
	}
	c := cur[r.ID]
	if err := b.cfg.Engine.Put(ctx, r.ID, c.Live, c.Shadow); err != nil {
		return Version{}, fmt.Errorf("apply rule %s: %w", r.ID, err)
	}
	b.cfg.Logger.Info("rule changed", "rule", r.ID, "version", v.Version, "action", action, "mode", v.Rule.Mode,
		"by", by.Name, "reason", reason)
	return v, nil
}

// RecordService records that the service a counter rule asked for was
// done on a device: the rule re-arms from the counter's current value.
func (b *Book) RecordService(ctx context.Context, by Author, id, device, reason string) (Service, error) {
	if device == "" {
		return Service{}, fieldErr("device_id", "missing")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	at := b.cfg.Now()
	base, known, err := b.cfg.Engine.RecordService(ctx, id, device, at)
	if err != nil {
		return Service{}, err
	}
	s := Service{RuleID: id, Device: device, By: by.Name, Reason: reason, At: at.UTC()}
	if known {
		s.Base = &base
	}
	return s, b.cfg.Store.AddService(ctx, s)
}

// Backtest replays history through rule id, as it is and with set applied.
func (b *Book) Backtest(ctx context.Context, id string, req BacktestRequest) (BacktestResult, error) {
	if b.cfg.Backtest == nil {
		return BacktestResult{}, fmt.Errorf("backtest: no reading history is configured")
	}
	v, err := b.Get(ctx, id)
	if err != nil {
		return BacktestResult{}, err
	}
	return b.cfg.Backtest.Run(ctx, v.Rule, req)
}

package rules

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// StreamHistory is a History that hands its values over one by one as it
// reads them (same query, same order: time, then metric), so a backtest
// holds one reading per replayed device at a time instead of the device's
// whole period. The Backtester reads through ReadingsFunc when its History
// has it. An error from fn stops the read and is returned.
type StreamHistory interface {
	ReadingsFunc(ctx context.Context, q devices.Query, fn func(devices.Point) error) error
}

// BacktestProgress is how far a backtest has got.
type BacktestProgress struct {
	Devices  int // devices replayed to the end of the period
	Total    int // devices to replay
	Readings int // values read so far (BacktestResult.Readings once done)
	// Done is the share of the work done, 0 to 1: the finished devices
	// and how far into the period those under way have got, so it moves
	// within a long device too.
	Done float64
}

// progressEvery is how many values a device's replay reads between two
// progress reports (and two looks at ctx).
const progressEvery = 8192

// deviceResult is what one device's replay found.
type deviceResult struct {
	readings         int
	changed, current []Episode
	tickets          []TicketMatch
}

// replayAll replays the targets, several at once (Workers, default
// twice GOMAXPROCS), and returns their results in the targets' order, so the
// result does not depend on which finished first.
func (b *Backtester) replayAll(ctx context.Context, changed, current Rule, targets []devices.Device, req BacktestRequest) ([]deviceResult, error) {
	out := make([]deviceResult, len(targets))
	workers := b.Workers
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(targets))
	pr := &progress{req: req, total: len(targets), share: make([]float64, workers)}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		failed  error
	)
	for w := range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(targets) || ctx.Err() != nil {
					return
				}
				r, err := b.replayDevice(ctx, changed, current, targets[i], req, func(n int, share float64) { pr.advance(w, n, share) })
				if err != nil {
					errOnce.Do(func() { failed = err; cancel() })
					return
				}
				out[i] = r
				pr.deviceDone(w, r.readings)
			}
		})
	}
	wg.Wait()
	if failed != nil {
		return nil, failed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// replayDevice replays one device through the changed and the current
// rule: one read of the history per metric they read, fed to both when
// they read the same. advance is told the values read so far and the
// share of the device's work done.
func (b *Backtester) replayDevice(ctx context.Context, changed, current Rule, d devices.Device, req BacktestRequest,
	advance func(n int, share float64)) (deviceResult, error) {
	var res deviceResult
	runs := []struct {
		rule Rule
		out  *[]Episode
	}{{changed, &res.changed}, {current, &res.current}}
	var metrics []string
	for _, run := range runs {
		if m := readsMetric(run.rule); applies(run.rule, d) && (len(metrics) == 0 || metrics[0] != m) {
			metrics = append(metrics, m)
		}
	}
	span := req.To.Sub(req.From).Seconds()
	for k, metric := range metrics {
		var reps []*replayer
		var outs []*[]Episode
		for _, run := range runs {
			if !applies(run.rule, d) || readsMetric(run.rule) != metric {
				continue
			}
			rp, err := newReplayer(ctx, run.rule, d, req.From)
			if err != nil {
				return deviceResult{}, err
			}
			reps, outs = append(reps, rp), append(outs, run.out)
		}
		feed := func(rd devices.Reading) {
			for _, rp := range reps {
				rp.feed(ctx, rd)
			}
		}
		before := res.readings
		n, err := b.read(ctx, d, metric, req.From, req.To, feed, func(n int, at time.Time) {
			advance(before+n, (float64(k)+at.Sub(req.From).Seconds()/span)/float64(len(metrics)))
		})
		if err != nil {
			return deviceResult{}, err
		}
		res.readings += n
		for i, rp := range reps {
			*outs[i] = rp.finish(req.To)
		}
	}
	if b.Tickets != nil {
		past, err := b.Tickets.TicketsOn(ctx, d.ID, req.From, req.To)
		if err != nil {
			return deviceResult{}, fmt.Errorf("backtest: tickets of %s: %w", d.ID, err)
		}
		for _, t := range past {
			res.tickets = append(res.tickets, compareTicket(t, res.changed, res.current))
		}
	}
	return res, nil
}

// read reads one metric ("" every metric) of device d in [from, to) and
// feeds it as readings in time order, the values of one instant together;
// it returns how many values it read. The reading fed is valid during the
// call only: its Values are reused for the next.
func (b *Backtester) read(ctx context.Context, d devices.Device, metric string, from, to time.Time,
	feed func(devices.Reading), progress func(n int, at time.Time)) (int, error) {
	g := newGrouper(d, feed)
	q := devices.Query{Device: d.ID, Kind: d.Kind, Metric: metric, From: from, To: to}
	n := 0
	add := func(p devices.Point) error {
		if err := g.add(p); err != nil {
			return err
		}
		n++
		if n%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			progress(n, p.Time)
		}
		return nil
	}
	if s, ok := b.History.(StreamHistory); ok {
		if err := s.ReadingsFunc(ctx, q, add); err != nil {
			return n, fmt.Errorf("backtest: history of %s: %w", d.ID, err)
		}
	} else {
		samples, err := b.History.Readings(ctx, q)
		if err != nil {
			return n, fmt.Errorf("backtest: history of %s: %w", d.ID, err)
		}
		byTime := func(i, j int) bool { return samples[i].Time.Before(samples[j].Time) }
		if !sort.SliceIsSorted(samples, byTime) { // sorted as a copy: the slice is the History's
			samples = slices.Clone(samples)
			sort.SliceStable(samples, byTime)
		}
		for _, p := range samples {
			if err := add(p); err != nil {
				return n, fmt.Errorf("backtest: history of %s: %w", d.ID, err)
			}
		}
	}
	g.flush()
	return n, nil
}

// grouper turns values in time order into readings: the values taken at
// one instant make one reading, with flags turned back into flags. It
// keeps one reading, whose Values map it reuses.
type grouper struct {
	rd    devices.Reading
	has   bool
	spec  devices.KindSpec
	flags []flagOf // metrics seen so far: a kind has a handful
	feed  func(devices.Reading)
}

type flagOf struct {
	metric string
	flag   bool
}

func newGrouper(d devices.Device, feed func(devices.Reading)) *grouper {
	spec, _ := devices.SpecOf(d.Kind)
	return &grouper{spec: spec, feed: feed, rd: devices.Reading{Device: d.ID, Kind: d.Kind, Site: d.Site, Building: d.Building,
		Values: map[string]devices.Value{}}}
}

func (g *grouper) add(p devices.Point) error {
	if g.has && !p.Time.Equal(g.rd.Time) {
		if p.Time.Before(g.rd.Time) {
			return fmt.Errorf("values out of time order: %s after %s", p.Time.Format(time.RFC3339Nano), g.rd.Time.Format(time.RFC3339Nano))
		}
		g.flush()
	}
	if !g.has {
		g.rd.Time, g.rd.Received, g.has = p.Time, p.Time, true
	}
	v := devices.Num(p.Value)
	if g.isFlag(p.Metric) {
		v = devices.FlagValue(p.Value != 0)
	}
	g.rd.Values[p.Metric] = v
	return nil
}

func (g *grouper) isFlag(metric string) bool {
	for _, f := range g.flags {
		if f.metric == metric {
			return f.flag
		}
	}
	m, ok := g.spec.Metric(metric)
	f := ok && m.Type == devices.Flag
	g.flags = append(g.flags, flagOf{metric, f})
	return f
}

// flush feeds the reading held, if any.
func (g *grouper) flush() {
	if !g.has {
		return
	}
	g.feed(g.rd)
	clear(g.rd.Values)
	g.has = false
}

// replayer is a fresh engine holding only one rule, on a clock that
// follows the readings fed to it (so nothing is late), ticking at each
// reading and at the end.
type replayer struct {
	e    *Engine
	clk  time.Time
	sink *episodeSink
}

func newReplayer(ctx context.Context, r Rule, d devices.Device, from time.Time) (*replayer, error) {
	rp := &replayer{clk: from, sink: &episodeSink{open: map[string]*Episode{}}}
	e, err := NewEngine(Config{Rules: []Rule{r}, Sink: rp.sink, Devices: oneDevice{d}, Lateness: -1,
		Now: func() time.Time { return rp.clk }})
	if err != nil {
		return nil, err
	}
	rp.e = e
	if r.Condition.Op == "stale" {
		// Watch the device from the start of the period.
		e.Status(ctx, devices.Status{Device: d.ID, Time: from, Online: true})
	}
	return rp, nil
}

func (rp *replayer) feed(ctx context.Context, rd devices.Reading) {
	rp.clk = rd.Time
	// Tick and Reading under one lock, and no retry of handoffs: the
	// replay's sink takes every change.
	e := rp.e
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tick(ctx, rp.clk)
	e.reading(ctx, rd)
}

// finish ticks at the end of the period and returns the episodes; one
// still raised then has no end.
func (rp *replayer) finish(to time.Time) []Episode {
	ctx := context.Background()
	rp.clk = to
	rp.e.Tick(ctx, to)
	for _, a := range rp.e.Active() {
		if ep := rp.sink.open[a.ID]; ep != nil {
			ep.Peak = a.Peak
		}
	}
	for _, ep := range rp.sink.order {
		if ep.End == nil || !ep.End.After(to) {
			continue
		}
		ep.End = nil
	}
	out := make([]Episode, len(rp.sink.order))
	for i, ep := range rp.sink.order {
		out[i] = *ep
	}
	return out
}

// progress adds up the workers' progress and reports it, one call at a
// time.
type progress struct {
	mu       sync.Mutex
	req      BacktestRequest
	total    int
	devices  int
	readings int       // of the finished devices
	running  []int     // per worker: values read of its device so far
	share    []float64 // per worker: share of its device done
}

func (p *progress) advance(w, n int, share float64) {
	if p.req.OnProgress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running == nil {
		p.running = make([]int, len(p.share))
	}
	p.running[w], p.share[w] = n, share
	p.report()
}

func (p *progress) deviceDone(w, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.devices++
	p.readings += n
	if p.running != nil {
		p.running[w] = 0
	}
	p.share[w] = 0
	if p.req.Progress != nil {
		p.req.Progress(p.devices, p.total)
	}
	p.report()
}

func (p *progress) report() {
	if p.req.OnProgress == nil {
		return
	}
	pr := BacktestProgress{Devices: p.devices, Total: p.total, Readings: p.readings}
	done := float64(p.devices)
	for w := range p.share {
		done += p.share[w]
		if p.running != nil {
			pr.Readings += p.running[w]
		}
	}
	if p.total > 0 {
		pr.Done = min(done/float64(p.total), 1)
	}
	p.req.OnProgress(pr)
}

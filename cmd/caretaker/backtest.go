package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// backtestCmd replays stored history through one rule, as stored (or as
// configured when the store has no version yet) and with --set changes.
func backtestCmd(ctx context.Context, args []string, stdout, stderr io.Writer, env []string) error {
	fs := flag.NewFlagSet("backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML); CARETAKER_* variables override it")
	id := fs.String("rule", "", "rule id")
	fromS := fs.String("from", "", "start: RFC 3339, YYYY-MM-DD, or a duration before now such as 72h")
	toS := fs.String("to", "", "end (exclusive), same forms; default now")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var sets multiFlag
	fs.Var(&sets, "set", "changed value key=value, e.g. condition.value=25 or for=10s (repeatable)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: caretaker backtest --config caretaker.yaml --rule ID --from T [--to T] [--set key=value ...] [--json]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" {
		return usageError{"backtest needs --rule ID"}
	}
	now := time.Now()
	from, err := parseWhen(*fromS, now, time.Time{})
	if err != nil {
		return usageError{"--from: " + err.Error()}
	}
	to, err := parseWhen(*toS, now, now)
	if err != nil {
		return usageError{"--to: " + err.Error()}
	}
	if from.IsZero() {
		return usageError{"backtest needs --from"}
	}
	set, err := rules.ParseSet(sets)
	if err != nil {
		return usageError{err.Error()}
	}
	cfg, err := LoadConfig(*path, env)
	if err != nil {
		return err
	}
	logger, err := newLogger(LogConfig{Level: "warn", Format: cfg.Log.Format}, stderr)
	if err != nil {
		return err
	}
	reg, err := cfg.Registry()
	if err != nil {
		return err
	}
	rule, err := backtestRule(ctx, cfg, *id)
	if err != nil {
		return err
	}
	store, err := openReadingStore(cfg, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	bar := newProgressBar(stderr)
	bt := &rules.Backtester{History: store, Devices: reg}
	if cfg.Store.exists() {
		// Compare with the tickets of the period, when there is a store.
		tickets, err := ticketing.Open(ctx, ticketing.Config{Path: cfg.Store.Path, URL: cfg.Store.URL, Logger: logger})
		if err != nil {
			return fmt.Errorf("store %s: %w", cfg.Store.storeName(), err)
		}
		defer tickets.Close()
		bt.Tickets = pastTickets{tickets}
	}
	res, err := bt.Run(ctx, rule, rules.BacktestRequest{From: from, To: to, Set: set, OnProgress: bar.update})
	bar.done()
	if err != nil {
		var fe *rules.FieldError
		if errors.As(err, &fe) {
			return usageError{err.Error()}
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	printBacktest(stdout, res, sets)
	return nil
}

// backtestRule finds the rule in force: the stored live version, or the
// configured one when the store holds none (nothing is written).
func backtestRule(ctx context.Context, cfg Config, id string) (rules.Rule, error) {
	if cfg.Store.exists() {
		st, err := rules.OpenStore(ctx, rules.StoreConfig{Path: cfg.Store.Path, URL: cfg.Store.URL})
		if err != nil {
			return rules.Rule{}, err
		}
		defer st.Close()
		cur, err := st.Current(ctx)
		if err != nil {
			return rules.Rule{}, err
		}
		if c, ok := cur[id]; ok && c.Live != nil {
			return *c.Live, nil
		}
	}
	rs, err := cfg.RuleSet()
	if err != nil {
		return rules.Rule{}, err
	}
	for _, r := range rs {
		if r.ID == id {
			return r, nil
		}
	}
	return rules.Rule{}, usageError{fmt.Sprintf("--rule: no rule %q in the store or the configuration", id)}
}

// parseWhen reads RFC 3339, a date (UTC midnight), or a duration before now.
func parseWhen(s string, now, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not RFC 3339, YYYY-MM-DD or a duration such as 72h", s)
}

func printBacktest(w io.Writer, res rules.BacktestResult, sets []string) {
	what := "as it is"
	if len(sets) > 0 {
		what = "with " + strings.Join(sets, " ")
	}
	fmt.Fprintf(w, "rule %s %s, %s .. %s: %d devices, %d values\n", res.Rule.ID, what,
		res.From.UTC().Format(time.RFC3339), res.To.UTC().Format(time.RFC3339), res.Devices, res.Readings)
	fmt.Fprintf(w, "would have raised %d alarms (current values: %d, difference %+d)\n",
		res.Count, res.CurrentCount, res.Count-res.CurrentCount)
	if len(res.Tickets) > 0 {
		fmt.Fprintf(w, "past tickets on these devices: %d; caught earlier: %d; missed: %d\n",
			len(res.Tickets), res.CaughtEarlier, res.Missed)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(res.Tickets) > 0 {
		fmt.Fprintln(tw, "TICKET\tDEVICE\tOPENED\tVERDICT\tLEAD (CHANGED)\tLEAD (CURRENT)")
		lead := func(caught bool, s float64) string {
			if !caught {
				return "-"
			}
			return (time.Duration(s) * time.Second).String()
		}
		for _, t := range res.Tickets {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Number, t.Device, t.CreatedAt.UTC().Format(time.RFC3339),
				t.Verdict, lead(t.Caught, t.LeadSeconds), lead(t.CurrentCaught, t.CurrentLeadSeconds))
		}
		fmt.Fprintln(tw)
	}
	if len(res.Episodes) == 0 {
		tw.Flush()
		return
	}
	fmt.Fprintln(tw, "DEVICE\tSTART\tEND\tPEAK")
	for _, e := range res.Episodes {
		end := "(still raised)"
		if e.End != nil {
			end = e.End.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%g\n", e.Device, e.Start.UTC().Format(time.RFC3339), end, e.Peak)
	}
	tw.Flush()
}

// progressBar draws "[=====>     ] 12/40 devices, 518400 values" on a
// terminal, filled as far as the replay has got (within a device too), and
// nothing otherwise (a pipe or a file gets the result only).
type progressBar struct {
	w       io.Writer
	on      bool
	drawn   bool
	drawnAt time.Time
	last    rules.BacktestProgress
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	if !ok {
		return &progressBar{w: w}
	}
	st, err := f.Stat()
	return &progressBar{w: w, on: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

func (p *progressBar) update(pr rules.BacktestProgress) {
	if !p.on || pr.Total == 0 {
		return
	}
	// Redrawn at most ten times a second, and at each device's end.
	now := time.Now()
	if pr.Devices == p.last.Devices && now.Sub(p.drawnAt) < 100*time.Millisecond {
		return
	}
	p.drawnAt, p.last = now, pr
	fmt.Fprint(p.w, "\r"+renderProgress(pr, 30))
	p.drawn = true
}

func (p *progressBar) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

func renderBar(done, total, width int) string {
	return fmt.Sprintf("[%s] %d/%d devices", barOf(done*width/total, width), done, total)
}

// barOf is fill '=' of width, then '>' where there is room.
func barOf(fill, width int) string {
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	return bar
}

// renderProgress is renderBar filled to the share done, with the values
// read so far.
func renderProgress(p rules.BacktestProgress, width int) string {
	fill := min(max(int(p.Done*float64(width)), 0), width)
	return fmt.Sprintf("[%s] %d/%d devices, %d values", barOf(fill, width), p.Devices, p.Total, p.Readings)
}

package rules

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// History answers what a device reported: the stored values of one metric
// (every metric when Metric is empty) from From (inclusive) to To
// (exclusive), in time order. cmd wires it to InfluxDB or the embedded store.
type History interface {
	Readings(ctx context.Context, q devices.Query) ([]devices.Point, error)
}

// Backtester replays stored history through a rule with the live
// engine's own code: a fresh Engine holding only that rule, fed each
// device's readings in time order on a clock that follows them. Devices
// are replayed several at once, each read as a stream when the History
// is a StreamHistory.
type Backtester struct {
	History History
	Devices DeviceLister // the devices to replay (those of the rule's kind in its scope)
	// Workers is how many devices are replayed at once; default twice
	// GOMAXPROCS (a worker waiting for its store's answer leaves its core
	// to another: 1.3x from InfluxDB on two cores, the same from memory).
	// The result is the same whatever it is.
	Workers int
	// MaxSpan caps the replayed period; default 92 days.
	MaxSpan time.Duration
	// Tickets, if set, gives the past tickets on the replayed devices, so
	// the result says which of them the rule would have caught earlier
	// or missed.
	Tickets PastTickets
}

// PastTickets lists the tickets opened on one device in [from, to).
type PastTickets interface {
	TicketsOn(ctx context.Context, device string, from, to time.Time) ([]PastTicket, error)
}

// PastTicket is a ticket a backtest compares its episodes with.
type PastTicket struct {
	ID        int64     `json:"ticket_id"`
	Number    string    `json:"number"`
	Device    string    `json:"device"`
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
}

// TicketMatch says whether an episode of the changed rule (Caught, Lead)
// and of the current rule (CurrentCaught, CurrentLead) covers a past
// ticket. Lead is how long before the ticket the episode started; negative
// when it started after the ticket was opened.
type TicketMatch struct {
	PastTicket
	Caught             bool    `json:"caught"`
	LeadSeconds        float64 `json:"lead_seconds,omitempty"`
	CurrentCaught      bool    `json:"current_caught"`
	CurrentLeadSeconds float64 `json:"current_lead_seconds,omitempty"`
	// Verdict: "earlier" (the change catches it sooner, or at all),
	// "later", "same", "missed" (the change no longer catches it) or
	// "not caught" (neither does).
	Verdict string `json:"verdict"`
}

// matchWindow is how far apart an episode and a ticket may be and still
// be the same fault: people report a little before or after a sensor.
const matchWindow = 15 * time.Minute

// BacktestRequest is the period and the changed values to try.
type BacktestRequest struct {
	From, To time.Time
	Set      map[string]any // ApplySet keys; empty: the current values
	// Progress, if set, is called after each device (done counts the
	// devices finished, whichever order they finish in).
	Progress func(done, total int)
	// OnProgress, if set, is called after each device and every few
	// thousand values within one. Progress and OnProgress are called one
	// call at a time, from the goroutines that replay, before Run returns.
	OnProgress func(BacktestProgress)
}

// BacktestResult is what the rule would have raised: with the changed
// values (Count, Episodes) and with the current ones (CurrentCount,
// CurrentEpisodes).
type BacktestResult struct {
	Rule            Rule      `json:"rule"`
	From            time.Time `json:"from"`
	To              time.Time `json:"to"`
	Devices         int       `json:"devices"`
	Readings        int       `json:"readings"`
	Count           int       `json:"count"`
	CurrentCount    int       `json:"current_count"`
	Episodes        []Episode `json:"episodes"`
	CurrentEpisodes []Episode `json:"current_episodes"`
	// Tickets compares the episodes with the past tickets on the devices
	// (when the backtester has Tickets); CaughtEarlier and Missed count
	// the verdicts "earlier" and "missed".
	Tickets       []TicketMatch `json:"tickets"`
	CaughtEarlier int           `json:"caught_earlier"`
	Missed        int           `json:"missed"`
}

// Episode is one alarm the rule would have raised. End is nil when it was
// still raised at the end of the period.
type Episode struct {
	Device string     `json:"device"`
	Start  time.Time  `json:"start"`
	End    *time.Time `json:"end"`
	Peak   float64    `json:"peak"`
}

// Run replays [req.From, req.To) through current and through current with
// req.Set applied.
func (b *Backtester) Run(ctx context.Context, current Rule, req BacktestRequest) (BacktestResult, error) {
	maxSpan := b.MaxSpan
	if maxSpan <= 0 {
		maxSpan = 92 * 24 * time.Hour
	}
	switch {
	case req.From.IsZero():
		return BacktestResult{}, fieldErr("from", "missing")
	case req.To.IsZero():
		return BacktestResult{}, fieldErr("to", "missing")
	case !req.From.Before(req.To):
		return BacktestResult{}, fieldErr("to", "must be after from")
	case req.To.Sub(req.From) > maxSpan:
		return BacktestResult{}, fieldErr("to", "the period may be at most %s", maxSpan)
	case current.Condition.Op == "event":
		return BacktestResult{}, fieldErr("condition.op", "event rules cannot be backtested: the history holds readings, not events")
	case b.History == nil || b.Devices == nil:
		return BacktestResult{}, fmt.Errorf("backtest: no reading history is configured")
	}
	current.Mode = ModeLive
	changed, err := ApplySet(current, req.Set)
	if err != nil {
		return BacktestResult{}, err
	}
	if changed.Condition.Op == "event" {
		return BacktestResult{}, fieldErr("condition.op", "event rules cannot be backtested")
	}
	res := BacktestResult{Rule: changed, From: req.From, To: req.To, Episodes: []Episode{}, CurrentEpisodes: []Episode{},
		Tickets: []TicketMatch{}}
	// The changed rule may watch another metric or kind: each run reads
	// the history its own rule asks for, on the devices it applies to.
	var targets []devices.Device
	for _, d := range b.Devices.Devices() {
		if applies(current, d) || applies(changed, d) {
			targets = append(targets, d)
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].ID < targets[j].ID })
	res.Devices = len(targets)
	per, err := b.replayAll(ctx, changed, current, targets, req)
	if err != nil {
		return BacktestResult{}, err
	}
	for _, r := range per { // in device order, whichever finished first
		res.Readings += r.readings
		res.Episodes = append(res.Episodes, r.changed...)
		res.CurrentEpisodes = append(res.CurrentEpisodes, r.current...)
		for _, m := range r.tickets {
			switch m.Verdict {
			case "earlier":
				res.CaughtEarlier++
			case "missed":
				res.Missed++
			}
			res.Tickets = append(res.Tickets, m)
		}
	}
	res.Count, res.CurrentCount = len(res.Episodes), len(res.CurrentEpisodes)
	return res, nil
}

// applies tells whether rule r watches device d: its kind, in its scope.
func applies(r Rule, d devices.Device) bool {
	return d.Kind == r.Kind && r.Scope.Matches(d)
}

// readsMetric is the metric a backtest reads for rule r: its own, or
// every metric ("") when it also looks at others of the same reading (an
// all condition's terms, minus, when).
func readsMetric(r Rule) string {
	if len(r.Condition.Of) > 0 || r.Condition.Minus != "" || len(r.When) > 0 {
		return ""
	}
	return r.Metric
}

// oneDevice is the registry of a replay: the one device, and no roster,
// so staleness watches that device only.
type oneDevice struct{ d devices.Device }

func (o oneDevice) Lookup(id string) (devices.Device, bool) { return o.d, id == o.d.ID }

// episodeSink turns alarm changes into episodes.
type episodeSink struct {
	open  map[string]*Episode
	order []*Episode
}

func (s *episodeSink) HandleAlarm(_ context.Context, a Alarm) error {
	switch a.State {
	case Raised:
		ep := &Episode{Device: a.Device, Start: a.RaisedAt, Peak: a.Peak}
		s.open[a.ID] = ep
		s.order = append(s.order, ep)
	case Updated, Cleared:
		if ep := s.open[a.ID]; ep != nil {
			ep.Peak = a.Peak
			if a.State == Cleared {
				end := *a.ClearedAt
				ep.End = &end
				delete(s.open, a.ID)
			}
		}
	}
	return nil
}

// compareTicket finds, for the changed and the current rule, the episode
// on the ticket's device that covers the ticket, and says which is sooner.
func compareTicket(t PastTicket, changed, current []Episode) TicketMatch {
	m := TicketMatch{PastTicket: t}
	var lead, curLead time.Duration
	lead, m.Caught = coveringLead(t, changed)
	curLead, m.CurrentCaught = coveringLead(t, current)
	if m.Caught {
		m.LeadSeconds = lead.Seconds()
	}
	if m.CurrentCaught {
		m.CurrentLeadSeconds = curLead.Seconds()
	}
	switch {
	case m.Caught && (!m.CurrentCaught || lead > curLead):
		m.Verdict = "earlier"
	case m.Caught && lead < curLead:
		m.Verdict = "later"
	case m.Caught:
		m.Verdict = "same"
	case m.CurrentCaught:
		m.Verdict = "missed"
	default:
		m.Verdict = "not caught"
	}
	return m
}

// coveringLead returns the largest lead of an episode on the ticket's
// device that overlaps the ticket's time, give or take matchWindow.
func coveringLead(t PastTicket, eps []Episode) (time.Duration, bool) {
	var best time.Duration
	found := false
	for _, ep := range eps {
		if ep.Device != t.Device || ep.Start.After(t.CreatedAt.Add(matchWindow)) {
			continue
		}
		if ep.End != nil && ep.End.Before(t.CreatedAt.Add(-matchWindow)) {
			continue
		}
		if lead := t.CreatedAt.Sub(ep.Start); !found || lead > best {
			best, found = lead, true
		}
	}
	return best, found
}

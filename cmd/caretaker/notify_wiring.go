package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/dashboard"
	"github.com/caretaker-iot/caretaker/notify"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// paging is the notify side of serve: the planner that ticketing asks
// (through ticketPager) whom to page, the channels, and the worker that
// sends the outbox rows ticketing stores.
type paging struct {
	cfg    notify.Config
	pager  *ticketPager
	chans  map[string]notify.Channel
	worker *notify.Worker
	wake   chan struct{}
	// signer makes and checks the ack_url links; nil without
	// notify.ack_secret (pages then carry no ack_url).
	signer *notify.AckSigner
	// reporterSigner makes and checks the links of the reporter's "work
	// done" message (reporter_link.go); nil without notify.ack_secret.
	reporterSigner *notify.AckSigner
}

// newPaging builds the planner and the channels from the configuration
// (checked already by Config.Validate); it starts nothing.
func newPaging(cfg Config, logger *slog.Logger) (*paging, error) {
	ncfg := cfg.Config.WithDefaults()
	ncfg.People = peopleSites(ncfg.People, cfg.Auth.Tokens)
	planner, err := notify.NewPlanner(ncfg)
	if err != nil {
		return nil, notifyConfigError(err)
	}
	chans, err := notify.NewChannels(ncfg.Channels, notify.Options{HTTP: &http.Client{}, Logger: logger})
	if err != nil {
		return nil, notifyConfigError(err)
	}
	people := map[string]bool{}
	langByPhone := map[string]string{}
	for _, p := range ncfg.People {
		people[p.Name] = true
		if p.Phone != "" {
			langByPhone[p.Phone] = p.Lang
		}
	}
	var signer, reporterSigner *notify.AckSigner
	var base string
	if ncfg.Notify.AckSecret != "" {
		signer, err = notify.NewAckSigner(ncfg.Notify.AckSecret, ncfg.Notify.AckTTL.Std(), nil)
		if err != nil {
			return nil, &ConfigError{Key: "notify.ack_secret", Msg: err.Error()}
		}
		reporterSigner, err = newReporterSigner(cfg)
		if err != nil {
			return nil, err
		}
		base = publicURL(ncfg.Notify.PublicURL, cfg.HTTP.Listen)
		if ncfg.Notify.PublicURL == "" {
			logger.Warn("notify.public_url is not set: ack links point at http.listen, which phones may not reach", "ack_base", base)
		}
	}
	var onDuty []string
	for _, t := range cfg.Technicians {
		if t.OnDuty {
			onDuty = append(onDuty, t.Name)
		}
	}
	p := &paging{
		cfg:    ncfg,
		pager:  &ticketPager{planner: planner, people: people, onDuty: onDuty, signer: signer, base: base, langByPhone: langByPhone},
		chans:  chans,
		wake:   make(chan struct{}, 1),
		signer: signer,
	}
	p.reporterSigner, p.pager.reporterSigner = reporterSigner, reporterSigner
	return p, nil
}

// newWorker builds the sender of the store's outbox and its metrics:
// caretaker_notifications_total{channel,result} and the gauge
// caretaker_notifications_pending. Run it with p.worker.Run.
func (p *paging) newWorker(tickets *ticketing.Service, events eventSink, status statusSink, logger *slog.Logger, metrics prometheus.Registerer) error {
	watch, err := newChannelWatch(p.cfg.Notify.ChannelAlarmAfter, status, time.Now, logger.With("component", "notify"), metrics)
	if err != nil {
		return err
	}
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caretaker_notifications_total",
		Help: "Attempts to deliver pages, by channel and result (sent, retry, failed).",
	}, []string{"channel", "result"})
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "caretaker_notifications_pending",
		Help: "Pages in the outbox not yet delivered nor failed.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := tickets.PendingPages(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	delivered := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "caretaker_page_delivery_seconds",
		Help:    "From a page queued (with the ticket change that caused it) to the channel taking it, retries included.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
	})
	for _, c := range []prometheus.Collector{sent, pending, delivered} {
		if err := metrics.Register(c); err != nil {
			return fmt.Errorf("notify metrics: %w", err)
		}
	}
	rnd := rand.New(rand.NewSource(time.Now().UnixNano()))
	p.worker, err = notify.NewWorker(notify.WorkerConfig{
		Outbox:    outboxAdapter{tickets},
		Channels:  p.chans,
		Retry:     notify.RetryFrom(p.cfg.Notify, rnd.Float64),
		MaxAge:    p.cfg.Notify.MaxAge.Std(),
		Wake:      p.wake,
		Delivered: delivered,
		Logger:    logger,
		OnOutcome: func(ctx context.Context, m notify.Message, o notify.Outcome) {
			result := o.State
			if result == notify.StateQueued {
				result = "retry"
			}
			sent.WithLabelValues(m.Channel, result).Inc()
			watch.outcome(ctx, m, o)
			if !m.Recipient.IsReporter { // a reporter's message is no page
				publishPaging(tickets, events, m.Incident.TicketID, logger)
			}
		},
	})
	return err
}

// pagesQueued wakes the worker; it never blocks.
func (p *paging) pagesQueued() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func notifyConfigError(err error) error {
	if fe, ok := err.(*notify.FieldError); ok {
		return &ConfigError{Key: fe.Path, Msg: fe.Err.Error()}
	}
	return &ConfigError{Msg: err.Error()}
}

// ticketPager adapts the notify planner to ticketing.Pager: a ticket and
// its alarm become a notify.Incident, the planner's pages rendered
// messages.
type ticketPager struct {
	planner *notify.Planner
	people  map[string]bool // configured people, by name
	onDuty  []string        // technicians[].on_duty, used without rosters
	signer  *notify.AckSigner
	base    string // where ack links point (notify.public_url, or http.listen)
	// langByPhone is the language of configured people by phone, for a
	// reporter who is one of them.
	langByPhone map[string]string
	// reporterSigner signs the link of the reporter's resolved message.
	reporterSigner *notify.AckSigner
}

func (p *ticketPager) Due(sub ticketing.PageSubject, now time.Time) ([]ticketing.OutboxPage, time.Time) {
	in := p.incident(sub)
	pages := p.render(in, p.planner.Due(in, now))
	next, _ := p.planner.NextDue(in, now)
	return pages, next
}

func (p *ticketPager) Escalation(sub ticketing.PageSubject, target, clock string, at time.Time) []ticketing.OutboxPage {
	switch {
	case target == notify.RoleSupervisor || target == notify.RoleProjectMgr || target == notify.RoleControlRoom:
	case p.people[target]:
	default:
		return nil // a step of sla.chain nobody stands for (team_lead, unless a person has that name)
	}
	// The claim clock shares the policy step's delivery ids: a supervisor
	// the step already paged is not paged again. Later clocks page on
	// their own.
	key := clock
	if clock == "claim" {
		key = ""
	}
	in := p.incident(sub)
	return p.render(in, p.planner.Escalation(in, target, key, at))
}

// Reporter tells the reporter that a technician took the work (with the
// ETA) or that it is done, through the channels of the steps that name
// the reporter.
func (p *ticketPager) Reporter(sub ticketing.PageSubject, event string, at time.Time) []ticketing.OutboxPage {
	in := p.incident(sub)
	typ := map[string]string{ticketing.ReporterAccepted: notify.TypeAccepted, ticketing.ReporterResolved: notify.TypeResolved, ticketing.ReporterETA: notify.TypeETA}[event]
	return p.render(in, p.planner.Reporter(in, typ, at))
}

func (p *ticketPager) incident(sub ticketing.PageSubject) notify.Incident {
	t := sub.Ticket
	in := notify.Incident{
		TicketID: t.ID, Number: t.Number, Level: t.Level, Category: t.Category,
		Site: t.Site, Building: t.Building, Location: t.Location, Zone: t.Zone,
		AlarmID: t.AlarmID, Description: t.Description, OpenedAt: sub.OpenedAt,
		Assignee: t.Assignee, OnDuty: p.onDuty, Code: sub.Code,
	}
	if sub.AckedAt != nil {
		in.AckedAt = *sub.AckedAt
	}
	if a := sub.Alarm; a != nil {
		if t.ID == 0 { // waiting for triage
			in.Rule = a.RuleName
			if in.Rule == "" {
				in.Rule = a.RuleID
			}
		}
		in.Observation = a.Message + " (" + a.Device + ")"
		if a.Message == "" {
			in.Observation = strconv.FormatFloat(a.Value, 'g', -1, 64) + " (" + a.Device + ")"
		}
	}
	if t.Source != ticketing.SourceSensor && t.Reporter.Phone != "" {
		// A reporter who is also a configured person (same phone) is
		// told in that person's language.
		in.Reporter = &notify.Reporter{Name: t.Reporter.Name, Phone: t.Reporter.Phone, Lang: p.langByPhone[t.Reporter.Phone]}
	}
	if sub.ArriveBy != nil {
		in.ETA = sub.ArriveBy.In(p.planner.Location())
	}
	if t.ETA != nil { // the technician's own word wins over the time limit
		in.ETA = t.ETA.In(p.planner.Location())
	}
	return in
}

// render turns the planner's pages into outbox rows, each (but the
// reporter's) with the recipient's own ack_url when links are on; the
// reporter's resolved message carries the reporter's link instead.
func (p *ticketPager) render(in notify.Incident, pages []notify.Page) []ticketing.OutboxPage {
	out := make([]ticketing.OutboxPage, 0, len(pages))
	for _, pg := range pages {
		ack := ""
		// A page about an alarm nobody triaged has no ticket to acknowledge.
		if p.signer != nil && !pg.Recipient.IsReporter && in.TicketID != 0 {
			ack = p.signer.URL(p.base, in.TicketID, pg.Recipient.Name)
		}
		if p.reporterSigner != nil && pg.Recipient.IsReporter && pg.Type == notify.TypeResolved {
			ack = p.reporterSigner.URL(p.base, in.TicketID, notify.ReporterPerson)
		}
		m := notify.NewMessage(pg, in, ack)
		b, err := json.Marshal(m)
		if err != nil {
			continue // a Message of plain values always encodes
		}
		who := pg.Recipient.Name
		if pg.Recipient.IsReporter {
			who = reporterRecipient
		}
		out = append(out, ticketing.OutboxPage{ID: pg.ID, Step: pg.Step, Recipient: who, Channel: pg.Channel, DueAt: pg.DueAt, Message: b})
	}
	return out
}

// outboxAdapter gives the notify worker the ticket store's outbox.
type outboxAdapter struct{ s *ticketing.Service }

func (o outboxAdapter) Due(ctx context.Context, now time.Time, limit int) ([]notify.Queued, error) {
	rows, err := o.s.DuePages(ctx, now, limit)
	if err != nil {
		return nil, err
	}
	out := make([]notify.Queued, 0, len(rows))
	for _, r := range rows {
		var m notify.Message
		if err := json.Unmarshal(r.Message, &m); err != nil {
			// Unreadable: the worker fails it (no such channel).
			m = notify.Message{ID: r.ID}
		}
		m.ID = r.ID
		out = append(out, notify.Queued{Message: m, Attempts: r.Attempts, QueuedAt: r.QueuedAt})
	}
	return out, nil
}

func (o outboxAdapter) Record(ctx context.Context, id string, out notify.Outcome) error {
	return o.s.RecordPage(ctx, id, ticketing.PageOutcome{
		State: out.State, Attempts: out.Attempts, Status: out.Result.Status, Body: out.Result.Body,
		Error: out.Error, NextAt: out.NextAt, At: out.At,
	})
}

// notificationView is one page as GET /api/tickets/{id}/notifications
// shows it: who, by what, in which state, and the message without the
// verification code.
type notificationView struct {
	ID         string     `json:"id"`
	Step       string     `json:"step"`
	Recipient  string     `json:"recipient"`
	Channel    string     `json:"channel"`
	State      string     `json:"state"`
	Attempts   int        `json:"attempts"`
	QueuedAt   time.Time  `json:"queued_at"`
	NextAt     *time.Time `json:"next_at,omitempty"`
	DoneAt     *time.Time `json:"done_at,omitempty"`
	LastStatus int        `json:"last_status,omitempty"`
	LastBody   string     `json:"last_body,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	Type       string     `json:"type,omitempty"`
	Lang       string     `json:"lang,omitempty"`
	Subject    string     `json:"subject,omitempty"`
	Body       string     `json:"body,omitempty"`
}

// notificationsAdapter answers the notifications API from the store.
type notificationsAdapter struct{ s *ticketing.Service }

func (a notificationsAdapter) TicketNotifications(ctx context.Context, id int64) (any, error) {
	rows, err := a.s.Notifications(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]notificationView, 0, len(rows))
	for _, r := range rows {
		v := notificationView{ID: r.ID, Step: r.Step, Recipient: r.Recipient, Channel: r.Channel, State: r.State,
			Attempts: r.Attempts, QueuedAt: r.QueuedAt, NextAt: r.NextAt, DoneAt: r.DoneAt,
			LastStatus: r.LastStatus, LastBody: r.LastBody, LastError: r.LastError}
		var m notify.Message
		if json.Unmarshal(r.Message, &m) == nil {
			m = m.ForListing()
			v.Type, v.Lang, v.Subject, v.Body = m.Type, m.Recipient.Lang, m.Subject, m.Body
		}
		out = append(out, v)
	}
	return out, nil
}

// publicURL is where ack links point: notify.public_url, else the HTTP
// listen address (an unspecified host becomes the machine's name).
func publicURL(configured, listen string) string {
	if configured != "" {
		return strings.TrimRight(configured, "/")
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil && h != "" {
			host = h
		} else {
			host = "127.0.0.1"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// ackService answers the ack links of pages for the web server: a token
// shows its ticket to its person and acknowledges it, nothing else.
type ackService struct {
	signer  *notify.AckSigner
	tickets *ticketing.Service
	people  map[string]notify.Person
}

func newAckService(p *paging, tickets *ticketing.Service) dashboard.Acks {
	if p.signer == nil {
		return nil
	}
	people := map[string]notify.Person{}
	for _, pp := range p.cfg.People {
		people[pp.Name] = pp
	}
	return &ackService{signer: p.signer, tickets: tickets, people: people}
}

// claim checks the token: made with this key, unchanged, not expired, for
// a person still configured.
func (a *ackService) claim(token string) (notify.AckClaim, notify.Person, error) {
	c, err := a.signer.Verify(token)
	switch {
	case errors.Is(err, notify.ErrAckExpired):
		return c, notify.Person{}, dashboard.ErrLinkExpired
	case err != nil:
		return c, notify.Person{}, dashboard.ErrLinkInvalid
	}
	p, ok := a.people[c.Person]
	if !ok {
		return c, notify.Person{}, dashboard.ErrLinkInvalid
	}
	return c, p, nil
}

func (a *ackService) view(ctx context.Context, c notify.AckClaim, p notify.Person, done bool) (dashboard.AckView, error) {
	t, err := a.tickets.Get(ctx, c.TicketID)
	if err != nil {
		return dashboard.AckView{}, err
	}
	if !t.Status.Open() && !done {
		return dashboard.AckView{}, dashboard.ErrLinkClosed
	}
	acked, err := a.tickets.Acked(ctx, c.TicketID)
	if err != nil {
		return dashboard.AckView{}, err
	}
	var place []string
	for _, s := range []string{t.Site, t.Building, t.Location} {
		if s != "" {
			place = append(place, s)
		}
	}
	return dashboard.AckView{
		Number: t.Number, Level: t.Level, Category: t.Category, Place: strings.Join(place, " / "),
		What: t.Description, Status: string(t.Status), Person: p.Name, Lang: p.Lang,
		Acked: acked != nil, Done: done,
	}, nil
}

func (a *ackService) AckView(ctx context.Context, token string) (dashboard.AckView, error) {
	c, p, err := a.claim(token)
	if err != nil {
		return dashboard.AckView{}, err
	}
	return a.view(ctx, c, p, false)
}

func (a *ackService) Acknowledge(ctx context.Context, token string) (dashboard.AckView, error) {
	c, p, err := a.claim(token)
	if err != nil {
		return dashboard.AckView{}, err
	}
	_, changed, err := a.tickets.AckByLink(ctx, c.TicketID, p.Name)
	if errors.Is(err, ticketing.ErrIllegal) {
		return dashboard.AckView{}, dashboard.ErrLinkClosed
	}
	if err != nil {
		return dashboard.AckView{}, err
	}
	return a.view(ctx, c, p, changed)
}

// eventSink takes the dashboard's live events (the hub).
type eventSink interface {
	Notify(ticketing.Event)
}

// EventTicketPaged is the live event of a page's outcome: the ticket's
// paging state, for the board's "paged" line.
const EventTicketPaged = "ticket.paged"

// pagingState is what the board shows of a ticket's paging: the people of
// its latest step, when it was queued, and how each channel fared
// ("paged tech1 · 09:31 · email ✓ webhook ✗ (retrying)").
type pagingState struct {
	TicketID   int64          `json:"ticket_id"`
	Site       string         `json:"site,omitempty"` // in the live event: other instances relay it by its site
	Step       string         `json:"step"`
	Recipients []string       `json:"recipients"`
	At         time.Time      `json:"at"`
	Channels   []channelState `json:"channels"`
}

// channelState is one channel of a step: sent (every page delivered),
// failed (one failed for good), retrying (one failed and is tried
// again), queued (not tried yet).
type channelState struct {
	Channel string `json:"channel"`
	State   string `json:"state"`
}

// reporterRecipient is the outbox recipient of a reporter's messages.
const reporterRecipient = "reporter"

// pagingStates sums up pages (of any tickets, oldest first) per ticket:
// the latest step; the reporter's messages are no page and are left out.
func pagingStates(rows []ticketing.Notification) []pagingState {
	latest := map[int64]ticketing.Notification{}
	var order []int64
	for _, r := range rows {
		if r.Recipient == reporterRecipient {
			continue
		}
		cur, ok := latest[r.TicketID]
		if !ok {
			order = append(order, r.TicketID)
		}
		if !ok || !r.QueuedAt.Before(cur.QueuedAt) {
			latest[r.TicketID] = r
		}
	}
	rank := map[string]int{"sent": 0, "queued": 1, "retrying": 2, "failed": 3}
	out := make([]pagingState, 0, len(order))
	for _, id := range order {
		step := latest[id].Step
		st := pagingState{TicketID: id, Step: step}
		seenWho := map[string]bool{}
		chIdx := map[string]int{}
		for _, r := range rows {
			if r.TicketID != id || r.Step != step || r.Recipient == reporterRecipient {
				continue
			}
			if st.At.IsZero() || r.QueuedAt.Before(st.At) {
				st.At = r.QueuedAt
			}
			if !seenWho[r.Recipient] {
				seenWho[r.Recipient] = true
				st.Recipients = append(st.Recipients, r.Recipient)
			}
			state := r.State
			if state == ticketing.PageQueued && r.Attempts > 0 {
				state = "retrying"
			}
			i, ok := chIdx[r.Channel]
			if !ok {
				chIdx[r.Channel] = len(st.Channels)
				st.Channels = append(st.Channels, channelState{Channel: r.Channel, State: state})
				continue
			}
			if rank[state] > rank[st.Channels[i].State] {
				st.Channels[i].State = state
			}
		}
		out = append(out, st)
	}
	return out
}

// publishPaging sends the ticket's paging state to the board.
func publishPaging(tickets *ticketing.Service, events eventSink, id int64, logger *slog.Logger) {
	if events == nil || id == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := tickets.LatestStepPages(ctx, id, reporterRecipient)
	if err != nil {
		logger.Warn("paging state", "ticket", id, "err", err)
		return
	}
	if st := pagingStates(rows); len(st) == 1 {
		// The ticket's site, so that screens limited to sites see their
		// own tickets' paging only.
		t, err := tickets.Get(ctx, id)
		if err != nil {
			logger.Warn("paging state", "ticket", id, "err", err)
			return
		}
		st[0].Site = t.Site
		events.Notify(ticketing.Event{Type: EventTicketPaged, Site: t.Site, Data: st[0]})
	}
}

// Paging answers the board's snapshot: the paging state of every open
// ticket that paged someone.
func (a notificationsAdapter) Paging(ctx context.Context) (any, error) {
	rows, err := a.s.OpenTicketNotifications(ctx)
	if err != nil {
		return nil, err
	}
	return pagingStates(rows), nil
}

// onDuty is ticketing's Config.OnDuty from the rosters: who is rostered
// at a moment for a ticket of the zone (empty: any) and category (a
// roster with skills covers the category's skills, ticketing's
// DefaultSkills). Nil without rosters: technicians[].on_duty counts.
func (p *paging) onDuty() func(at time.Time, zone, category string) []string {
	if len(p.cfg.Rosters) == 0 {
		return nil
	}
	rosters, loc := p.cfg.Rosters, p.pager.planner.Location()
	skills := ticketing.DefaultSkills()
	return func(at time.Time, zone, category string) []string {
		need := skills[category]
		if len(need) == 0 {
			return rosters.OnDuty(at, loc, zone, "")
		}
		var out []string
		for _, sk := range need {
			for _, n := range rosters.OnDuty(at, loc, zone, sk) {
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		}
		return out
	}
}

// dutyPerson is one person on duty now, as GET /api/duty shows them.
type dutyPerson struct {
	Name   string   `json:"name"`
	Zones  []string `json:"zones"`  // empty: every zone
	Skills []string `json:"skills"` // empty: every skill
}

// dutyView is the answer of GET /api/duty.
type dutyView struct {
	At       time.Time    `json:"at"`
	Timezone string       `json:"timezone"`
	Source   string       `json:"source"` // rosters, or technicians (their on_duty flags)
	People   []dutyPerson `json:"people"`
}

// dutyService answers GET /api/duty: who is on duty now, by the rosters
// when there are any, else by technicians[].on_duty.
type dutyService struct {
	rosters notify.Rosters
	loc     *time.Location
	techs   []ticketing.Technician
	now     func() time.Time
}

func newDutyService(cfg Config, p *paging, now func() time.Time) *dutyService {
	return &dutyService{rosters: p.cfg.Rosters, loc: p.pager.planner.Location(), techs: cfg.Technicians, now: now}
}

func (d *dutyService) OnDutyNow(context.Context) (any, error) {
	now := d.now()
	v := dutyView{At: now, Timezone: d.loc.String(), Source: "rosters", People: []dutyPerson{}}
	if len(d.rosters) == 0 {
		v.Source = "technicians"
		for _, t := range d.techs {
			if t.OnDuty {
				v.People = append(v.People, dutyPerson{Name: t.Name, Zones: orEmpty(t.Zones), Skills: orEmpty(t.Skills)})
			}
		}
		return v, nil
	}
	idx := map[string]int{}
	for _, r := range d.rosters {
		for _, n := range (notify.Rosters{r}).OnDuty(now, d.loc, "", "") {
			i, ok := idx[n]
			if !ok {
				idx[n] = len(v.People)
				v.People = append(v.People, dutyPerson{Name: n, Zones: orEmpty(r.Zones), Skills: orEmpty(r.Skills)})
				continue
			}
			// On several rosters: every zone and skill; one that covers
			// all makes it all.
			v.People[i].Zones = unionCover(v.People[i].Zones, r.Zones)
			v.People[i].Skills = unionCover(v.People[i].Skills, r.Skills)
		}
	}
	return v, nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return append([]string(nil), s...)
}

// unionCover joins two lists where empty means "all".
func unionCover(a, b []string) []string {
	if len(a) == 0 || len(b) == 0 {
		return []string{}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

package main

import (
	"context"
	"errors"
	"strings"

	"github.com/caretaker-iot/caretaker/dashboard"
	"github.com/caretaker-iot/caretaker/notify"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// newReporterSigner makes the signer of the reporter's links, with the
// key of the ack links (in a domain of their own) and the lifetime of the
// callback window (sla.callback_within): the owner has as long to answer
// through the link as the control room has to call.
func newReporterSigner(cfg Config) (*notify.AckSigner, error) {
	ttl := cfg.SLA.CallbackWithin
	if ttl <= 0 {
		ttl = ticketing.DefaultSLA().CallbackWithin
	}
	s, err := notify.NewReporterSigner(cfg.Config.WithDefaults().Notify.AckSecret, ttl, nil)
	if err != nil {
		return nil, &ConfigError{Key: "notify.ack_secret", Msg: err.Error()}
	}
	return s, nil
}

// reporterLinks answers the links of the reporter's "work done" message
// for the web server: a token lets the reporter of its ticket confirm or
// dispute the work and leave the callback score, nothing else.
type reporterLinks struct {
	signer      *notify.AckSigner
	tickets     *ticketing.Service
	langByPhone map[string]string
}

func newReporterLinks(p *paging, tickets *ticketing.Service) dashboard.ReporterLinks {
	if p.reporterSigner == nil {
		return nil
	}
	return &reporterLinks{signer: p.reporterSigner, tickets: tickets, langByPhone: p.pager.langByPhone}
}

// ticket checks the token (made with this key for a reporter, unchanged,
// not expired) and reads its ticket, which must have a reporter.
func (l *reporterLinks) ticket(ctx context.Context, token string) (ticketing.Ticket, error) {
	c, err := l.signer.Verify(token)
	switch {
	case errors.Is(err, notify.ErrAckExpired):
		return ticketing.Ticket{}, dashboard.ErrLinkExpired
	case err != nil || c.Person != notify.ReporterPerson:
		return ticketing.Ticket{}, dashboard.ErrLinkInvalid
	}
	t, err := l.tickets.Get(ctx, c.TicketID)
	if err != nil {
		return ticketing.Ticket{}, err
	}
	if t.Source == ticketing.SourceSensor {
		return ticketing.Ticket{}, dashboard.ErrLinkInvalid
	}
	return t, nil
}

// view is the page of a resolved ticket (the verdict still to come) or a
// closed one (settled); any other status has nothing for the reporter.
func (l *reporterLinks) view(t ticketing.Ticket, done string) (dashboard.ReporterLinkView, error) {
	if t.Status != ticketing.StatusResolved && t.Status != ticketing.StatusClosed {
		return dashboard.ReporterLinkView{}, dashboard.ErrLinkClosed
	}
	var place []string
	for _, s := range []string{t.Site, t.Building, t.Location} {
		if s != "" {
			place = append(place, s)
		}
	}
	v := dashboard.ReporterLinkView{
		Number: t.Number, Category: t.Category, Place: strings.Join(place, " / "), What: t.Description,
		Resolution: t.Resolution, Status: string(t.Status), Outcome: t.Outcome, Lang: l.langByPhone[t.Reporter.Phone],
		Open: t.Status == ticketing.StatusResolved, Done: done,
	}
	if t.Score != nil {
		v.Score = *t.Score
	}
	for _, p := range t.Parts {
		v.Parts = append(v.Parts, dashboard.ReporterPart{Name: p.Name, Qty: p.Qty})
	}
	v.Paid, v.FeeCents = t.Paid, t.FeeCents
	return v, nil
}

func (l *reporterLinks) ReporterLinkView(ctx context.Context, token string) (dashboard.ReporterLinkView, error) {
	t, err := l.ticket(ctx, token)
	if err != nil {
		return dashboard.ReporterLinkView{}, err
	}
	return l.view(t, "")
}

func (l *reporterLinks) ReporterDecide(ctx context.Context, token string, d dashboard.ReporterDecision) (dashboard.ReporterLinkView, error) {
	t, err := l.ticket(ctx, token)
	if err != nil {
		return dashboard.ReporterLinkView{}, err
	}
	if t.Status != ticketing.StatusResolved {
		return l.view(t, "") // settled already, or nothing to confirm
	}
	id := t.ID
	t, err = l.tickets.ReporterByLink(ctx, id, ticketing.ReporterVerdict{Action: d.Action, Reason: d.Reason, Score: d.Score, Note: d.Note})
	if errors.Is(err, ticketing.ErrIllegal) {
		// Decided a moment ago, by the control room or another tab.
		if t, err = l.tickets.Get(ctx, id); err == nil {
			return l.view(t, "")
		}
	}
	if err != nil {
		return dashboard.ReporterLinkView{}, err
	}
	return l.view(t, d.Action)
}

package notify

import (
	"fmt"
	"strconv"
	"time"
)

// Incident is what paging needs to know of a ticket, as plain values: the
// wiring builds it from the ticket store's ticket.
type Incident struct {
	TicketID int64
	Number   string // BX20261123-0042
	Level    int
	Category string
	Site     string
	Building string
	Location string
	Zone     string // for rosters; empty: any zone
	Skill    string // for rosters; empty: any skill
	AlarmID  string
	// Rule, set with no TicketID, makes the page one about an alarm that
	// waits for triage (no ticket yet): the rule's name in plain words.
	Rule string
	// Observation is what the sensor saw, in plain words, e.g.
	// "gas 35 %LEL (limit 25 %LEL) on gas-b2-07".
	Observation string
	Description string
	// OpenedAt starts the steps' clocks. A reopened ticket that starts its
	// escalation again passes its reopening time: its pages get new ids.
	OpenedAt time.Time
	// AckedAt is when the alarm was acknowledged or the ticket claimed,
	// accepted, or assigned and accepted; zero: not yet.
	AckedAt  time.Time
	Assignee string
	// Reporter, when set, can be paged with to: [reporter].
	Reporter *Reporter
	// OnDuty is who is on duty by the static technicians list; used by
	// on_duty only when no rosters are configured.
	OnDuty []string
	// Code is the verification code of an in-home ticket. It goes to the
	// reporter and to nobody else.
	Code string
	// ETA is when the technician (Assignee) is due on site, for the
	// reporter's message on acceptance; zero: unknown. Shown in its own
	// location (the wiring passes it in the shifts' time zone).
	ETA time.Time
}

// Reporter is who reported the fault, as far as paging goes.
type Reporter struct {
	Name  string
	Phone string
	Email string
	Lang  string // default zh-CN
}

// Acked tells whether the incident was acknowledged at or before now.
func (in Incident) Acked(now time.Time) bool {
	return !in.AckedAt.IsZero() && !in.AckedAt.After(now)
}

// Page is one message to one person through one channel, due at DueAt.
// The wiring writes it into its outbox keyed by ID: writing the same page
// twice keeps one row, so the planner may be asked again and again.
type Page struct {
	ID        string // delivery id, stable (DeliveryID)
	TicketID  int64
	Step      string // "1", "2", ... (policy steps from 1), or "2:arrive" for a clock escalation
	Recipient Person
	Channel   string
	DueAt     time.Time
	// Type is the message's type when it is not a page (TypePage) or the
	// reporter's first message (TypeReport): TypeAccepted, TypeResolved.
	Type string
}

// Planner turns a configuration and an incident into the pages that are
// due. It is pure: the same incident and time give the same pages.
type Planner struct {
	cfg      Config
	loc      *time.Location
	people   map[string]Person
	policies map[int]Policy
	chanType map[string]string
}

// NewPlanner validates the configuration (defaults filled in) and returns
// its planner.
func NewPlanner(cfg Config) (*Planner, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	loc, err := cfg.Notify.Location()
	if err != nil {
		return nil, err
	}
	p := &Planner{cfg: cfg, loc: loc, people: map[string]Person{}, policies: map[int]Policy{}, chanType: map[string]string{}}
	for _, pe := range cfg.People {
		p.people[pe.Name] = pe
	}
	for _, po := range cfg.Notify.Policies {
		p.policies[po.Level] = po
	}
	for _, ch := range cfg.Channels {
		p.chanType[ch.Name] = ch.Type
	}
	return p, nil
}

// Location is the time zone of the shifts.
func (p *Planner) Location() *time.Location { return p.loc }

// OnDuty is who is on duty at the moment for the zone and skill: by the
// rosters when there are any, else the fallback list.
func (p *Planner) OnDuty(at time.Time, zone, skill string, fallback []string) []string {
	if len(p.cfg.Rosters) == 0 {
		return fallback
	}
	return p.cfg.Rosters.OnDuty(at, p.loc, zone, skill)
}

// Due returns the pages of every step of the incident's level whose time
// (OpenedAt + after) has come by now, unless the incident was acknowledged
// by now: acknowledgement stops the steps not yet paged. Recipients are
// resolved at each step's own time, so a shift change during an open
// incident reaches whoever is on duty when the step fires. One page per
// person per step and channel, however the step's `to` names them.
func (p *Planner) Due(in Incident, now time.Time) []Page {
	if in.Acked(now) {
		return nil
	}
	pol, ok := p.policies[in.Level]
	if !ok {
		return nil
	}
	var out []Page
	for i, st := range pol.Steps {
		at := in.OpenedAt.Add(st.After.Std())
		if at.After(now) {
			break // steps are in order of after
		}
		out = append(out, p.pages(in, strconv.Itoa(i+1), st, at)...)
	}
	return out
}

// NextDue is when the next step of the incident falls due after now;
// false when none is left or the incident is acknowledged.
func (p *Planner) NextDue(in Incident, now time.Time) (time.Time, bool) {
	if in.Acked(now) {
		return time.Time{}, false
	}
	for _, st := range p.policies[in.Level].Steps {
		if at := in.OpenedAt.Add(st.After.Std()); at.After(now) {
			return at, true
		}
	}
	return time.Time{}, false
}

// Escalation pages, at the moment at, the people of the first step of the
// incident's policy whose `to` names target (a role such as supervisor, or
// a person), through that step's channels, whether or not the incident is
// acknowledged: an SLA clock missed its limit. key tells escalations of
// one step apart ("arrive", "close"); with an empty key the pages share
// the step's ids, so a step already paged is not paged twice. No policy
// step names target: the target alone is paged through every channel of
// the level's first step; no policy: nothing.
func (p *Planner) Escalation(in Incident, target, key string, at time.Time) []Page {
	pol, ok := p.policies[in.Level]
	if !ok || len(pol.Steps) == 0 {
		return nil
	}
	for i, st := range pol.Steps {
		if contains(st.To, target) {
			step := strconv.Itoa(i + 1)
			if key != "" {
				step += ":" + key
			}
			return p.pages(in, step, st, at)
		}
	}
	st := Step{To: []string{target}, Via: pol.Steps[0].Via}
	return p.pages(in, "escalation:"+target+":"+key, st, at)
}

// Reporter returns the pages that tell the incident's reporter of event
// (TypeAccepted: who took the work and when they are due; TypeResolved:
// the work is done), at the moment at, through the channels of every step
// that names the reporter (sms_http and email only, as always). No step
// names the reporter, or the incident has none: nothing. Each event is
// told once (its own delivery id).
func (p *Planner) Reporter(in Incident, event string, at time.Time) []Page {
	if in.Reporter == nil || (event != TypeAccepted && event != TypeResolved && event != TypeETA) {
		return nil
	}
	var via []string
	for _, st := range p.policies[in.Level].Steps {
		if !contains(st.To, ToReporter) {
			continue
		}
		for _, ch := range st.Via {
			if !contains(via, ch) {
				via = append(via, ch)
			}
		}
	}
	if len(via) == 0 {
		return nil
	}
	pages := p.pages(in, "reporter:"+event, Step{To: []string{ToReporter}, Via: via}, at)
	for i := range pages {
		pages[i].Type = event
	}
	return pages
}

// pages resolves one step at its time into pages, each person once.
func (p *Planner) pages(in Incident, step string, st Step, at time.Time) []Page {
	var people []Person
	seen := map[string]bool{}
	add := func(pe Person) {
		if !pe.IsReporter && len(pe.Sites) > 0 && !contains(pe.Sites, in.Site) {
			return // limited to other sites
		}
		if k := recipientKey(pe); !seen[k] {
			seen[k] = true
			people = append(people, pe)
		}
	}
	byName := func(n string) {
		if pe, ok := p.people[n]; ok {
			add(pe)
		} else {
			add(Person{Name: n, Lang: defaultLang})
		}
	}
	for _, to := range st.To {
		switch to {
		case ToOnDuty:
			for _, n := range p.OnDuty(at, in.Zone, in.Skill, in.OnDuty) {
				byName(n)
			}
		case ToAssignee:
			if in.Assignee != "" {
				byName(in.Assignee)
			}
		case ToReporter:
			if r := in.Reporter; r != nil && (r.Phone != "" || r.Email != "") {
				lang := r.Lang
				if lang != LangEN {
					lang = LangZH
				}
				add(Person{Name: r.Name, Phone: r.Phone, Email: r.Email, Lang: lang, IsReporter: true})
			}
		case RoleSupervisor, RoleProjectMgr, RoleControlRoom:
			for _, pe := range p.cfg.People {
				if contains(pe.Roles, to) {
					add(pe)
				}
			}
		default:
			byName(to)
		}
	}
	var out []Page
	for _, pe := range people {
		for _, ch := range st.Via {
			// The reporter is reached only through personal channels: a
			// group robot, a webhook or the log would show the code to
			// others.
			// A reporter without an email address is not mailed.
			if pe.IsReporter {
				switch typ := p.chanType[ch]; {
				case typ == TypeSMSHTTP && pe.Phone != "":
				case typ == TypeEmail && pe.Email != "":
				default:
					continue
				}
			}
			out = append(out, Page{
				ID:        DeliveryID(in.TicketID, in.OpenedAt, step, recipientKey(pe), ch),
				TicketID:  in.TicketID,
				Step:      step,
				Recipient: pe,
				Channel:   ch,
				DueAt:     at,
			})
		}
	}
	return out
}

// recipientKey names a recipient in delivery ids: the person's name, or
// the reporter's phone (a reporter is not a configured person).
func recipientKey(pe Person) string {
	if pe.IsReporter {
		return fmt.Sprintf("reporter:%s:%s", pe.Phone, pe.Email)
	}
	return pe.Name
}

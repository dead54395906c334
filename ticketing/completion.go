package ticketing

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Completion and acceptance: resolve, confirm, dispute, callback, and the
// follow-up tickets (re-inspection, rework) they open.

// Outcomes of a done ticket.
const (
	OutcomeConfirmed = "confirmed"
	OutcomeDisputed  = "disputed"
	OutcomeRework    = "rework"
	OutcomeCancelled = "cancelled"
)

// ReworkScore: a callback score at or below it opens a rework ticket.
const ReworkScore = 3

func (a *act) resolve() error {
	if a.t.Status == StatusAccepted && (a.t.Level != 3 || a.t.Scope == ScopeInHome) {
		return a.illegal(fmt.Sprintf("ticket %s is accepted but nobody is on site; only an L3 public question may be resolved without a visit", a.t.Number))
	}
	if err := a.checklistDone(); err != nil {
		return err
	}
	active, err := a.activeAlarms()
	if err != nil {
		return err
	}
	if len(active) > 0 && !a.req.Override {
		return &ActionError{Action: ActResolve, Kind: ErrIllegal, Field: "override",
			Reason: fmt.Sprintf("the alarm of ticket %s is still active (%s); resolving it now needs an override with a reason",
				a.t.Number, strings.Join(active, "; "))}
	}
	parts, err := json.Marshal(nonNilParts(a.req.Parts))
	if err != nil {
		return fmt.Errorf("parts: %w", err)
	}
	// New work, new terms: an earlier acceptance does not cover them.
	if _, err := a.tx.ExecContext(a.ctx, `UPDATE tickets SET resolution = ?, actual_fault = ?, parts = ?, paid = ?, fee_cents = ?,
		accepted_by = '', accepted_role = '', accepted_at = NULL, accepted_verdict = '', accepted_terms = ''
		WHERE id = ?`, a.req.Note, a.req.ActualFault, string(parts), a.req.Paid, a.req.FeeCents, a.t.ID); err != nil {
		return fmt.Errorf("record resolution: %w", err)
	}
	if err := a.setStatus(StatusResolved); err != nil {
		return err
	}
	if err := a.s.meetAll(a.ctx, a.tx, a.t.ID); err != nil {
		return err
	}
	if err := a.s.plan(a.ctx, a.tx, a.t.ID, clockCallback, a.now, a.now.Add(a.s.cfg.SLA.CallbackWithin)); err != nil {
		return err
	}
	note := "resolved: " + a.req.Note
	if a.req.ActualFault != "" {
		note += "; actual fault: " + a.req.ActualFault
	}
	note += termsText(a.req.Parts, a.req.Paid, a.req.FeeCents)
	if err := a.history(ActResolve, note); err != nil {
		return err
	}
	if len(active) == 0 {
		return nil
	}
	// Resolved over a live alarm: the control room must see who decided
	// it, when and why (the ticket keeps it; the board marks the alarm).
	if _, err := a.tx.ExecContext(a.ctx, "UPDATE tickets SET override_by = ?, override_at = ?, override_reason = ? WHERE id = ?",
		a.by.Name, ms(a.now), a.req.Reason, a.t.ID); err != nil {
		return fmt.Errorf("record override: %w", err)
	}
	return a.history("resolve_override", fmt.Sprintf("resolved by %s while the alarm is still active (%s): %s",
		a.by.Name, strings.Join(active, "; "), a.req.Reason))
}

// activeAlarms describes the alarms of the action's ticket that have not
// cleared ("Gas above alarm level on gas-b2-07: 35.5, peak 35.5").
func (a *act) activeAlarms() ([]string, error) {
	rows, err := a.tx.QueryContext(a.ctx, `SELECT coalesce(nullif(rule_name, ''), rule_id), device_id, value, peak FROM alarms
		WHERE ticket_id = ? AND state <> 'cleared' AND shadow = 0 ORDER BY level, raised_at, id`, a.t.ID)
	if err != nil {
		return nil, fmt.Errorf("active alarms of ticket %d: %w", a.t.ID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name, device string
		var value, peak float64
		if err := rows.Scan(&name, &device, &value, &peak); err != nil {
			return nil, fmt.Errorf("active alarms of ticket %d: %w", a.t.ID, err)
		}
		out = append(out, fmt.Sprintf("%s on %s: %s, peak %s", name, device,
			strconv.FormatFloat(value, 'g', -1, 64), strconv.FormatFloat(peak, 'g', -1, 64)))
	}
	return out, rows.Err()
}

func nonNilParts(p []Part) []Part {
	if p == nil {
		return []Part{}
	}
	return p
}

// confirm closes the ticket as confirmed: the owner accepts the work and
// what it used and cost (parts, the fee agreed on site), through their
// link or on the phone to the control room.
func (a *act) confirm() error {
	if err := a.setStatus(StatusClosed); err != nil {
		return err
	}
	if err := a.set("outcome", OutcomeConfirmed); err != nil {
		return err
	}
	if err := a.recordAcceptance(OutcomeConfirmed); err != nil {
		return err
	}
	what := "owner confirmed the work"
	if a.by.Role != RoleReporterLink {
		what += " by phone"
	}
	return a.history(ActConfirm, withNote(what+termsText(a.t.Parts, a.t.Paid, a.t.FeeCents), a.req.Note))
}

// MaxFeeCents is the largest fee of a paid service (¥100,000.00).
const MaxFeeCents = 100_000_00

// Yuan writes cents as yuan: 1250 is "12.50".
func Yuan(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// termsText is what the work used and cost, as history notes say it:
// "; parts: valve x1, seal x2; paid service, fee ¥120.00".
func termsText(parts []Part, paid bool, fee int64) string {
	var out string
	if len(parts) > 0 {
		names := make([]string, len(parts))
		for i, p := range parts {
			names[i] = fmt.Sprintf("%s x%d", p.Name, p.Qty)
		}
		out += "; parts: " + strings.Join(names, ", ")
	}
	if paid {
		out += "; paid service, fee ¥" + Yuan(fee)
	}
	return out
}

// Acceptance is the owner's verdict on resolved work and on what it used
// and cost, as it was when they gave it: who recorded it (the reporter
// through their link, or an operator after a call), when, and the parts
// and fee it covered.
type Acceptance struct {
	Verdict  string    `json:"verdict"` // confirmed or disputed
	By       string    `json:"by"`
	Role     string    `json:"role"` // reporter_link, operator, admin
	At       time.Time `json:"at"`
	Parts    []Part    `json:"parts"`
	Paid     bool      `json:"paid"`
	FeeCents int64     `json:"fee_cents"`
	Reason   string    `json:"reason,omitempty"` // disputed: what is still wrong
}

type acceptedTerms struct {
	Parts    []Part `json:"parts"`
	Paid     bool   `json:"paid"`
	FeeCents int64  `json:"fee_cents"`
	Reason   string `json:"reason,omitempty"`
}

// recordAcceptance records the owner's verdict on the ticket's work and terms.
func (a *act) recordAcceptance(verdict string) error {
	terms, err := json.Marshal(acceptedTerms{Parts: nonNilParts(a.t.Parts), Paid: a.t.Paid, FeeCents: a.t.FeeCents, Reason: a.req.Reason})
	if err != nil {
		return fmt.Errorf("acceptance: %w", err)
	}
	if _, err := a.tx.ExecContext(a.ctx, `UPDATE tickets SET accepted_by = ?, accepted_role = ?, accepted_at = ?, accepted_verdict = ?, accepted_terms = ?
		WHERE id = ?`, a.by.Name, a.by.Role, ms(a.now), verdict, string(terms), a.t.ID); err != nil {
		return fmt.Errorf("record acceptance: %w", err)
	}
	return nil
}

// scanAcceptance reads the acceptance columns; nil when none is recorded.
func scanAcceptance(by, role, verdict, terms string, at sql.NullInt64) (*Acceptance, error) {
	if verdict == "" || !at.Valid {
		return nil, nil
	}
	var t acceptedTerms
	if terms != "" {
		if err := json.Unmarshal([]byte(terms), &t); err != nil {
			return nil, fmt.Errorf("acceptance terms: %w", err)
		}
	}
	return &Acceptance{Verdict: verdict, By: by, Role: role, At: fromMS(at.Int64), Parts: nonNilParts(t.Parts), Paid: t.Paid,
		FeeCents: t.FeeCents, Reason: t.Reason}, nil
}

// dispute closes the ticket as disputed and opens a re-inspection ticket
// that must be on site within SLA.ReinspectWithin.
func (a *act) dispute() error {
	if err := a.setStatus(StatusClosed); err != nil {
		return err
	}
	if err := a.set("outcome", OutcomeDisputed); err != nil {
		return err
	}
	if err := a.recordAcceptance(OutcomeDisputed); err != nil {
		return err
	}
	why := a.req.Reason + joinNote(a.req.Note)
	re, err := a.followUp("re-inspection", why, func(nt *newTicket) { nt.ReinspectionOf = a.t.ID })
	if err != nil {
		return err
	}
	// The re-inspection has its own arrive limit.
	due := a.now.Add(a.s.cfg.SLA.ReinspectWithin)
	if err := a.s.plan(a.ctx, a.tx, re.ID, clockArrive, a.now, due); err != nil {
		return err
	}
	return a.history(ActDispute, withNote(fmt.Sprintf("owner disputes the result%s; re-inspection ticket %s due on site by %s",
		termsText(a.t.Parts, a.t.Paid, a.t.FeeCents), re.Number, a.s.formatTime(a.t.Site, due)), why))
}

// callback records the owner's score (1-5) and whether it is fixed. A
// resolved ticket is closed by it; a score of ReworkScore or less, or
// "not fixed", opens a rework ticket linked by rework_of.
func (a *act) callback() error {
	var has int
	if err := a.tx.QueryRowContext(a.ctx, "SELECT count(score) FROM tickets WHERE id = ?", a.t.ID).Scan(&has); err != nil {
		return fmt.Errorf("read score: %w", err)
	}
	if has == 1 {
		return a.illegal("the callback of ticket " + a.t.Number + " is already recorded")
	}
	fixed := a.req.Fixed == nil || *a.req.Fixed
	if _, err := a.tx.ExecContext(a.ctx, "UPDATE tickets SET score = ?, fixed = ? WHERE id = ?", a.req.Score, fixed, a.t.ID); err != nil {
		return fmt.Errorf("record callback: %w", err)
	}
	if err := a.s.meet(a.ctx, a.tx, a.t.ID, clockCallback); err != nil {
		return err
	}
	note := fmt.Sprintf("callback: score %d/5", a.req.Score)
	if !fixed {
		note += ", owner says it is not fixed"
	}
	rework := (a.req.Score <= ReworkScore || !fixed) && a.t.Outcome != OutcomeDisputed
	outcome := a.t.Outcome
	switch {
	case rework:
		outcome = OutcomeRework
	case a.t.Status == StatusResolved:
		outcome = OutcomeConfirmed
	}
	if err := a.set("outcome", outcome); err != nil {
		return err
	}
	if a.t.Status == StatusResolved {
		if err := a.setStatus(StatusClosed); err != nil {
			return err
		}
	}
	if rework {
		re, err := a.followUp("rework", note+joinNote(a.req.Note), func(nt *newTicket) { nt.ReworkOf = a.t.ID })
		if err != nil {
			return err
		}
		note += "; rework ticket " + re.Number + " opened"
	}
	return a.history(ActCallback, withNote(note, a.req.Note))
}

// followUp opens a ticket for the same place and fault as the action's
// ticket (re-inspection, rework), linked both ways in the history. It
// takes over the incident key, so later reports about the place join it.
func (a *act) followUp(kind, why string, link func(*newTicket)) (Ticket, error) {
	var key string
	if err := a.tx.QueryRowContext(a.ctx, "SELECT incident_key FROM tickets WHERE id = ?", a.t.ID).Scan(&key); err != nil {
		return Ticket{}, fmt.Errorf("read incident: %w", err)
	}
	var code, stored string
	if a.t.Scope == ScopeInHome {
		var err error
		if code, err = verificationCode(); err != nil {
			return Ticket{}, err
		}
		if stored, err = hashCode(code); err != nil {
			return Ticket{}, err
		}
		a.ctx = withIssuedCode(a.ctx, stored, code)
	}
	nt := newTicket{Ticket: Ticket{
		Source: a.t.Source, Level: a.t.Level, Category: a.t.Category, Site: a.t.Site, Building: a.t.Building,
		Location: a.t.Location, Scope: a.t.Scope, Unit: a.t.Unit, Floor: a.t.Floor, Room: a.t.Room,
		DeviceID: a.t.DeviceID, AlarmID: a.t.AlarmID, Reporter: a.t.Reporter,
		Description: withNote(fmt.Sprintf("%s of %s: %s", kind, a.t.Number, a.t.Description), why),
	}, incidentKey: key, code: stored}
	link(&nt)
	note := fmt.Sprintf("%s of %s", kind, a.t.Number)
	id, created, err := a.s.insertTicket(a.ctx, a.tx, nt, a.by, note)
	if err != nil {
		return Ticket{}, err
	}
	if !created { // another open ticket holds the incident: this one stands alone
		if nt.incidentKey, err = uniqueIncident(); err != nil {
			return Ticket{}, err
		}
		if id, _, err = a.s.insertTicket(a.ctx, a.tx, nt, a.by, note); err != nil {
			return Ticket{}, err
		}
	}
	// The follow-up calls back the same people.
	if _, err := a.tx.ExecContext(a.ctx, `INSERT INTO ticket_reports (ticket_id, at, source, name, phone, description, reported_by, merged)
		SELECT ?, at, source, name, phone, description, reported_by, merged FROM ticket_reports WHERE ticket_id = ? ORDER BY id`,
		id, a.t.ID); err != nil {
		return Ticket{}, fmt.Errorf("%s reports: %w", kind, err)
	}
	t, err := getTicket(a.ctx, a.tx, id)
	if err != nil {
		return Ticket{}, err
	}
	t.VerificationCode = code
	a.opened = &t
	return t, nil
}

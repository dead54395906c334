package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Actions on a ticket (contract.md, POST /api/tickets/{id}/actions), plus
// "level" (an operator changes the level, with a reason) and "new_code"
// (an operator issues a new verification code after a lock-out).
const (
	ActClaim    = "claim"
	ActAssign   = "assign"
	ActAccept   = "accept"
	ActArrive   = "arrive"
	ActResolve  = "resolve"
	ActConfirm  = "confirm"
	ActDispute  = "dispute"
	ActCallback = "callback"
	ActReopen   = "reopen"
	ActCancel   = "cancel"
	ActComment  = "comment"
	ActLevel    = "level"
	ActNewCode  = "new_code"
	ActETA      = "eta"
	ActCarry    = "carry_over"
	// ActCheck ticks an item of the ticket's checklist (item, value);
	// ActUncheck takes the tick back.
	ActCheck   = "check"
	ActUncheck = "uncheck"
)

// Roles, as the tokens carry them (contract.md); Roles lists them.
const (
	RolePatrol     = "patrol"
	RoleTechnician = "technician"
	RoleOperator   = "operator"
	RoleEngineer   = "engineer"
	RoleManager    = "manager" // the project manager: reports and KPIs, reads the rest
	RoleAdmin      = "admin"
)

// Roles is every role a token may carry, the control room's first. It is
// the one list: the API, the configuration and the demo take it from here.
func Roles() []string {
	return []string{RoleOperator, RolePatrol, RoleTechnician, RoleEngineer, RoleManager, RoleAdmin}
}

// IsRole says whether role is one of Roles.
func IsRole(role string) bool { return slices.Contains(Roles(), role) }

// RoleMay says whether role may ever do action (on some ticket, in some
// status); admin may do everything, an unknown action nobody.
func RoleMay(role, action string) bool {
	st, ok := flow[action]
	return ok && (role == RoleAdmin || slices.Contains(st.roles, role))
}

// Why an action was refused; match with errors.Is.
var (
	// ErrIllegal: not a legal step from the ticket's status (HTTP 409).
	ErrIllegal = errors.New("illegal step")
	// ErrForbidden: the actor's role, or this actor, may not do it (403).
	ErrForbidden = errors.New("forbidden")
	// ErrLocked: too many wrong verification codes (429).
	ErrLocked = errors.New("locked")
)

// ActionError is a refused action; Reason says why in words for people.
// Code and Params say the same for a program, so that a page can say it
// in its user's language: code "wrong_code" with {"n": 1, "max": 5}.
type ActionError struct {
	Action string
	Reason string
	Kind   error // ErrIllegal, ErrForbidden or ErrLocked
	Code   string
	Params map[string]any
	// Field names what the request lacks, when it can be given
	// ("override": the alarm is still active); empty otherwise.
	Field string
}

func (e *ActionError) Error() string { return e.Action + ": " + e.Reason }
func (e *ActionError) Unwrap() error { return e.Kind }

// ErrorCode is the stable code of the refusal and its parameters (the
// action among them); "" when it has none.
func (e *ActionError) ErrorCode() (string, map[string]any) {
	if e.Code == "" {
		return "", nil
	}
	p := map[string]any{"action": e.Action}
	for k, v := range e.Params {
		p[k] = v
	}
	return e.Code, p
}

// ActionRequest is one action; which fields count depends on Action.
type ActionRequest struct {
	Action      string `json:"action"`
	Technician  string `json:"technician,omitempty"`   // assign
	Code        string `json:"code,omitempty"`         // arrive, in-home work
	Note        string `json:"note,omitempty"`         // comment (required), resolve (required: what was done), others
	Reason      string `json:"reason,omitempty"`       // level and cancel (required), reopen, dispute
	Level       int    `json:"level,omitempty"`        // level
	ActualFault string `json:"actual_fault,omitempty"` // resolve: the real fault, when not what was reported
	Parts       []Part `json:"parts,omitempty"`        // resolve
	Paid        bool   `json:"paid,omitempty"`         // resolve: paid service
	FeeCents    int64  `json:"fee_cents,omitempty"`    // resolve: the fee agreed on site
	Score       int    `json:"score,omitempty"`        // callback: 1-5
	Fixed       *bool  `json:"fixed,omitempty"`        // callback: false when the owner says it is not fixed
	// Override (resolve): resolve although an alarm of the ticket is still
	// active; needs Reason.
	Override bool `json:"override,omitempty"`
	// ClientTime is when a step queued on a phone offline was done; the
	// clocks count it within bounds (clientTime).
	ClientTime *time.Time `json:"client_time,omitempty"`
	// ETAMinutes is, for eta, in how many minutes the technician will be
	// on site (1-480).
	ETAMinutes int `json:"eta_minutes,omitempty"`
	// Item (check, uncheck) is the id of a checklist item; Value what
	// the item takes (a time, a reading, a few words).
	Item  string `json:"item,omitempty"`
	Value string `json:"value,omitempty"`
}

// ActionResult is the ticket after the action, with its history, and the
// follow-up ticket the action opened (re-inspection, rework), if any. A
// new verification code (new_code, or an in-home follow-up) is in
// VerificationCode, in this answer only.
type ActionResult struct {
	Ticket
	Opened *Ticket `json:"opened,omitempty"`
}

// step is one row of the state machine.
type step struct {
	from  []Status // legal starting statuses; nil: any
	roles []string // who may; admin always may
	own   bool     // a technician must be the assignee
}

var (
	openSet = []Status{StatusNew, StatusDispatched, StatusAccepted, StatusOnSite}
	doneSet = []Status{StatusResolved, StatusClosed}
)

// flow is the repair flow: which action is legal from which status and
// for whom. The status it leads to is set by the action's handler. The
// reporter's link (ReporterByLink) may confirm, dispute and leave the
// callback score; no token carries that role.
var flow = map[string]step{
	ActClaim:    {from: []Status{StatusNew}, roles: []string{RoleTechnician}},
	ActAssign:   {from: []Status{StatusNew, StatusDispatched, StatusAccepted}, roles: []string{RoleOperator}},
	ActAccept:   {from: []Status{StatusDispatched}, roles: []string{RoleTechnician}, own: true},
	ActArrive:   {from: []Status{StatusAccepted}, roles: []string{RoleTechnician}, own: true},
	ActResolve:  {from: []Status{StatusOnSite, StatusAccepted}, roles: []string{RoleTechnician}, own: true},
	ActConfirm:  {from: []Status{StatusResolved}, roles: []string{RoleOperator, RoleReporterLink}},
	ActDispute:  {from: []Status{StatusResolved}, roles: []string{RoleOperator, RoleReporterLink}},
	ActCallback: {from: doneSet, roles: []string{RoleOperator, RoleReporterLink}},
	ActReopen:   {from: doneSet, roles: []string{RoleOperator}},
	ActCancel:   {from: openSet, roles: []string{RoleOperator}},
	ActComment:  {roles: []string{RolePatrol, RoleTechnician, RoleOperator}, own: true},
	ActLevel:    {from: openSet, roles: []string{RoleOperator}},
	ActNewCode:  {from: openSet, roles: []string{RoleOperator}},
	ActETA:      {from: []Status{StatusDispatched, StatusAccepted}, roles: []string{RoleTechnician}, own: true},
	ActCarry:    {from: []Status{StatusDispatched, StatusAccepted, StatusOnSite}, roles: []string{RoleTechnician, RoleOperator}, own: true},
	ActCheck:    {from: []Status{StatusAccepted, StatusOnSite}, roles: []string{RoleTechnician, RoleOperator}, own: true},
	ActUncheck:  {from: []Status{StatusAccepted, StatusOnSite}, roles: []string{RoleTechnician, RoleOperator}, own: true},
}

// Actions lists the action names the state machine knows.
func Actions() []string {
	out := make([]string, 0, len(flow))
	for a := range flow {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// check says whether by may do action on t now.
func (st step) check(action string, by Actor, t Ticket) error {
	if by.Role != RoleAdmin && !slices.Contains(st.roles, by.Role) {
		return &ActionError{Action: action, Kind: ErrForbidden, Code: "role_may_not",
			Params: map[string]any{"role": orNone(by.Role), "roles": st.roles},
			Reason: fmt.Sprintf("role %s may not %s a ticket (%s may)", orNone(by.Role), action, strings.Join(st.roles, ", "))}
	}
	if st.from != nil && !slices.Contains(st.from, t.Status) {
		return &ActionError{Action: action, Kind: ErrIllegal, Code: "wrong_status",
			Params: map[string]any{"number": t.Number, "status": t.Status, "allowed": st.from},
			Reason: fmt.Sprintf("ticket %s is %s; %s is only possible when it is %s", t.Number, t.Status, action, joinStatuses(st.from))}
	}
	if st.own && by.Role == RoleTechnician && t.Assignee != by.Name {
		who := "nobody"
		if t.Assignee != "" {
			who = t.Assignee
		}
		return &ActionError{Action: action, Kind: ErrForbidden, Code: "not_assignee",
			Params: map[string]any{"number": t.Number, "assignee": t.Assignee},
			Reason: fmt.Sprintf("ticket %s is assigned to %s, not to %s", t.Number, who, by.Name)}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func joinStatuses(ss []Status) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// validate checks what an action needs; the error is a *FieldError.
func (r *ActionRequest) validate() error {
	r.Action = strings.TrimSpace(r.Action)
	for _, f := range []*string{&r.Technician, &r.Code, &r.Note, &r.Reason, &r.ActualFault} {
		*f = strings.TrimSpace(*f)
	}
	if _, ok := flow[r.Action]; !ok {
		if r.Action == "" {
			return &FieldError{Field: "action", Message: "required"}
		}
		return &FieldError{Field: "action", Message: fmt.Sprintf("%q is not one of %s", r.Action, strings.Join(Actions(), ", "))}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"note", r.Note, MaxDescription}, {"reason", r.Reason, maxShortField * 5}, {"technician", r.Technician, maxShortField},
		{"code", r.Code, 32}, {"actual_fault", r.ActualFault, maxShortField * 5}} {
		if utf8.RuneCountInString(f.v) > f.max {
			return &FieldError{Field: f.name, Message: fmt.Sprintf("longer than %d characters", f.max)}
		}
	}
	need := func(field, v, what string) error {
		if v == "" {
			return &FieldError{Field: field, Message: "required: " + what, Code: "required"}
		}
		return nil
	}
	switch r.Action {
	case ActETA:
		if r.ETAMinutes < 1 || r.ETAMinutes > 480 {
			return &FieldError{Field: "eta_minutes", Message: "in how many minutes you will be on site, 1 to 480"}
		}
	case ActCarry:
		return need("reason", r.Reason, "why it cannot be finished today")
	case ActAssign:
		return need("technician", r.Technician, "who to assign")
	case ActComment:
		return need("note", r.Note, "the comment")
	case ActResolve:
		if err := need("note", r.Note, "what was done"); err != nil {
			return err
		}
		if len(r.Parts) > 100 {
			return &FieldError{Field: "parts", Message: "at most 100 parts"}
		}
		for i := range r.Parts {
			r.Parts[i].Name = strings.TrimSpace(r.Parts[i].Name)
			if r.Parts[i].Name == "" || utf8.RuneCountInString(r.Parts[i].Name) > maxShortField {
				return &FieldError{Field: fmt.Sprintf("parts[%d].name", i), Message: "required (the part's name), at most 200 characters"}
			}
			if r.Parts[i].Qty < 1 || r.Parts[i].Qty > 10000 {
				return &FieldError{Field: fmt.Sprintf("parts[%d].qty", i), Message: "a whole number from 1 to 10000"}
			}
		}
		if r.FeeCents < 0 || r.FeeCents > MaxFeeCents {
			return &FieldError{Field: "fee_cents", Code: "fee_range", Params: map[string]any{"max_cents": MaxFeeCents},
				Message: fmt.Sprintf("the fee is in cents, from 0 to %d (¥%s)", MaxFeeCents, Yuan(MaxFeeCents))}
		}
		if r.FeeCents > 0 && !r.Paid {
			return &FieldError{Field: "fee_cents", Message: "a fee needs paid: true"}
		}
	case ActCheck, ActUncheck:
		return r.validateCheck()
	case ActCallback:
		if r.Score < 1 || r.Score > 5 {
			return &FieldError{Field: "score", Message: "required: a score from 1 to 5"}
		}
	case ActLevel:
		if r.Level < 1 || r.Level > 3 {
			return &FieldError{Field: "level", Message: "required: 1, 2 or 3"}
		}
		return need("reason", r.Reason, "why the level changes")
	case ActCancel:
		return need("reason", r.Reason, "why the ticket is cancelled")
	}
	if r.Override && r.Action == ActResolve {
		return need("reason", r.Reason, "why the ticket is resolved while its alarm is still active")
	}
	return nil
}

// act is one action in progress, inside its transaction.
type act struct {
	s      *Service
	ctx    context.Context
	tx     *sql.Tx
	by     Actor
	t      Ticket // as it was before the action
	req    ActionRequest
	now    time.Time
	opened *Ticket // follow-up ticket opened by the action
	code   string  // new verification code to hand out once
}

// refusal is an action refused after recording something (a wrong code
// is counted even though arrival is refused): the transaction commits,
// then Act returns err.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }

var handlers = map[string]func(*act) error{
	ActClaim:    (*act).claim,
	ActAssign:   (*act).assign,
	ActAccept:   (*act).accept,
	ActArrive:   (*act).arrive,
	ActResolve:  (*act).resolve,
	ActConfirm:  (*act).confirm,
	ActDispute:  (*act).dispute,
	ActCallback: (*act).callback,
	ActReopen:   (*act).reopen,
	ActCancel:   (*act).cancel,
	ActComment:  (*act).comment,
	ActLevel:    (*act).changeLevel,
	ActNewCode:  (*act).newCode,
	ActETA:      (*act).eta,
	ActCarry:    (*act).carryOver,
	ActCheck:    (*act).check,
	ActUncheck:  (*act).uncheck,
}

// Act applies an action to ticket id for by, along the repair flow: it
// checks the role and the status (*ActionError wrapping ErrForbidden or
// ErrIllegal otherwise), records the step in the history with actor, role
// and time, moves the clocks, and sends "ticket.updated" (and
// "ticket.created" for a follow-up ticket). Bad input is a *FieldError.
func (s *Service) Act(ctx context.Context, by Actor, id int64, req ActionRequest) (ActionResult, error) {
	if err := req.validate(); err != nil {
		return ActionResult{}, err
	}
	if by.Name == "" {
		return ActionResult{}, &FieldError{Field: "actor", Message: "who acts is required"}
	}
	var a *act
	var refused error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		a, refused = nil, nil
		t, err := getTicket(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := flow[req.Action].check(req.Action, by, t); err != nil {
			return err
		}
		now := s.now()
		at, offline := clientTime(req, t, now)
		a = &act{s: s, ctx: ctx, tx: tx, by: by, t: t, req: req, now: at}
		if err := handlers[req.Action](a); err != nil {
			var r *refusal
			if errors.As(err, &r) {
				refused = r.err
				return nil
			}
			return err
		}
		if offline != "" {
			if err := s.addHistory(ctx, tx, id, by, "offline", req.Action+" "+offline); err != nil {
				return err
			}
			if err := s.backdate(ctx, tx, id, now, at); err != nil {
				return err
			}
		}
		// A claim or an acceptance acknowledges the ticket: the later
		// escalation steps are not paged. Any action may change whom the
		// steps reach, or end them.
		if req.Action == ActETA {
			if err := s.queueReporter(ctx, tx, id, ReporterETA); err != nil {
				return err
			}
		}
		if req.Action == ActClaim || req.Action == ActAccept {
			if err := s.markAcked(ctx, tx, id); err != nil {
				return err
			}
		}
		if err := s.queuePages(ctx, tx, id); err != nil {
			return err
		}
		// The reporter hears who took the work, and when it is done.
		switch req.Action {
		case ActClaim, ActAccept:
			if err := s.queueReporter(ctx, tx, id, ReporterAccepted); err != nil {
				return err
			}
		case ActResolve:
			if err := s.queueReporter(ctx, tx, id, ReporterResolved); err != nil {
				return err
			}
		}
		// Any step a person takes on an open L1 ticket is progress.
		return s.progressNoted(ctx, tx, id)
	})
	if err != nil {
		return ActionResult{}, fmt.Errorf("ticket %d %s: %w", id, req.Action, err)
	}
	if refused != nil {
		return ActionResult{}, fmt.Errorf("ticket %d: %w", id, refused)
	}
	t, err := s.Get(ctx, id)
	if err != nil {
		return ActionResult{}, err
	}
	s.cfg.Notifier.Notify(ticketEvent(EventTicketUpdated, s.eventTicket(t)))
	res := ActionResult{Ticket: t}
	res.VerificationCode = a.code
	if a.opened != nil {
		o, err := s.Get(ctx, a.opened.ID)
		if err != nil {
			return ActionResult{}, err
		}
		s.cfg.Notifier.Notify(ticketEvent(EventTicketCreated, s.eventTicket(o)))
		o.VerificationCode = a.opened.VerificationCode
		res.Opened = &o
	}
	return res, nil
}

// history records a step of the action's ticket.
func (a *act) history(action, note string) error {
	return a.s.addHistory(a.ctx, a.tx, a.t.ID, a.by, action, note)
}

// setStatus moves the ticket to st and keeps done_at (when last resolved
// or closed) for the alarm reopen window.
func (a *act) setStatus(st Status) error {
	q := "UPDATE tickets SET status = ? WHERE id = ?"
	args := []any{st, a.t.ID}
	if st == StatusResolved || st == StatusClosed {
		q = "UPDATE tickets SET status = ?, done_at = ? WHERE id = ?"
		args = []any{st, ms(a.now), a.t.ID}
	}
	if _, err := a.tx.ExecContext(a.ctx, q, args...); err != nil {
		return fmt.Errorf("status %s: %w", st, err)
	}
	return nil
}

func (a *act) set(column string, v any) error {
	// column is always a constant of this package, never input.
	if _, err := a.tx.ExecContext(a.ctx, "UPDATE tickets SET "+column+" = ? WHERE id = ?", v, a.t.ID); err != nil {
		return fmt.Errorf("set %s: %w", column, err)
	}
	return nil
}

func (a *act) illegal(reason string) error {
	return &ActionError{Action: a.req.Action, Reason: reason, Kind: ErrIllegal}
}

// withNote appends an optional note to a history text.
func withNote(text, note string) string {
	if note == "" {
		return text
	}
	return text + ": " + note
}

package ticketing

import (
	"fmt"
	"strings"
	"time"
)

// The dispatch and on-site steps of the flow: claim, assign, accept,
// arrive, plus comment, cancel, reopen, level and new_code.

func (a *act) claim() error {
	if tech, known := a.s.technician(a.by.Name); a.by.Role == RoleTechnician && len(a.s.cfg.Technicians) > 0 && !known {
		return &ActionError{Action: ActClaim, Kind: ErrForbidden, Reason: a.by.Name + " is not in the technicians list"}
	} else if known && !a.s.onDuty(tech, a.t.Category) {
		return a.illegal(a.by.Name + " is off duty")
	}
	if err := a.set("assignee", a.by.Name); err != nil {
		return err
	}
	if err := a.setStatus(StatusAccepted); err != nil {
		return err
	}
	if err := a.s.meet(a.ctx, a.tx, a.t.ID, clockClaim, clockDispatch); err != nil {
		return err
	}
	return a.history(ActClaim, withNote("claimed from the grab-order pool by "+a.by.Name, a.req.Note))
}

func (a *act) assign() error {
	name := a.req.Technician
	tech, known := a.s.assignable(name)
	if names := a.s.assignableNames(); len(names) > 0 && !known {
		return &FieldError{Field: "technician", Message: fmt.Sprintf("%q is not one of the technicians (%s)", name, strings.Join(names, ", ")),
			Code: "unknown_technician", Params: map[string]any{"name": name}}
	}
	note := "assigned to " + name
	if a.t.Assignee != "" && a.t.Assignee != name {
		note += " (was " + a.t.Assignee + ")"
	}
	if known && !a.s.onDuty(tech, a.t.Category) {
		note += "; off duty"
	}
	if err := a.set("assignee", name); err != nil {
		return err
	}
	if err := a.setStatus(StatusDispatched); err != nil {
		return err
	}
	if err := a.s.meet(a.ctx, a.tx, a.t.ID, clockDispatch); err != nil {
		return err
	}
	// The new assignee has claim_timeout to accept it.
	if err := a.s.plan(a.ctx, a.tx, a.t.ID, clockClaim, a.now, a.now.Add(a.s.cfg.SLA.ClaimTimeout)); err != nil {
		return err
	}
	return a.history(ActAssign, withNote(note, a.req.Note))
}

func (a *act) accept() error {
	if err := a.setStatus(StatusAccepted); err != nil {
		return err
	}
	if err := a.s.meet(a.ctx, a.tx, a.t.ID, clockClaim); err != nil {
		return err
	}
	return a.history(ActAccept, withNote("accepted by "+a.by.Name, a.req.Note))
}

// arrive needs the verification code for in-home work. A wrong code is
// counted (and recorded, never the code itself); after MaxCodeAttempts
// wrong ones arrival is locked until an operator issues a new code.
func (a *act) arrive() error {
	if a.t.Scope == ScopeInHome {
		max := a.s.cfg.MaxCodeAttempts
		if a.t.CodeFailures >= max {
			return &ActionError{Action: ActArrive, Kind: ErrLocked, Code: "code_locked", Params: map[string]any{"n": a.t.CodeFailures},
				Reason: fmt.Sprintf("%d wrong verification codes: arrival is locked until an operator issues a new code", a.t.CodeFailures)}
		}
		if a.req.Code == "" {
			return &FieldError{Field: "code", Message: "required: the owner's verification code (in-home work)", Code: "required"}
		}
		var stored string
		if err := a.tx.QueryRowContext(a.ctx, "SELECT verification_code FROM tickets WHERE id = ?", a.t.ID).Scan(&stored); err != nil {
			return fmt.Errorf("read code: %w", err)
		}
		if !codeMatches(stored, a.req.Code) {
			n := a.t.CodeFailures + 1
			if err := a.set("code_failures", n); err != nil {
				return err
			}
			if err := a.history("code_refused", fmt.Sprintf("wrong verification code from %s (%d of %d)", a.by.Name, n, max)); err != nil {
				return err
			}
			if n >= max {
				return &refusal{&ActionError{Action: ActArrive, Kind: ErrLocked, Code: "code_locked", Params: map[string]any{"n": n},
					Reason: fmt.Sprintf("wrong verification code; %d wrong codes: arrival is locked until an operator issues a new code", n)}}
			}
			return &refusal{&ActionError{Action: ActArrive, Kind: ErrIllegal, Code: "wrong_code", Params: map[string]any{"n": n, "max": max},
				Reason: fmt.Sprintf("wrong verification code (%d of %d attempts)", n, max)}}
		}
	}
	if err := a.setStatus(StatusOnSite); err != nil {
		return err
	}
	if err := a.s.meet(a.ctx, a.tx, a.t.ID, clockArrive); err != nil {
		return err
	}
	note := "on site"
	if a.t.Scope == ScopeInHome {
		note += ", verification code checked"
	}
	return a.history(ActArrive, withNote(note, a.req.Note))
}

func (a *act) comment() error {
	return a.history(ActComment, a.req.Note)
}

func (a *act) cancel() error {
	if err := a.setStatus(StatusCancelled); err != nil {
		return err
	}
	if err := a.set("outcome", "cancelled"); err != nil {
		return err
	}
	if err := a.s.meetAll(a.ctx, a.tx, a.t.ID); err != nil {
		return err
	}
	return a.history(ActCancel, "cancelled: "+a.req.Reason)
}

// reopen puts a resolved or closed ticket back to new, with fresh clocks
// from now, and dispatches it again.
func (a *act) reopen() error {
	var other int64
	err := a.tx.QueryRowContext(a.ctx, `SELECT coalesce(max(o.id), 0) FROM tickets o JOIN tickets t ON t.id = ?
		WHERE o.incident_key = t.incident_key AND o.id <> t.id AND o.status IN `+openStatuses, a.t.ID).Scan(&other)
	if err != nil {
		return fmt.Errorf("find open ticket of the incident: %w", err)
	}
	if other != 0 {
		return a.illegal(fmt.Sprintf("ticket %d of the same incident is open; work there instead", other))
	}
	if err := a.history(ActReopen, withNote("reopened", a.req.Reason+joinNote(a.req.Note))); err != nil {
		return err
	}
	return a.s.restartFlow(a.ctx, a.tx, a.t.ID)
}

func joinNote(n string) string {
	if n == "" {
		return ""
	}
	return " " + n
}

// changeLevel sets the level by an operator's decision and re-plans the
// dispatch, arrive and close clocks from the first report (not from the
// change), recording the new limits.
func (a *act) changeLevel() error {
	if a.req.Level == a.t.Level {
		return a.illegal(fmt.Sprintf("ticket %s is already L%d", a.t.Number, a.t.Level))
	}
	if err := a.set("level", a.req.Level); err != nil {
		return err
	}
	old := a.t.Level
	a.t.Level = a.req.Level
	plan, err := a.s.replanLevel(a.ctx, a.tx, a.t)
	if err != nil {
		return err
	}
	return a.history("level_changed", fmt.Sprintf("L%d -> L%d: %s; %s", old, a.req.Level, a.req.Reason, plan))
}

// newCode issues a new verification code for in-home work and clears the
// count of wrong ones. The code is in the answer only.
func (a *act) newCode() error {
	if a.t.Scope != ScopeInHome {
		return a.illegal("ticket " + a.t.Number + " is not in-home work; it has no verification code")
	}
	code, err := verificationCode()
	if err != nil {
		return err
	}
	stored, err := hashCode(code)
	if err != nil {
		return err
	}
	a.ctx = withIssuedCode(a.ctx, stored, code)
	if _, err := a.tx.ExecContext(a.ctx, "UPDATE tickets SET verification_code = ?, code_failures = 0 WHERE id = ?", stored, a.t.ID); err != nil {
		return fmt.Errorf("new code: %w", err)
	}
	a.code = code
	return a.history("code_reissued", withNote("new verification code issued to the owner", a.req.Reason))
}

// eta: the technician cannot arrive within the time limit and says when
// they will; the arrive clock keeps running (a late arrival stays late),
// the control room sees the ETA and the reporter is told.
func (a *act) eta() error {
	at := a.now.Add(time.Duration(a.req.ETAMinutes) * time.Minute)
	if err := a.set("eta_at", ms(at)); err != nil {
		return err
	}
	return a.history(ActETA, withNote(fmt.Sprintf("on site by %s (in %d min)", at.Format(time.RFC3339), a.req.ETAMinutes), a.req.Note))
}

// carryOver: the work cannot be finished today (parts to order, the
// owner away); it goes on the morning shift's list of unfinished work.
func (a *act) carryOver() error {
	if err := a.set("carried_at", ms(a.now)); err != nil {
		return err
	}
	if err := a.set("carry_reason", a.req.Reason); err != nil {
		return err
	}
	return a.history(ActCarry, withNote("cannot be finished today: "+a.req.Reason, a.req.Note))
}

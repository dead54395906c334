package ticketing

import (
	"context"
	"fmt"
	"strings"
)

// RoleReporterLink is the role of the history rows of what a reporter
// did through the link of the "work done" message: confirm or dispute
// the work, and leave the callback score.
const RoleReporterLink = "reporter_link"

// ReporterVerdict is what the reporter says of resolved work through
// their link.
type ReporterVerdict struct {
	Action string // ActConfirm or ActDispute
	Reason string // dispute: required, what is still wrong
	Score  int    // the callback score, 1-5; 0: none given
	Note   string // optional
}

// viaLink marks the history of what came through the reporter's link.
const viaLink = "via the reporter's link"

// ReporterByLink applies the reporter's verdict to resolved ticket id, as
// the flow's confirm or dispute (the ticket closes; a dispute opens the
// re-inspection), then, with a score, the callback (which may open a
// rework ticket). The history rows name the reporter, with role
// RoleReporterLink. Nothing else can be done this way: another action or
// a bad score is a *FieldError, a ticket not resolved (already decided,
// or not done yet) an *ActionError wrapping ErrIllegal, a ticket without
// a reporter one wrapping ErrForbidden.
//
// The verdict and the score are two steps of the flow, each in its own
// transaction: if the score cannot be stored, the verdict stands and the
// error says so; the callback clock then still asks the control room to
// call.
func (s *Service) ReporterByLink(ctx context.Context, id int64, v ReporterVerdict) (Ticket, error) {
	switch v.Action {
	case ActConfirm, ActDispute:
	default:
		return Ticket{}, &FieldError{Field: "action", Message: "confirm or dispute"}
	}
	if v.Action == ActDispute && strings.TrimSpace(v.Reason) == "" {
		return Ticket{}, &FieldError{Field: "reason", Message: "required: what is still wrong"}
	}
	if v.Score != 0 && (v.Score < 1 || v.Score > 5) {
		return Ticket{}, &FieldError{Field: "score", Message: "a score from 1 to 5"}
	}
	t, err := s.Get(ctx, id)
	if err != nil {
		return Ticket{}, err
	}
	if t.Source == SourceSensor {
		return Ticket{}, &ActionError{Action: v.Action, Kind: ErrForbidden, Reason: "ticket " + t.Number + " has no reporter"}
	}
	by := Actor{Name: t.Reporter.Name, Role: RoleReporterLink}
	if by.Name == "" {
		by.Name = "reporter"
	}
	req := ActionRequest{Action: v.Action, Reason: v.Reason, Note: viaLink}
	if v.Score == 0 {
		req.Note = withNote(viaLink, strings.TrimSpace(v.Note))
	}
	res, err := s.Act(ctx, by, id, req)
	if err != nil {
		return Ticket{}, err
	}
	if v.Score == 0 {
		return res.Ticket, nil
	}
	fixed := v.Action == ActConfirm
	res, err = s.Act(ctx, by, id, ActionRequest{Action: ActCallback, Score: v.Score, Fixed: &fixed, Note: withNote(viaLink, strings.TrimSpace(v.Note))})
	if err != nil {
		return Ticket{}, fmt.Errorf("the %s is recorded, the score is not: %w", v.Action, err)
	}
	return res.Ticket, nil
}

package dashboard

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// ticketAction answers POST /api/tickets/{id}/actions: one step of the
// repair flow, {"action": "claim" | "assign" | ..., ...}. 200 with the
// ticket (and the follow-up ticket it opened, under "opened"); 409 with
// the reason for a step that is not legal now; 403 for a role or person
// that may not; 429 once a ticket's verification code is locked.
func (s *Server) ticketAction(w http.ResponseWriter, r *http.Request, p principal) {
	id, ok := ticketID(w, r)
	if !ok {
		return
	}
	var req ticketing.ActionRequest
	if !decodeBody(w, r, &req) || !s.ticketVisible(w, r, p, id) {
		return
	}
	res, err := s.cfg.Tickets.Act(r.Context(), ticketing.Actor{Name: p.Name, Role: p.Role}, id, req)
	if err != nil {
		s.flowError(w, r, err)
		return
	}
	res.Ticket = phonesFor(p, res.Ticket)
	if res.Opened != nil {
		opened := phonesFor(p, *res.Opened)
		res.Opened = &opened
	}
	writeJSON(w, http.StatusOK, res)
}

// ticketID reads the {id} path value; false means the answer is written.
func ticketID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "id: "+quoteShort(r.PathValue("id"))+" is not a ticket id", "id")
		return 0, false
	}
	return id, true
}

// flowError answers the refusals of the repair flow, then whatever
// serviceError knows.
func (s *Server) flowError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *ticketing.ActionError
	switch {
	case errors.As(err, &ae) && errors.Is(err, ticketing.ErrLocked):
		writeCoded(w, http.StatusTooManyRequests, ae, ae.Error(), "code")
	case errors.As(err, &ae) && errors.Is(err, ticketing.ErrForbidden):
		writeCoded(w, http.StatusForbidden, ae, ae.Error(), "")
	case errors.As(err, &ae):
		writeCoded(w, http.StatusConflict, ae, ae.Error(), ae.Field)
	case errors.Is(err, ticketing.ErrPhotoTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "photo: "+ticketing.ErrPhotoTooLarge.Error(), "photo")
	case errors.Is(err, ticketing.ErrPhotoType):
		writeError(w, http.StatusUnsupportedMediaType, "photo: "+ticketing.ErrPhotoType.Error(), "photo")
	default:
		s.serviceError(w, r, err)
	}
}

// ticketTechnicians answers GET /api/tickets/{id}/technicians: who may be
// assigned the ticket, best first (on duty, skilled, in its zone, fewest
// open tickets), and what auto-dispatch said about it.
func (s *Server) ticketTechnicians(w http.ResponseWriter, r *http.Request, _ principal) {
	id, ok := ticketID(w, r)
	if !ok {
		return
	}
	if s.cfg.Dispatch == nil {
		writeError(w, http.StatusServiceUnavailable, "dispatch: not configured", "")
		return
	}
	c, err := s.cfg.Dispatch.Candidates(r.Context(), id)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

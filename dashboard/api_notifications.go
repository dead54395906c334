package dashboard

import (
	"context"
	"net/http"
	"strconv"
)

// Notifications is what the API needs of the paging outbox: the pages of
// one ticket (who, by what channel, in which state, with the channel's
// answer), encoded to JSON as they are. The service returns NotFound for
// an unknown ticket and never a verification code.
type Notifications interface {
	TicketNotifications(ctx context.Context, id int64) (any, error)
}

// PagingStates is what the board's snapshot needs of the outbox, when the
// Notifications service has it: the paging state of each open ticket
// (the same as the "ticket.paged" events), encoded as it is.
type PagingStates interface {
	Paging(ctx context.Context) (any, error)
}

// ticketNotifications answers GET /api/tickets/{id}/notifications:
// {"notifications": [...]}, oldest first; an empty list when paging is
// not wired.
func (s *Server) ticketNotifications(w http.ResponseWriter, r *http.Request, p principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "id: "+quoteShort(r.PathValue("id"))+" is not a ticket id", "id")
		return
	}
	if !s.ticketVisible(w, r, p, id) {
		return
	}
	if s.cfg.Notifications == nil {
		if _, err := s.cfg.Tickets.Get(r.Context(), id); err != nil {
			s.serviceError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"notifications": []any{}})
		return
	}
	list, err := s.cfg.Notifications.TicketNotifications(r.Context(), id)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"notifications": list})
}

// Duty is who is on duty now, by the rosters or the technicians' on_duty
// flags, encoded to JSON as it is.
type Duty interface {
	OnDutyNow(ctx context.Context) (any, error)
}

// duty answers GET /api/duty for the control room's "on duty now" panel.
func (s *Server) duty(w http.ResponseWriter, r *http.Request, _ principal) {
	if s.cfg.Duty == nil {
		writeError(w, http.StatusServiceUnavailable, "duty: not configured", "")
		return
	}
	v, err := s.cfg.Duty.OnDutyNow(r.Context())
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

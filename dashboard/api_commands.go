package dashboard

import (
	"context"
	"net/http"
	"strconv"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// DeviceCommands confirms the device actions that wait for an operator
// (confirm: operator): the button on the alarm's ticket. The ticket's
// commands themselves come with the ticket (GET /api/tickets/{id}).
type DeviceCommands interface {
	ConfirmDeviceCommand(ctx context.Context, by ticketing.Actor, id, cmdID int64) (ticketing.DeviceCommand, error)
}

func (s *Server) commandRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/tickets/{id}/commands/{cmd}/confirm", s.requireRole(actAck, s.confirmCommand))
	mux.HandleFunc("GET /api/daily", s.requireRole(actRead, s.unfinished))
}

// confirmCommand answers POST /api/tickets/{id}/commands/{cmd}/confirm:
// the operator presses the button of a device action; the answer is the
// command, queued to be sent, naming who pressed it. 409 for one not
// awaiting confirmation.
func (s *Server) confirmCommand(w http.ResponseWriter, r *http.Request, p principal) {
	if s.cfg.Commands == nil {
		writeError(w, http.StatusServiceUnavailable, "device actions are not available", "")
		return
	}
	id, ok := ticketID(w, r)
	if !ok {
		return
	}
	cmdID, err := strconv.ParseInt(r.PathValue("cmd"), 10, 64)
	if err != nil || cmdID <= 0 {
		writeError(w, http.StatusBadRequest, "cmd: "+quoteShort(r.PathValue("cmd"))+" is not a command id", "cmd")
		return
	}
	if !s.ticketVisible(w, r, p, id) {
		return
	}
	c, err := s.cfg.Commands.ConfirmDeviceCommand(r.Context(), ticketing.Actor{Name: p.Name, Role: p.Role}, id, cmdID)
	if err != nil {
		s.flowError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

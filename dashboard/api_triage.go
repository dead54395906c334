package dashboard

import (
	"context"
	"net/http"
	"time"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// Triage is what the API needs of the triage queue of alarms below level
// 1; the ticket service has it.
type Triage interface {
	TriageQueue(ctx context.Context) ([]ticketing.TriageItem, error)
	TriageAlarm(ctx context.Context, by ticketing.Actor, id string, req ticketing.TriageRequest) (ticketing.TriageItem, error)
	FalseAlarmStats(ctx context.Context, since time.Time, sites []string) ([]ticketing.RuleFalseAlarms, error)
}

var (
	// actTriage: make a ticket of a queued alarm, snooze it, dismiss it.
	actTriage = action{name: "triage", verb: "triage alarms", roles: []string{RoleOperator}}
	// actFalseAlarms: read the false-alarm rates of the rules.
	actFalseAlarms = action{name: "false_alarms", verb: "read false-alarm rates", roles: []string{RoleEngineer, RoleOperator, RoleManager}}
)

// triageQueue answers GET /api/triage: the alarms waiting for an operator
// (queued, then snoozed), of the token's sites, each with its triage
// clock (due_at) and the timeout it runs for.
func (s *Server) triageQueue(w http.ResponseWriter, r *http.Request, p principal) {
	if s.cfg.Triage == nil {
		writeError(w, http.StatusServiceUnavailable, "triage queue not available", "")
		return
	}
	list, err := s.cfg.Triage.TriageQueue(r.Context())
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	out := []ticketing.TriageItem{}
	for _, it := range list {
		if p.seesSite(it.Alarm.Site) {
			out = append(out, it)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarms": out})
}

// triageBody is the body of the triage actions: until (RFC 3339) and a
// reason to snooze, a reason to dismiss, an optional note to make a
// ticket.
type triageBody struct {
	Until  string `json:"until"`
	Reason string `json:"reason"`
}

// triageAction answers POST /api/triage/{id}/{ticket|snooze|dismiss}:
// 200 with the alarm's triage (and the ticket made); 400 naming the
// field; 403 for another role or another site; 404 for an alarm not in
// the queue; 409 for one decided already.
func (s *Server) triageAction(action string) func(http.ResponseWriter, *http.Request, principal) {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		if s.cfg.Triage == nil {
			writeError(w, http.StatusServiceUnavailable, "triage queue not available", "")
			return
		}
		id := r.PathValue("id")
		if id == "" || len(id) > 256 {
			writeError(w, http.StatusBadRequest, "id: not an alarm id", "id")
			return
		}
		var body triageBody
		if r.ContentLength != 0 && !decodeBody(w, r, &body) {
			return
		}
		var until *time.Time
		if body.Until != "" {
			u, err := time.Parse(time.RFC3339, body.Until)
			if err != nil {
				writeErrorCode(w, http.StatusBadRequest, "until: "+quoteShort(body.Until)+" is not a time like 2026-11-23T18:30:00+08:00",
					"until", "bad_time", map[string]any{"field": "until"})
				return
			}
			until = &u
		}
		if !s.seesAlarm(w, r, p, id) {
			return
		}
		it, err := s.cfg.Triage.TriageAlarm(r.Context(), ticketing.Actor{Name: p.Name, Role: p.Role}, id,
			ticketing.TriageRequest{Action: action, Until: until, Reason: body.Reason})
		if err != nil {
			s.flowError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, it)
	}
}

// falseAlarms answers GET /api/triage/stats: per rule, the alarms raised
// over the last 30 days (of the token's sites) and those dismissed as
// false alarms, with the rate.
func (s *Server) falseAlarms(w http.ResponseWriter, r *http.Request, p principal) {
	if s.cfg.Triage == nil {
		writeError(w, http.StatusServiceUnavailable, "triage queue not available", "")
		return
	}
	since := s.cfg.Now().Add(-ticketing.FalseAlarmWindow)
	var sites []string
	if p.Sites != nil {
		sites = p.siteList()
	}
	list, err := s.cfg.Triage.FalseAlarmStats(r.Context(), since, sites)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"since": since.UTC(), "days": int(ticketing.FalseAlarmWindow / (24 * time.Hour)), "rules": orEmptyList(list)})
}

func (s *Server) triageTicket(w http.ResponseWriter, r *http.Request, p principal) {
	s.triageAction(ticketing.TriageActTicket)(w, r, p)
}

func (s *Server) triageSnooze(w http.ResponseWriter, r *http.Request, p principal) {
	s.triageAction(ticketing.TriageActSnooze)(w, r, p)
}

func (s *Server) triageDismiss(w http.ResponseWriter, r *http.Request, p principal) {
	s.triageAction(ticketing.TriageActDismiss)(w, r, p)
}

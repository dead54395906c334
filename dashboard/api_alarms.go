package dashboard

import (
	"net/http"
	"reflect"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// listAlarms answers GET /api/alarms?state=active|acked|cleared (empty: all).
func (s *Server) listAlarms(w http.ResponseWriter, r *http.Request, p principal) {
	state := r.URL.Query().Get("state")
	switch state {
	case "", "active", "acked", "cleared":
	default:
		writeError(w, http.StatusBadRequest, "state: "+quoteShort(state)+" is not active, acked or cleared", "state")
		return
	}
	list, err := s.cfg.Alarms.Alarms(r.Context(), state)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarms": orEmptyList(visibleAlarms(p, list))})
}

// ackAlarm records that an operator has seen the alarm.
func (s *Server) ackAlarm(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.PathValue("id")
	if id == "" || len(id) > 256 {
		writeError(w, http.StatusBadRequest, "id: not an alarm id", "id")
		return
	}
	if p.Sites != nil {
		all, err := s.cfg.Alarms.Alarms(r.Context(), ticketing.AlarmsAll)
		if err != nil {
			s.serviceError(w, r, err)
			return
		}
		for _, a := range all {
			if a.ID == id && !p.seesSite(a.Site) {
				writeError(w, http.StatusForbidden, otherSite("alarm "+quoteShort(id)), "")
				return
			}
		}
	}
	a, err := s.cfg.Alarms.AckAlarm(r.Context(), ticketing.Actor{Name: p.Name, Role: p.Role}, id)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// orEmptyList makes a nil answer encode as [] rather than null.
func orEmptyList(v any) any {
	if v == nil {
		return []any{}
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		return []any{}
	}
	return v
}

package dashboard

import (
	"errors"
	"net/http"
	"reflect"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// listAlarms answers GET /api/alarms?state=active|acked|unacked|cleared|live
// (empty: all), with the search's q=&level=&from=&to= (api_search.go).
// Each alarm says its status: active_unack, active_ack, cleared_unack or
// cleared_ack; "live" is what the control room shows: the active ones and
// the cleared ones nobody has acknowledged. A token limited to sites gets
// theirs only, chosen by the store (so the cap of the list counts theirs).
func (s *Server) listAlarms(w http.ResponseWriter, r *http.Request, p principal) {
	f, field, err := s.alarmFilter(r, p)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), field)
		return
	}
	f.Sites = p.siteList()
	if p.Sites != nil && len(f.Sites) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"alarms": []any{}})
		return
	}
	list, err := s.cfg.Alarms.FindAlarms(r.Context(), f)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarms": orEmptyList(visibleAlarms(p, list))})
}

// ackAlarm records that an operator has seen the alarm, active or
// cleared (a cleared one stays on screen until this): who and when.
func (s *Server) ackAlarm(w http.ResponseWriter, r *http.Request, p principal) {
	id := r.PathValue("id")
	if id == "" || len(id) > 256 {
		writeError(w, http.StatusBadRequest, "id: not an alarm id", "id")
		return
	}
	if !s.seesAlarm(w, r, p, id) {
		return
	}
	a, err := s.cfg.Alarms.AckAlarm(r.Context(), ticketing.Actor{Name: p.Name, Role: p.Role}, id)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// seesAlarm answers 403 (false) when the alarm belongs to a site the
// token is not limited to; an unknown id passes, for the action to answer
// 404. One row by id: a scan of the newest alarms would let an older one
// of another site through.
func (s *Server) seesAlarm(w http.ResponseWriter, r *http.Request, p principal, id string) bool {
	if p.Sites == nil {
		return true
	}
	a, err := s.cfg.Alarms.Alarm(r.Context(), id)
	switch {
	case errors.Is(err, ticketing.ErrNotFound):
		return true
	case err != nil:
		s.serviceError(w, r, err)
		return false
	case !p.seesSite(a.Site):
		writeError(w, http.StatusForbidden, otherSite("alarm "+quoteShort(id)), "")
		return false
	}
	return true
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

package dashboard

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// A token limited to sites (Token.Sites) sees only what happens there:
// the lists and the snapshot are filtered on the server, and a ticket,
// alarm or device of another site is answered 403 ("of another site"),
// as every role is refused what it may not do. The ids are sequential,
// so a 404 would hide nothing a 403 tells. Readings and events of no
// site (the system's own alarms) go to unlimited tokens only.

// otherSite is the message of the 403 for another site's things.
func otherSite(what string) string { return what + " is of a site this token may not see" }

func visibleTickets(p principal, list []ticketing.Ticket) []ticketing.Ticket {
	out := list[:0:0]
	for _, t := range list {
		if p.seesSite(t.Site) {
			out = append(out, t)
		}
	}
	if out == nil {
		out = []ticketing.Ticket{}
	}
	return out
}

func visibleAlarms(p principal, list []ticketing.StoredAlarm) []ticketing.StoredAlarm {
	if p.Sites == nil {
		return list
	}
	out := []ticketing.StoredAlarm{}
	for _, a := range list {
		if p.seesSite(a.Site) {
			out = append(out, a)
		}
	}
	return out
}

func visibleStatuses(p principal, list []DeviceStatus) []DeviceStatus {
	out := []DeviceStatus{}
	for _, d := range list {
		if p.seesSite(d.Site) {
			out = append(out, d)
		}
	}
	return out
}

// pagingOf keeps of the paging states (a JSON list of objects with a
// ticket_id) those of the given tickets.
func pagingOf(paging any, tickets []ticketing.Ticket) (any, error) {
	raw, err := json.Marshal(paging)
	if err != nil {
		return nil, err
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	ids := make(map[int64]bool, len(tickets))
	for _, t := range tickets {
		ids[t.ID] = true
	}
	out := []json.RawMessage{}
	for _, item := range list {
		var st struct {
			TicketID int64 `json:"ticket_id"`
		}
		if json.Unmarshal(item, &st) == nil && ids[st.TicketID] {
			out = append(out, item)
		}
	}
	return out, nil
}

// ticketVisible answers 403 (or the lookup's error) unless ticket id is
// of a site p sees; false means the answer is written.
func (s *Server) ticketVisible(w http.ResponseWriter, r *http.Request, p principal, id int64) bool {
	if p.Sites == nil {
		return true
	}
	t, err := s.cfg.Tickets.Get(r.Context(), id)
	if err != nil {
		s.serviceError(w, r, err)
		return false
	}
	if !p.seesSite(t.Site) {
		writeError(w, http.StatusForbidden, otherSite("ticket "+t.Number), "")
		return false
	}
	return true
}

// deviceVisible answers 403 unless d is of a site p sees.
func deviceVisible(w http.ResponseWriter, p principal, d devices.Device) bool {
	if p.seesSite(d.Site) {
		return true
	}
	writeError(w, http.StatusForbidden, otherSite("device "+d.ID), "id")
	return false
}

// siteParam narrows an optional ?site= to what p sees: the site asked for
// (403 if p may not see it), or, when none is asked for, nil for every
// site or p's sites. ok false means the answer is written.
func siteParam(w http.ResponseWriter, p principal, site string) (sites []string, ok bool) {
	switch {
	case site != "" && !p.seesSite(site):
		writeError(w, http.StatusForbidden, "site "+quoteShort(site)+": this token may see "+strings.Join(p.siteList(), ", ")+" only", "site")
		return nil, false
	case site != "":
		return []string{site}, true
	}
	return p.siteList(), true
}

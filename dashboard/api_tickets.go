package dashboard

import (
	"net/http"
	"strconv"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ticketing"
)

var (
	ticketStatuses = map[ticketing.Status]bool{
		ticketing.StatusNew: true, ticketing.StatusDispatched: true, ticketing.StatusAccepted: true,
		ticketing.StatusOnSite: true, ticketing.StatusResolved: true, ticketing.StatusClosed: true,
		ticketing.StatusCancelled: true,
	}
	ticketSources = map[ticketing.Source]bool{
		ticketing.SourceSensor: true, ticketing.SourcePatrol: true, ticketing.SourceResident: true,
		ticketing.SourcePhone: true, ticketing.SourceFrontDesk: true, ticketing.SourceThirdParty: true,
	}
)

// mergedTicket is the answer when a report joined an open ticket.
type mergedTicket struct {
	ticketing.Ticket
	Merged bool `json:"merged"`
}

// reportTicket files a manual report: 201 with the new ticket, or 200 with
// the open ticket it was merged into and "merged": true.
func (s *Server) reportTicket(w http.ResponseWriter, r *http.Request, p principal) {
	var rep ticketing.Report
	if !decodeBody(w, r, &rep) {
		return
	}
	if rep.Source == "" && p.Role == RolePatrol {
		rep.Source = ticketing.SourcePatrol
	}
	if rep.Source == ticketing.SourceSensor {
		writeError(w, http.StatusBadRequest, "source: sensor tickets are opened by alarms, not by reports", "source")
		return
	}
	if rep.Site != "" && !p.seesSite(rep.Site) {
		writeError(w, http.StatusForbidden, "site "+quoteShort(rep.Site)+": this token may not report for it", "site")
		return
	}
	if field, msg := houseError(s.cfg.Sites, rep); field != "" {
		writeError(w, http.StatusBadRequest, msg, field)
		return
	}
	t, merged, err := s.cfg.Tickets.Report(r.Context(), ticketing.Actor{Name: p.Name, Role: p.Role}, rep)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if merged {
		writeJSON(w, http.StatusOK, mergedTicket{Ticket: phonesFor(p, t), Merged: true})
		return
	}
	w.Header().Set("Location", "/api/tickets/"+strconv.FormatInt(t.ID, 10))
	writeJSON(w, http.StatusCreated, t)
}

// listTickets answers GET /api/tickets?status=&level=&source=&site=&from=&to=&limit=&offset=
// and the search's q=&category=&building=&unit=&room= (api_search.go).
func (s *Server) listTickets(w http.ResponseWriter, r *http.Request, p principal) {
	f, field, err := parseTicketFilter(r, s.zoneFor(p))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), field)
		return
	}
	if p.Sites != nil {
		sites, ok := siteParam(w, p, f.Site)
		if !ok {
			return
		}
		f.Site, f.Sites = "", sites
	}
	list, err := s.cfg.Tickets.List(r.Context(), f)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if list == nil {
		list = []ticketing.Ticket{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tickets": phonesForList(p, list), "limit": f.Limit, "offset": f.Offset})
}

// parseTicketFilter reads the list filter; on error it names the field.
// A from or to given as a local date or time is read in zone(site).
func parseTicketFilter(r *http.Request, zone func(site string) *time.Location) (ticketing.Filter, string, error) {
	q := r.URL.Query()
	var f ticketing.Filter
	if v := q.Get("status"); v != "" {
		if !ticketStatuses[ticketing.Status(v)] {
			return f, "status", errorf("status: %s is not new, dispatched, accepted, on_site, resolved, closed or cancelled", quoteShort(v))
		}
		f.Status = ticketing.Status(v)
	}
	if v := q.Get("source"); v != "" {
		if !ticketSources[ticketing.Source(v)] {
			return f, "source", errorf("source: %s is not sensor, patrol, resident, phone, front_desk or third_party", quoteShort(v))
		}
		f.Source = ticketing.Source(v)
	}
	if v := q.Get("site"); v != "" {
		if !devices.ValidID(v) {
			return f, "site", errorf("site: %s is not a site id", quoteShort(v))
		}
		f.Site = v
	}
	if v := q.Get("device"); v != "" {
		if !devices.ValidID(v) {
			return f, "device", errorf("device: %s is not a device id", quoteShort(v))
		}
		f.Device = v
	}
	var err error
	if f.Level, err = parseIntParam(q, "level", 0, 1, 3); err != nil {
		return f, "level", err
	}
	if f.Limit, err = parseIntParam(q, "limit", 100, 1, 1000); err != nil {
		return f, "limit", err
	}
	if f.Offset, err = parseIntParam(q, "offset", 0, 0, 1_000_000); err != nil {
		return f, "offset", err
	}
	if f.From, err = parseLocalTimeParam(q, "from", time.Time{}, zone(f.Site)); err != nil {
		return f, "from", err
	}
	if f.To, err = parseLocalTimeParam(q, "to", time.Time{}, zone(f.Site)); err != nil {
		return f, "to", err
	}
	if field, err := parseSearch(q, &f.Search); err != nil {
		return f, field, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, "from", errorf("from: must be before to")
	}
	return f, "", nil
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request, p principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, "id: "+quoteShort(r.PathValue("id"))+" is not a ticket id", "id")
		return
	}
	t, err := s.cfg.Tickets.Get(r.Context(), id)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if !p.seesSite(t.Site) {
		writeError(w, http.StatusForbidden, otherSite("ticket "+t.Number), "")
		return
	}
	writeJSON(w, http.StatusOK, phonesFor(p, t))
}

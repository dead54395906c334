package dashboard

import (
	"bytes"
	"net/http"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// defaultStatsPeriod is the period of GET /api/stats without from.
const defaultStatsPeriod = 30 * 24 * time.Hour

// stats answers GET /api/stats?from=&to=&site=&format=json|csv: the KPIs
// of the tickets opened in [from, to) (default: the 30 days up to now),
// overall and per level, category and building; format=csv gives the
// same figures as a CSV download.
func (s *Server) stats(w http.ResponseWriter, r *http.Request, p principal) {
	q := r.URL.Query()
	site := q.Get("site")
	if site != "" && !devices.ValidID(site) {
		writeError(w, http.StatusBadRequest, "site: "+quoteShort(site)+" is not a site id", "site")
		return
	}
	// A date or a time without an offset is the site's wall clock: a
	// month is from its first local midnight to the next month's.
	loc := s.cfg.Sites.Location(site)
	to, err := parseLocalTimeParam(q, "to", s.cfg.Now(), loc)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "to")
		return
	}
	from, err := parseLocalTimeParam(q, "from", to.Add(-defaultStatsPeriod), loc)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "from")
		return
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, "from: must be before to", "from")
		return
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		writeError(w, http.StatusBadRequest, "format: "+quoteShort(format)+" is not json or csv", "format")
		return
	}
	sq := ticketing.StatsQuery{From: from, To: to, Site: site}
	if p.Sites != nil {
		sites, ok := siteParam(w, p, site)
		if !ok {
			return
		}
		sq.Sites = sites
	}
	st, err := s.cfg.Tickets.Stats(r.Context(), sq)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if format != "csv" {
		writeJSON(w, http.StatusOK, st)
		return
	}
	var buf bytes.Buffer
	if err := st.WriteCSV(&buf); err != nil {
		s.serviceError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="caretaker-kpi-`+from.In(loc).Format("20060102")+"-"+to.In(loc).Format("20060102")+`.csv"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

package dashboard

import (
	"net/http"
	"sort"
	"time"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// unfinished answers GET /api/daily[?site=]: the morning shift's list of
// unfinished work, the open tickets a technician could not finish
// (carry_over, with the reason) or opened before today began in their
// site's time zone; most urgent first, then oldest. A token limited to
// sites sees theirs.
func (s *Server) unfinished(w http.ResponseWriter, r *http.Request, p principal) {
	site := r.URL.Query().Get("site")
	if site != "" && !p.seesSite(site) {
		writeError(w, http.StatusForbidden, "site "+quoteShort(site)+": this token may not see it", "site")
		return
	}
	open, err := s.cfg.Tickets.OpenTickets(r.Context())
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	now := s.cfg.Now()
	out := []ticketing.Ticket{}
	for _, t := range open {
		if !p.seesSite(t.Site) || (site != "" && t.Site != site) {
			continue
		}
		local := now.In(s.cfg.Sites.Location(t.Site))
		dayStart := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, local.Location())
		if t.CarriedAt != nil || t.CreatedAt.Before(dayStart) {
			out = append(out, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Level != out[j].Level {
			return out[i].Level < out[j].Level
		}
		return out[i].CreatedAt.Before(out[j].CreatedAt)
	})
	writeJSON(w, http.StatusOK, map[string]any{"tickets": phonesForList(p, out)})
}

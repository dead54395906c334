package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// The archive's search (domain.md: by house, fault type and time): GET
// /api/tickets takes q (free text over the number, description, place
// and device), category, building, unit and room; GET /api/alarms takes
// q (rule, device, message, location), level, from and to. A from or to
// given as a date or a time without an offset is the site's wall clock:
// the site asked for, else the token's one site, else the default zone.

// maxHousePart bounds a building, unit or room of a search (as a report's).
const maxHousePart = 200

// parseSearch reads q, category, building, unit and room into sq; on
// error it names the field.
func parseSearch(q url.Values, sq *ticketing.Search) (string, error) {
	sq.Text = strings.TrimSpace(q.Get("q"))
	if err := ticketing.ValidSearchText(sq.Text); err != nil {
		return "q", errorf("q: %s", err)
	}
	if v := q.Get("category"); v != "" {
		if !ticketing.ValidCategory(v) {
			return "category", errorf("category: %s is not one of %s", quoteShort(v), strings.Join(ticketing.Categories(), ", "))
		}
		sq.Category = v
	}
	for _, part := range []struct {
		name string
		to   *string
	}{{"building", &sq.Building}, {"unit", &sq.Unit}, {"room", &sq.Room}} {
		v := strings.TrimSpace(q.Get(part.name))
		if utf8.RuneCountInString(v) > maxHousePart || ticketing.ValidSearchText(v) != nil && v != "" {
			return part.name, errorf("%s: %s is not a %s (at most %d characters, no control characters)", part.name, quoteShort(v), part.name, maxHousePart)
		}
		*part.to = v
	}
	return "", nil
}

// zoneFor is the zone a local date of p's search is read in: that of the
// site asked for, else of p's one site, else the default.
func (s *Server) zoneFor(p principal) func(site string) *time.Location {
	return func(site string) *time.Location {
		if site == "" {
			if mine := p.siteList(); len(mine) == 1 {
				site = mine[0]
			}
		}
		return s.cfg.Sites.Location(site)
	}
}

// alarmFilter reads GET /api/alarms' query; on error it names the field.
func (s *Server) alarmFilter(r *http.Request, p principal) (ticketing.AlarmFilter, string, error) {
	q := r.URL.Query()
	f := ticketing.AlarmFilter{State: q.Get("state"), Text: strings.TrimSpace(q.Get("q"))}
	switch f.State {
	case ticketing.AlarmsAll, ticketing.AlarmsActive, ticketing.AlarmsAcked, ticketing.AlarmsUnacked,
		ticketing.AlarmsCleared, ticketing.AlarmsLive:
	default:
		return f, "state", errorf("state: %s is not active, acked, unacked, cleared or live", quoteShort(f.State))
	}
	if err := ticketing.ValidSearchText(f.Text); err != nil {
		return f, "q", errorf("q: %s", err)
	}
	var err error
	if f.Level, err = parseIntParam(q, "level", 0, 1, 3); err != nil {
		return f, "level", err
	}
	zone := s.zoneFor(p)("")
	if f.From, err = parseLocalTimeParam(q, "from", time.Time{}, zone); err != nil {
		return f, "from", err
	}
	if f.To, err = parseLocalTimeParam(q, "to", time.Time{}, zone); err != nil {
		return f, "to", err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, "from", errorf("from: must be before to")
	}
	return f, "", nil
}

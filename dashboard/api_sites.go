package dashboard

import (
	"net/http"

	"github.com/caretaker-iot/caretaker/devices"
)

// sitesView is the answer of GET /api/sites.
type sitesView struct {
	// TimeZone is the zone of sites not listed.
	TimeZone string         `json:"time_zone"`
	Sites    []devices.Site `json:"sites"`
}

// sites answers GET /api/sites: the estates with their names in both
// languages and their time zones, so that pages show every time in the
// site's time, and their buildings, units, floors and rooms for the
// report form. A token limited to sites gets those only.
func (s *Server) sites(w http.ResponseWriter, _ *http.Request, p principal) {
	list := []devices.Site{}
	for _, site := range s.cfg.Sites.List() {
		if p.seesSite(site.ID) {
			list = append(list, site)
		}
	}
	writeJSON(w, http.StatusOK, sitesView{TimeZone: s.cfg.Sites.Default().String(), Sites: list})
}

package dashboard

import (
	"net/http"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// deviceView is a registered device as the API shows it, with its live
// state when known.
type deviceView struct {
	devices.Device
	Online   bool                   `json:"online"`
	LastSeen *time.Time             `json:"last_seen,omitempty"`
	Readings map[string]MetricValue `json:"readings,omitempty"`
	Events   map[string]bool        `json:"events,omitempty"`
}

func (s *Server) view(d devices.Device, withReadings bool) deviceView {
	v := deviceView{Device: d}
	if s.cfg.Live == nil {
		return v
	}
	st, ok := s.cfg.Live.Device(d.ID)
	if !ok {
		return v
	}
	v.Online, v.LastSeen = st.Online, st.LastSeen
	if withReadings {
		v.Readings, v.Events = st.Readings, st.Events
	}
	return v
}

func (s *Server) listDevices(w http.ResponseWriter, _ *http.Request, _ principal) {
	all := s.cfg.Registry.Devices()
	out := make([]deviceView, len(all))
	for i, d := range all {
		out[i] = s.view(d, false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request, _ principal) {
	d, ok := s.cfg.Registry.Lookup(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no device "+quoteShort(r.PathValue("id")), "id")
		return
	}
	writeJSON(w, http.StatusOK, s.view(d, true))
}

// deviceReadings answers history: ?metric=&from=&to= (RFC 3339), by default
// the last hour of every metric.
func (s *Server) deviceReadings(w http.ResponseWriter, r *http.Request, _ principal) {
	d, ok := s.cfg.Registry.Lookup(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no device "+quoteShort(r.PathValue("id")), "id")
		return
	}
	if s.cfg.Readings == nil {
		writeError(w, http.StatusServiceUnavailable, "no time-series store is configured", "")
		return
	}
	q := r.URL.Query()
	metric := q.Get("metric")
	if metric != "" {
		if spec, known := devices.SpecOf(d.Kind); known {
			if _, ok := spec.Metric(metric); !ok {
				writeError(w, http.StatusBadRequest, "metric: "+quoteShort(metric)+" is not a metric of a "+string(d.Kind)+" device", "metric")
				return
			}
		} else if !devices.ValidID(metric) {
			writeError(w, http.StatusBadRequest, "metric: "+quoteShort(metric)+" is not a metric name", "metric")
			return
		}
	}
	now := s.cfg.Now()
	to, err := parseTimeParam(q, "to", now)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "to")
		return
	}
	from, err := parseTimeParam(q, "from", to.Add(-time.Hour))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), "from")
		return
	}
	if !from.Before(to) {
		writeError(w, http.StatusBadRequest, "from: must be before to", "from")
		return
	}
	pts, err := s.cfg.Readings.Readings(r.Context(), devices.Query{Device: d.ID, Kind: d.Kind, Metric: metric, From: from, To: to})
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	if pts == nil {
		pts = []devices.Point{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"device_id": d.ID, "metric": metric, "from": from, "to": to, "points": pts,
	})
}

package dashboard

import (
	"net/http"
	"sort"
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

func (s *Server) listDevices(w http.ResponseWriter, _ *http.Request, p principal) {
	out := []deviceView{}
	for _, d := range s.cfg.Registry.Devices() {
		if p.seesSite(d.Site) {
			out = append(out, s.view(d, false))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"devices": out})
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request, p principal) {
	d, ok := s.cfg.Registry.Lookup(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no device "+quoteShort(r.PathValue("id")), "id")
		return
	}
	if !deviceVisible(w, p, d) {
		return
	}
	writeJSON(w, http.StatusOK, s.view(d, true))
}

// deviceReadings answers history: ?metric=&from=&to= (RFC 3339), by default
// the last hour of every metric.
func (s *Server) deviceReadings(w http.ResponseWriter, r *http.Request, p principal) {
	d, ok := s.cfg.Registry.Lookup(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, "no device "+quoteShort(r.PathValue("id")), "id")
		return
	}
	if !deviceVisible(w, p, d) {
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
	if to.Sub(from) > s.cfg.MaxReadingRange {
		writeError(w, http.StatusBadRequest, "from: the range may be at most "+s.cfg.MaxReadingRange.String()+" long", "from")
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
	ans := map[string]any{"device_id": d.ID, "metric": metric, "from": from, "to": to}
	if len(pts) > s.cfg.MaxReadingPoints {
		ans["downsampled_from"] = len(pts)
		pts = downsample(pts, from, to, s.cfg.MaxReadingPoints)
	}
	ans["points"] = pts
	writeJSON(w, http.StatusOK, ans)
}

// downsample averages pts into time buckets over [from, to), as many per
// metric as make at most max points in all, each bucket's point at the
// mean time of its samples. The points come back in time order.
func downsample(pts []devices.Point, from, to time.Time, max int) []devices.Point {
	metrics := map[string]bool{}
	for _, p := range pts {
		metrics[p.Metric] = true
	}
	buckets := max / len(metrics)
	if buckets < 1 {
		buckets = 1
	}
	width := to.Sub(from) / time.Duration(buckets)
	if width <= 0 {
		width = 1
	}
	type key struct {
		metric string
		i      int64
	}
	type acc struct {
		sum, t float64
		n      int
	}
	sums := map[key]*acc{}
	var order []key
	for _, p := range pts {
		k := key{p.Metric, int64(p.Time.Sub(from) / width)}
		a, ok := sums[k]
		if !ok {
			a = &acc{}
			sums[k] = a
			order = append(order, k)
		}
		a.sum += p.Value
		a.t += float64(p.Time.Sub(from))
		a.n++
	}
	out := make([]devices.Point, 0, len(order))
	for _, k := range order {
		a := sums[k]
		out = append(out, devices.Point{Metric: k.metric, Value: a.sum / float64(a.n),
			Time: from.Add(time.Duration(a.t / float64(a.n))).Truncate(time.Millisecond).In(from.Location())})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

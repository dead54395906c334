package dashboard

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Degraded is what a readiness check (Config.Ready) returns when a part
// is down but the service still does its job, e.g. InfluxDB unreachable
// while the spool takes the readings: /readyz stays 200, with status
// "degraded" and the reason, so an orchestrator keeps the instance while
// the screens and the log say what is wrong.
type Degraded struct{ Reason string }

func (d *Degraded) Error() string { return "degraded: " + d.Reason }

// ClusterView is the cluster as one instance sees it: its own name and
// the leader of every partition (empty: nobody holds a running lease).
type ClusterView struct {
	Instance   string            `json:"instance"`
	Partitions []PartitionLeader `json:"partitions"`
}

// PartitionLeader is one partition's leader.
type PartitionLeader struct {
	Partition string `json:"partition"`
	Leader    string `json:"leader"`
	Epoch     int64  `json:"epoch"`
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz asks the injected readiness check (broker, store, influx): 200
// "ready", 200 "degraded" with the reason (a *Degraded), or 503. Every
// answer tells how many alarm changes wait for the ticket store
// (pending_alarm_handoffs).
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	pending := 0
	if s.cfg.PendingAlarms != nil {
		pending = s.cfg.PendingAlarms()
	}
	err := s.cfg.Ready(ctx)
	answer := func(code int, body map[string]any) {
		body["pending_alarm_handoffs"] = pending
		if s.cfg.Cluster != nil {
			if cv, cerr := s.cfg.Cluster(ctx); cerr == nil {
				body["cluster"] = cv
			} else {
				body["cluster_error"] = cerr.Error()
			}
		}
		writeJSON(w, code, body)
	}
	var d *Degraded
	if errors.As(err, &d) {
		answer(http.StatusOK, map[string]any{"status": "degraded", "reason": d.Reason})
		return
	}
	if err != nil {
		answer(http.StatusServiceUnavailable, map[string]any{"error": "not ready: " + err.Error()})
		return
	}
	answer(http.StatusOK, map[string]any{"status": "ready"})
}

// me tells the web UI who the token belongs to, so it can show only what
// the role may do.
func (s *Server) me(w http.ResponseWriter, _ *http.Request, p principal) {
	me := map[string]any{
		"name":  p.Name,
		"role":  p.Role,
		"may":   permissions(p.Role),
		"pages": pagesOf(p.Role),
	}
	if p.Sites != nil {
		me["sites"] = p.siteList() // the token sees these sites only
		may := me["may"].(map[string]bool)
		for _, a := range apiActions() {
			if a.everySite {
				may[a.name] = false
			}
		}
	}
	writeJSON(w, http.StatusOK, me)
}

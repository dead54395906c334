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

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz asks the injected readiness check (broker, store, influx): 200
// "ready", 200 "degraded" with the reason (a *Degraded), or 503.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	err := s.cfg.Ready(ctx)
	var d *Degraded
	if errors.As(err, &d) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "degraded", "reason": d.Reason})
		return
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "not ready: "+err.Error(), "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// me tells the web UI who the token belongs to, so it can show only what
// the role may do.
func (s *Server) me(w http.ResponseWriter, _ *http.Request, p principal) {
	writeJSON(w, http.StatusOK, map[string]any{
		"name": p.Name,
		"role": p.Role,
		"may": map[string]bool{
			"report": actReport.allows(p.Role),
			"ack":    actAck.allows(p.Role),
		},
	})
}

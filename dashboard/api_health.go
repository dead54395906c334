package dashboard

import (
	"context"
	"net/http"
	"time"
)

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz asks the injected readiness check (broker, store, influx) and
// tells how many alarm changes wait for the ticket store
// (pending_alarm_handoffs), ready or not.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	pending := 0
	if s.cfg.PendingAlarms != nil {
		pending = s.cfg.PendingAlarms()
	}
	if err := s.cfg.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "not ready: " + err.Error(),
			"pending_alarm_handoffs": pending})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "pending_alarm_handoffs": pending})
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

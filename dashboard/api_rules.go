package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/rules"
)

// RuleBook is what the API needs of the rules: stored versions applied
// live, shadow trials, services and backtests (*rules.Book implements it).
type RuleBook interface {
	List(ctx context.Context) ([]rules.View, error)
	Get(ctx context.Context, id string) (rules.View, error)
	History(ctx context.Context, id string) ([]rules.Version, error)
	Put(ctx context.Context, by rules.Author, id string, r rules.Rule, reason string) (rules.Version, error)
	Rollback(ctx context.Context, by rules.Author, id string, version int, reason string) (rules.Version, error)
	Promote(ctx context.Context, by rules.Author, id, reason string) (rules.Version, error)
	RecordService(ctx context.Context, by rules.Author, id, device, reason string) (rules.Service, error)
	Backtest(ctx context.Context, id string, req rules.BacktestRequest) (rules.BacktestResult, error)
}

// rulesOr503 answers 503 when no rule book is configured.
func (s *Server) rulesOr503(w http.ResponseWriter) bool {
	if s.cfg.Rules == nil {
		writeError(w, http.StatusServiceUnavailable, "rules are not available on this server", "")
		return false
	}
	return true
}

// ruleError maps the rule book's errors: unknown rule 404, a field error
// 400 naming the field, the rest as serviceError does.
func (s *Server) ruleError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, rules.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no such rule", "")
		return
	}
	s.serviceError(w, r, err)
}

func ruleID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if id == "" || len(id) > 64 {
		writeError(w, http.StatusBadRequest, "id: not a rule id", "id")
		return "", false
	}
	return id, true
}

func author(p principal) rules.Author { return rules.Author{Name: p.Name, Role: p.Role} }

// ruleLevel is the ticket level a rule's alarms open.
func ruleLevel(r rules.Rule) int {
	if r.Level >= 1 && r.Level <= 3 {
		return r.Level
	}
	return r.Severity.Level()
}

// l1Guard asks more of a change to an emergency (L1) rule, the one in
// force or the one it becomes: a reason (400, field "reason") and an
// explicit "confirm": true (409, field "confirm"), so that a gas
// threshold is never changed, rolled back or promoted by a slip. False
// means the answer is written.
func (s *Server) l1Guard(w http.ResponseWriter, r *http.Request, id, reason string, confirm bool, next *rules.Rule) bool {
	l1 := next != nil && ruleLevel(*next) == 1
	if cur, err := s.cfg.Rules.Get(r.Context(), id); err == nil && ruleLevel(cur.Rule) == 1 {
		l1 = true
	}
	switch {
	case !l1:
		return true
	case strings.TrimSpace(reason) == "":
		writeError(w, http.StatusBadRequest, "reason: required: rule "+id+" opens L1 (emergency) tickets; say why it changes", "reason")
		return false
	case !confirm:
		writeError(w, http.StatusConflict, "confirm: rule "+id+" opens L1 (emergency) tickets; confirm the change with \"confirm\": true", "confirm")
		return false
	}
	return true
}

// listRules answers GET /api/rules.
func (s *Server) listRules(w http.ResponseWriter, r *http.Request, _ principal) {
	if !s.rulesOr503(w) {
		return
	}
	list, err := s.cfg.Rules.List(r.Context())
	if err != nil {
		s.ruleError(w, r, err)
		return
	}
	if list == nil {
		list = []rules.View{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": list})
}

// getRule answers GET /api/rules/{id}.
func (s *Server) getRule(w http.ResponseWriter, r *http.Request, _ principal) {
	id, ok := ruleID(w, r)
	if !ok || !s.rulesOr503(w) {
		return
	}
	v, err := s.cfg.Rules.Get(r.Context(), id)
	if err != nil {
		s.ruleError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// ruleHistory answers GET /api/rules/{id}/history: every version, oldest
// first, with who, when, why and the version it replaced.
func (s *Server) ruleHistory(w http.ResponseWriter, r *http.Request, _ principal) {
	id, ok := ruleID(w, r)
	if !ok || !s.rulesOr503(w) {
		return
	}
	vs, err := s.cfg.Rules.History(r.Context(), id)
	if err != nil {
		s.ruleError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

// putRule answers PUT /api/rules/{id}: the rule as GET shows it, with an
// optional "reason"; validated, stored as a new version and applied live.
// "mode": "shadow" starts a shadow trial beside the live version.
func (s *Server) putRule(w http.ResponseWriter, r *http.Request, p principal) {
	id, ok := ruleID(w, r)
	if !ok || !s.rulesOr503(w) {
		return
	}
	var body struct {
		rules.Rule
		Reason  string `json:"reason"`
		Confirm bool   `json:"confirm"`
		Shadow  any    `json:"shadow"` // as GET shows it; ignored
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if !s.l1Guard(w, r, id, body.Reason, body.Confirm, &body.Rule) {
		return
	}
	v, err := s.cfg.Rules.Put(r.Context(), author(p), id, body.Rule, body.Reason)
	if err != nil {
		s.ruleError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// rollbackRule answers POST /api/rules/{id}/rollback {"version": N, "reason"}.
func (s *Server) rollbackRule(w http.ResponseWriter, r *http.Request, p principal) {
	id, ok := ruleID(w, r)
	if !ok || !s.rulesOr503(w) {
		return
	}
	var body struct {
		Version int    `json:"version"`
		Reason  string `json:"reason"`
		Confirm bool   `json:"confirm"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Version < 1 {
		writeError(w, http.StatusBadRequest, "version: must be a version number from the history", "version")
		return
	}
	var target *rules.Rule
	if vs, err := s.cfg.Rules.History(r.Context(), id); err == nil {
		for _, v := range vs {
			if v.Version == body.Version {
				target = &v.Rule
			}
		}
	}
	if !s.l1Guard(w, r, id, body.Reason, body.Confirm, target) {
		return
	}
	v, err := s.cfg.Rules.Rollback(r.Context(), author(p), id, body.Version, body.Reason)
	if err != nil {
		s.ruleError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// promoteRule answers POST /api/rules/{id}/promote {"reason"} (body
// optional): the shadow version on trial becomes the live one.
func (s *Server) promoteRule(w http.ResponseWriter, r *http.Request, p principal) {
	id, ok := ruleID(w, r)
	if !ok || !s.rulesOr503(w) {
		return
	}
	var body struct {
		Reason  string `json:"reason"`
		Confirm bool   `json:"confirm"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &body) {
		return
	}
	var shadow *rules.Rule
	if cur, err := s.cfg.Rules.Get(r.Context(), id); err == nil {
		shadow = cur.Shadow
	}
	if !s.l1Guard(w, r, id, body.Reason, body.Confirm, shadow) {
		return
	}
	v, err := s.cfg.Rules.Promote(r.Context(), author(p), id, body.Reason)
	if err != nil {
		s.ruleError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// recordService answers POST /api/rules/{id}/service {"device_id", "reason"}:
// the maintenance a counter rule asked for was done; the rule re-arms.
func (s *Server) recordService(w http.ResponseWriter, r *http.Request, p principal) {
	id, ok := ruleID(w, r)
	if !ok || !s.rulesOr503(w) {
		return
	}
	var body struct {
		Device string `json:"device_id"`
		Reason string `json:"reason"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if d, ok := s.cfg.Registry.Lookup(body.Device); ok && !deviceVisible(w, p, d) {
		return
	}
	sv, err := s.cfg.Rules.RecordService(r.Context(), author(p), id, body.Device, body.Reason)
	if err != nil {
		s.ruleError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sv)
}

// backtestRule answers POST /api/rules/{id}/backtest {"from","to","set"}.
func (s *Server) backtestRule(w http.ResponseWriter, r *http.Request, _ principal) {
	id, ok := ruleID(w, r)
	if !ok || !s.rulesOr503(w) {
		return
	}
	var body struct {
		From time.Time      `json:"from"`
		To   time.Time      `json:"to"`
		Set  map[string]any `json:"set"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	res, err := s.cfg.Rules.Backtest(r.Context(), id, rules.BacktestRequest{From: body.From, To: body.To, Set: body.Set})
	if err != nil {
		s.ruleError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

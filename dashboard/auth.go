package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// principal is who made a request.
type principal struct {
	Name string
	Role string
}

// tokenBook finds the holder of a token. Tokens are kept as SHA-256 digests
// and every one is compared, in constant time, on each lookup, so neither
// the position nor the length of a token leaks through timing.
type tokenBook struct {
	entries []tokenEntry
}

type tokenEntry struct {
	digest [sha256.Size]byte
	who    principal
}

func newTokenBook(tokens []Token) *tokenBook {
	b := &tokenBook{entries: make([]tokenEntry, len(tokens))}
	for i, t := range tokens {
		b.entries[i] = tokenEntry{digest: sha256.Sum256([]byte(t.Token)), who: principal{Name: t.Name, Role: t.Role}}
	}
	return b
}

// lookup returns the holder of the token, if any.
func (b *tokenBook) lookup(token string) (principal, bool) {
	if token == "" {
		return principal{}, false
	}
	d := sha256.Sum256([]byte(token))
	found := -1
	for i := range b.entries {
		if subtle.ConstantTimeCompare(d[:], b.entries[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return principal{}, false
	}
	return b.entries[found].who, true
}

// bearerToken takes the token from "Authorization: Bearer X", or, when
// allowQuery is set (the WebSocket, which browsers cannot give headers),
// from ?token=.
func bearerToken(r *http.Request, allowQuery bool) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if allowQuery {
		return r.URL.Query().Get("token")
	}
	return ""
}

// An action is something only some roles may do; admin may do everything.
type action struct {
	verb  string // for the 403 message: "role patrol may not <verb>"
	roles []string
}

var (
	actRead   = action{verb: "read", roles: []string{RolePatrol, RoleTechnician, RoleOperator, RoleEngineer}}
	actReport = action{verb: "file reports", roles: []string{RolePatrol, RoleOperator, RoleTechnician}}
	actAck    = action{verb: "acknowledge alarms", roles: []string{RoleOperator}}
	actWork   = action{verb: "act on tickets", roles: []string{RolePatrol, RoleTechnician, RoleOperator}}
	actStats  = action{verb: "read the KPIs", roles: []string{RoleOperator}}
	actTune   = action{verb: "change rules", roles: []string{RoleEngineer}}
	actServe  = action{verb: "record services", roles: []string{RoleEngineer, RoleTechnician}}
)

func (a action) allows(role string) bool {
	if role == RoleAdmin {
		return true
	}
	for _, r := range a.roles {
		if r == role {
			return true
		}
	}
	return false
}

// authed is a handler that is told who is calling.
type authed func(w http.ResponseWriter, r *http.Request, p principal)

// requireRole wraps h so that it runs only for a valid token whose role may
// do act: 401 without one, 403 for a role that may not.
func (s *Server) requireRole(act action, allowQuery bool, h authed) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.tokens.lookup(bearerToken(r, allowQuery))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="caretaker"`)
			writeError(w, http.StatusUnauthorized, "missing or invalid token", "")
			return
		}
		if !act.allows(p.Role) {
			writeError(w, http.StatusForbidden, "role "+p.Role+" may not "+act.verb, "")
			return
		}
		h(w, r, p)
	}
}

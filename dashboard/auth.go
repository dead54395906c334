package dashboard

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/config"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// principal is who made a request.
type principal struct {
	Name string
	Role string
	// Sites are the sites the token is limited to; nil: every site.
	Sites map[string]bool
	// digest is the SHA-256 of the token used (never the token).
	digest [sha256.Size]byte
}

// seesSite says whether p may see what happens at site.
func (p principal) seesSite(site string) bool { return p.Sites == nil || p.Sites[site] }

// identity names the token (by its digest), its holder, role and sites:
// a WebSocket opened under it is closed when a reload changes any of them.
func (p principal) identity() string {
	return hex.EncodeToString(p.digest[:]) + "\x00" + p.Name + "\x00" + p.Role + "\x00" + strings.Join(p.siteList(), ",")
}

// siteList is p's sites, sorted; nil: every site.
func (p principal) siteList() []string {
	if p.Sites == nil {
		return nil
	}
	out := make([]string, 0, len(p.Sites))
	for s := range p.Sites {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
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

// newTokenBook keeps each token's digest: of its token, or its
// token_sha256 as given (checked by checkTokens).
func newTokenBook(tokens []Token) *tokenBook {
	b := &tokenBook{entries: make([]tokenEntry, len(tokens))}
	for i, t := range tokens {
		e := tokenEntry{who: principal{Name: t.Name, Role: t.Role}}
		if t.Token != "" {
			e.digest = sha256.Sum256([]byte(t.Token))
		} else {
			d, _ := hex.DecodeString(t.TokenSHA256)
			copy(e.digest[:], d)
		}
		e.who.digest = e.digest
		if len(t.Sites) > 0 {
			e.who.Sites = make(map[string]bool, len(t.Sites))
			for _, s := range t.Sites {
				e.who.Sites[s] = true
			}
		}
		b.entries[i] = e
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
	name  string // its key in /api/me's "may"
	verb  string // for the 403 message: "role patrol may not <verb>"
	roles []string
	// everySite: what it does (or shows) spans every site, so a token
	// limited to sites may not.
	everySite bool
}

var (
	actRead   = action{name: "read", verb: "read", roles: []string{RolePatrol, RoleTechnician, RoleOperator, RoleEngineer, RoleManager}}
	actReport = action{name: "report", verb: "file reports", roles: []string{RolePatrol, RoleOperator, RoleTechnician}}
	actAck    = action{name: "ack", verb: "acknowledge alarms", roles: []string{RoleOperator}}
	actWork   = action{name: "work", verb: "act on tickets", roles: []string{RolePatrol, RoleTechnician, RoleOperator}}
	actStats  = action{name: "stats", verb: "read the KPIs", roles: []string{RoleOperator, RoleManager}}
	actTune   = action{name: "rules", verb: "change rules", roles: []string{RoleEngineer}, everySite: true}
	actServe  = action{name: "service", verb: "record services", roles: []string{RoleEngineer, RoleTechnician}}
)

// apiActions are the API's actions, as /api/me reports them.
func apiActions() []action {
	return []action{actRead, actReport, actAck, actWork, actStats, actTune, actServe, actPlan, actPlace, actTriage, actFalseAlarms}
}

// ticketActions name the repair-flow steps the page offers buttons for, by
// their key in /api/me's "may": dispatch (assign), tech (claim), and the
// steps after the work: confirm, dispute, callback, reopen, cancel,
// comment, level; and check (an item of the ticket's checklist).
var ticketActions = map[string]string{"dispatch": ticketing.ActAssign, "tech": ticketing.ActClaim,
	"confirm": ticketing.ActConfirm, "dispute": ticketing.ActDispute, "callback": ticketing.ActCallback,
	"reopen": ticketing.ActReopen, "cancel": ticketing.ActCancel, "comment": ticketing.ActComment,
	"level": ticketing.ActLevel, "resolve": ticketing.ActResolve, "check": ticketing.ActCheck}

// permissions is every permission of role: the API's actions and the
// repair-flow steps the page needs to know about.
func permissions(role string) map[string]bool {
	may := map[string]bool{}
	for _, a := range apiActions() {
		may[a.name] = a.allows(role)
	}
	for name, act := range ticketActions {
		may[name] = ticketing.RoleMay(role, act)
	}
	return may
}

// Pages of the web UI, by their key in /api/me's "pages".
const (
	PageBoard   = "board"   // the control room: live alarms and tickets
	PageReport  = "report"  // file a report
	PageTech    = "tech"    // the technician's work
	PageRules   = "rules"   // alarm rules
	PageReports = "reports" // KPIs and exports
	PageCodes   = "codes"   // the QR codes of devices and places, to print
	PageDaily   = "daily"   // the morning list of unfinished work
	PageFloors  = "floors"  // where the live faults are, by building and floor
)

// pagesOf lists the pages role works with, its home page first; the UI
// shows only these in its navigation and turns the others away.
func pagesOf(role string) []string {
	switch role {
	case RoleOperator:
		return []string{PageBoard, PageReport, PageReports, PageDaily, PageCodes, PageFloors}
	case RolePatrol:
		return []string{PageReport}
	case RoleTechnician:
		return []string{PageTech, PageReport, PageDaily}
	case RoleEngineer:
		return []string{PageRules, PageBoard, PageFloors}
	case RoleManager:
		return []string{PageReports, PageBoard, PageDaily, PageFloors}
	case RoleAdmin:
		return []string{PageBoard, PageReport, PageTech, PageRules, PageReports, PageDaily, PageCodes, PageFloors}
	}
	return nil
}

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

// checkRole says why role is none of ticketing.Roles.
func checkRole(role string) error {
	if ticketing.IsRole(role) {
		return nil
	}
	return fmt.Errorf("%q is not %s", role, orList(ticketing.Roles()))
}

func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// MinTokenLen is the shortest token the configuration takes.
const MinTokenLen = 16

// Auth is the auth section of caretaker.yaml: the API tokens.
type Auth struct {
	Tokens []Token `yaml:"tokens"`
}

// Validate checks the tokens; the *config.FieldError names the key below
// auth, never the token.
func (a Auth) Validate() error {
	return checkTokens(a.Tokens, MinTokenLen)
}

// checkTokens checks every token: a name, a known role, either a token of
// at least minLen characters or its token_sha256 (64 hex digits), valid
// site ids, and no token twice. The *config.FieldError names the key
// (tokens[i].field), never the token.
func checkTokens(tokens []Token, minLen int) error {
	seen := make(map[[sha256.Size]byte]int, len(tokens))
	for i, t := range tokens {
		key := fmt.Sprintf("tokens[%d]", i)
		if t.Name == "" {
			return config.Errorf(key+".name", "missing")
		}
		if err := checkRole(t.Role); err != nil {
			return config.Under(key+".role", err)
		}
		var digest [sha256.Size]byte
		switch {
		case t.Token != "" && t.TokenSHA256 != "":
			return config.Errorf(key+".token_sha256", "give token or token_sha256, not both")
		case t.TokenSHA256 != "":
			d, err := hex.DecodeString(t.TokenSHA256)
			if err != nil || len(d) != sha256.Size {
				return config.Errorf(key+".token_sha256", "must be 64 hex digits (sha256sum of the token)")
			}
			copy(digest[:], d)
		case len(t.Token) < minLen:
			return config.Errorf(key+".token", "must be at least %d characters", minLen)
		default:
			digest = sha256.Sum256([]byte(t.Token))
		}
		if j, dup := seen[digest]; dup {
			return config.Errorf(key+".token", "same token as tokens[%d]", j)
		}
		seen[digest] = i
		for j, s := range t.Sites {
			if !devices.ValidID(s) {
				return config.Errorf(fmt.Sprintf("%s.sites[%d]", key, j), "%s is not a site id", quoteShort(s))
			}
		}
	}
	return nil
}

// authed is a handler that is told who is calling.
type authed func(w http.ResponseWriter, r *http.Request, p principal)

// requireRole wraps h so that it runs only for a request whose
// "Authorization: Bearer" token has a role that may do act: 401 without
// one, 403 for a role that may not.
func (s *Server) requireRole(act action, h authed) http.HandlerFunc {
	return s.authorize(act, false, h)
}

// requireRoleOrQuery is requireRole that also takes the token from
// ?token=, for the WebSocket: browsers cannot give it headers.
func (s *Server) requireRoleOrQuery(act action, h authed) http.HandlerFunc {
	return s.authorize(act, true, h)
}

func (s *Server) authorize(act action, allowQuery bool, h authed) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		addr := clientAddr(r)
		if wait, blocked := s.authFails.blocked(addr); blocked {
			s.refused.WithLabelValues("auth_blocked").Inc()
			tooManyFailures(w, wait)
			return
		}
		tok := bearerToken(r, allowQuery)
		p, ok := s.tokens.Load().lookup(tok)
		if !ok {
			if tok != "" {
				s.refused.WithLabelValues("bad_token").Inc()
				n := s.authFails.fail(addr)
				s.authLog.Warn(addr, "authentication failed: wrong token", "remote", addr, "path", r.URL.Path, "failures", n)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="caretaker"`)
			writeErrorCode(w, http.StatusUnauthorized, "missing or invalid token", "", "bad_token", nil)
			return
		}
		if !act.allows(p.Role) {
			writeErrorCode(w, http.StatusForbidden, "role "+p.Role+" may not "+act.verb, "", "role_forbidden", map[string]any{"role": p.Role})
			return
		}
		if act.everySite && p.Sites != nil {
			writeError(w, http.StatusForbidden, "a token limited to sites may not "+act.verb+": they apply to every site", "")
			return
		}
		h(w, r, p)
	}
}

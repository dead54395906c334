package dashboard

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The security table: every route the server registers x every role, plus
// no token and a bad one. The routes are read from the package's own
// source (every mux.Handle/HandleFunc call), so a route added without a
// line in accessSpec fails TestEveryRouteHasAnAccessRule rather than
// escaping the table.
//
// What else the issue asks of security, and where it is proved:
//   - constant-time token comparison: auth.go keeps SHA-256 digests and
//     compares every one with subtle.ConstantTimeCompare on each lookup;
//     TestTokenBookKeepsNoPlainTokens and TestAuth (a prefix of a real
//     token is refused) below and in api_test.go;
//   - request body limits: TestEveryJSONBodyIsCapped here; photo size and
//     type, and no path traversal through the file name: TestAPIPhotos
//     (flow_api_test.go) and ticketing's TestPhotos;
//   - verification-code attempts limited per ticket: 429 after five wrong
//     codes, TestAPIInHomeFlowWithCodeAndRework (flow_api_test.go);
//   - WebSocket origin check: TestWSOriginAndToken (hub_test.go);
//   - no secret in logs: TestNoSecretInLogs (cmd/caretaker).

// everyone is the roles plus the two ways of having none.
var everyone = []string{RolePatrol, RoleTechnician, RoleOperator, RoleEngineer, RoleManager, RoleAdmin, "no token", "bad token"}

// access is who may use a route, as contract.md's API table says: open
// routes need no token; the others list the roles that may (admin may
// always).
type access struct {
	open  bool
	roles []string
	// link: the credential is an ack link's token (in the path or the
	// form body), never a bearer token: without a valid link every caller
	// is refused (403) with an HTML page for the phone.
	link bool
}

var (
	anyone   = access{open: true}
	allRoles = access{roles: []string{RolePatrol, RoleTechnician, RoleOperator, RoleEngineer, RoleManager}}
	kpis     = access{roles: []string{RoleOperator, RoleManager}}
	reporter = access{roles: []string{RolePatrol, RoleOperator, RoleTechnician}}
	operator = access{roles: []string{RoleOperator}}
	engineer = access{roles: []string{RoleEngineer}}
	ackLink  = access{open: true, link: true}
)

// accessSpec is the contract, written independently of auth.go's actions:
// pattern as registered -> who may.
var accessSpec = map[string]access{
	"GET /healthz": anyone,
	"GET /readyz":  anyone,
	"GET /metrics": anyone,
	"/":            anyone, // the web UI; it asks for a token itself

	"GET /api/me":                          allRoles,
	"GET /api/devices":                     allRoles,
	"GET /api/devices/{id}":                allRoles,
	"GET /api/devices/{id}/readings":       allRoles,
	"POST /api/tickets":                    reporter,
	"GET /api/tickets":                     allRoles,
	"GET /api/tickets/{id}":                allRoles,
	"POST /api/tickets/{id}/actions":       reporter, // the flow then decides per action and person
	"POST /api/tickets/{id}/photos":        reporter,
	"GET /api/tickets/{id}/photos/{photo}": allRoles,
	"GET /api/tickets/{id}/notifications":  allRoles,
	"GET /api/tickets/{id}/technicians":    allRoles,
	"GET /api/stats":                       kpis,
	"GET /api/duty":                        allRoles,
	"GET /api/sites":                       allRoles,
	"GET /api/openapi.json":                anyone, // the shape of the API, no data
	"GET /ack/{token}":                     ackLink,
	"POST /ack":                            ackLink,
	"GET /ack/r/{token}":                   ackLink, // the reporter's link: the same kind of page
	"POST /ack/r":                          ackLink,
	"GET /api/alarms":                      allRoles,
	"POST /api/alarms/{id}/ack":            operator,
	"GET /api/triage":                      allRoles,
	"GET /api/triage/stats":                {roles: []string{RoleEngineer, RoleOperator, RoleManager}},
	"POST /api/triage/{id}/ticket":         operator,
	"POST /api/triage/{id}/snooze":         operator,
	"POST /api/triage/{id}/dismiss":        operator,
	"GET /api/rules":                       allRoles,
	"GET /api/rules/{id}":                  allRoles,
	"GET /api/rules/{id}/history":          allRoles,
	"PUT /api/rules/{id}":                  engineer,
	"POST /api/rules/{id}/rollback":        engineer,
	"POST /api/rules/{id}/promote":         engineer,
	"POST /api/rules/{id}/backtest":        engineer,
	"POST /api/rules/{id}/service":         {roles: []string{RoleEngineer, RoleTechnician}},
	"/api/":                                allRoles, // unknown endpoints: 404, but only with a token
	"GET /ws":                              allRoles,

	// QR codes of devices and places, device actions.
	"GET /ack/q/{token}":                            ackLink, // a scanned code's report page: no account
	"POST /ack/q":                                   ackLink,
	"GET /api/sites/{site}/codes":                   operator,
	"GET /api/sites/{site}/codes/sheet":             operator,
	"POST /api/tickets/{id}/commands/{cmd}/confirm": operator,
	"GET /api/daily":                                allRoles,

	// The floor view: everyone reads it; an admin uploads plans, an
	// engineer places devices on them.
	"GET /api/floors":                allRoles,
	"GET /api/floors/plan":           allRoles,
	"PUT /api/floors/plan":           {}, // admin only
	"PUT /api/devices/{id}/position": engineer,
}

func (a access) allows(who string) bool {
	return a.open || who == RoleAdmin || slices.Contains(a.roles, who)
}

var tokenOf = map[string]string{
	RolePatrol: tokPatrol, RoleTechnician: tokTech, RoleOperator: tokOperator,
	RoleEngineer: tokEngineer, RoleAdmin: tokAdmin, RoleManager: tokManager, "no token": "", "bad token": "not-a-token-of-anyone",
}

// registeredRoutes reads the patterns of every mux.Handle and
// mux.HandleFunc call in the package's non-test source.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(call.Args) != 2 {
				return true
			}
			if recv, ok := sel.X.(*ast.Ident); !ok || recv.Name != "mux" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: a route registered with a computed pattern cannot be checked; use a literal", fset.Position(call.Pos()))
				return true
			}
			p, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
			return true
		})
	}
	if len(out) < 10 {
		t.Fatalf("found only %d routes in the source (%v): the scan is broken", len(out), out)
	}
	return out
}

func TestEveryRouteHasAnAccessRule(t *testing.T) {
	routes := registeredRoutes(t)
	for _, p := range routes {
		if _, ok := accessSpec[p]; !ok {
			t.Errorf("route %q is registered but has no line in accessSpec (security_test.go): say who may use it", p)
		}
	}
	for p := range accessSpec {
		if !slices.Contains(routes, p) {
			t.Errorf("accessSpec names %q, which the server no longer registers", p)
		}
	}
}

// requestFor makes a concrete request of a pattern, with ids that exist
// in the rule estate where it matters.
func requestFor(pattern string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = http.MethodGet, pattern
	}
	switch {
	case path == "/api/":
		path = "/api/no-such-endpoint"
	case strings.HasPrefix(path, "/api/rules/"):
		path = strings.ReplaceAll(path, "{id}", "gas-lel-critical")
	case strings.HasPrefix(path, "/api/devices/"):
		path = strings.ReplaceAll(path, "{id}", "gas-b2-07")
	case strings.HasPrefix(path, "/api/alarms/"):
		path = strings.ReplaceAll(path, "{id}", "x")
	}
	path = strings.NewReplacer("{id}", "42", "{photo}", "1").Replace(path)
	return method, path
}

func TestRouteAccessTable(t *testing.T) {
	e, _ := newRuleEstate(t)
	for _, pattern := range registeredRoutes(t) {
		spec := accessSpec[pattern]
		method, path := requestFor(pattern)
		for _, who := range everyone {
			t.Run(pattern+"/"+who, func(t *testing.T) {
				status, body := e.do(t, method, path, tokenOf[who], "")
				switch {
				case spec.link:
					if status != http.StatusForbidden || !strings.Contains(body, `id="ack-refused"`) {
						t.Fatalf("%s %s as %s without a valid link: status %d, want 403 with the refusal page (%s)", method, path, who, status, body)
					}
				case spec.allows(who):
					if status == http.StatusUnauthorized || status == http.StatusForbidden || status >= 500 && status != http.StatusServiceUnavailable {
						t.Fatalf("%s %s as %s: status %d, want it served (body %s)", method, path, who, status, body)
					}
				case who == "no token" || who == "bad token":
					if status != http.StatusUnauthorized || decodeError(t, body).Error != "missing or invalid token" {
						t.Fatalf("%s %s as %s: status %d %s, want 401", method, path, who, status, body)
					}
				default:
					if status != http.StatusForbidden || !strings.HasPrefix(decodeError(t, body).Error, "role "+who+" may not ") {
						t.Fatalf("%s %s as %s: status %d %s, want 403 naming the role", method, path, who, status, body)
					}
				}
			})
		}
	}
}

// The WebSocket takes its token from ?token= too (browsers cannot set
// headers there); no other route does.
func TestQueryTokenOnlyOpensTheWebSocket(t *testing.T) {
	e, _ := newRuleEstate(t)
	for _, pattern := range registeredRoutes(t) {
		if accessSpec[pattern].open {
			continue
		}
		method, path := requestFor(pattern)
		status, body := e.do(t, method, path+"?token="+tokAdmin, "", "")
		want := http.StatusUnauthorized
		if pattern == "GET /ws" {
			want = http.StatusBadRequest // past the token: "this endpoint speaks WebSocket only"
		}
		if status != want {
			t.Errorf("%s %s?token=<admin>: status %d, want %d (%s)", method, path, status, want, body)
		}
	}
}

// A method the mux does not route for a path still meets the token check
// first: no 405 or 404 tells a stranger which endpoints exist.
func TestOtherMethodsNeedATokenToo(t *testing.T) {
	e, _ := newRuleEstate(t)
	for _, pattern := range registeredRoutes(t) {
		method, path := requestFor(pattern)
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if m == method {
				continue
			}
			if status, body := e.do(t, m, path, "", ""); status != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: status %d, want 401 (%s)", m, path, status, body)
			}
		}
	}
}

// TestEveryJSONBodyIsCapped sends a body over 1 MiB to every route that
// takes JSON, as a role that may: 413, and the service never sees it.
func TestEveryJSONBodyIsCapped(t *testing.T) {
	e, _ := newRuleEstate(t)
	huge := `{"reason":"` + strings.Repeat("x", maxBody) + `"}`
	for _, tc := range []struct{ pattern, token string }{
		{"POST /api/tickets", tokPatrol},
		{"POST /api/tickets/{id}/actions", tokTech},
		{"PUT /api/rules/{id}", tokEngineer},
		{"POST /api/rules/{id}/rollback", tokEngineer},
		{"POST /api/rules/{id}/promote", tokEngineer},
		{"POST /api/rules/{id}/backtest", tokEngineer},
		{"POST /api/rules/{id}/service", tokEngineer},
	} {
		method, path := requestFor(tc.pattern)
		status, body := e.do(t, method, path, tc.token, huge)
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with %d bytes: status %d, want 413 (%.200s)", tc.pattern, len(huge), status, body)
		}
	}
	if len(e.tickets.reports) != 0 {
		t.Errorf("the service got %d reports from oversized bodies", len(e.tickets.reports))
	}
}

// TestTokenBookKeepsNoPlainTokens: the server holds digests only, so no
// dump of its state (a panic, a debugger, %+v in a log) can show a token;
// lookups still tell tokens sharing a prefix apart.
func TestTokenBookKeepsNoPlainTokens(t *testing.T) {
	e := newEstate(t, HubConfig{})
	dump := fmt.Sprintf("%+v %#v", e.srv.tokens.Load(), e.srv.tokens.Load().entries)
	for _, tk := range testTokens {
		if strings.Contains(dump, tk.Token) {
			t.Fatalf("token of %s in the server's state: %s", tk.Name, dump)
		}
	}
	for _, tc := range []struct {
		tok  string
		want string
	}{
		{tokOperator, "ops1"},
		{tokOperator + "x", ""},
		{tokOperator[:len(tokOperator)-1], ""},
		{strings.ToUpper(tokOperator), ""},
		{"", ""},
	} {
		p, ok := e.srv.tokens.Load().lookup(tc.tok)
		if ok != (tc.want != "") || p.Name != tc.want {
			t.Errorf("lookup(%q) = %+v, %v; want %q", tc.tok, p, ok, tc.want)
		}
	}
	// /api/me says who and what role, never the token.
	status, body := e.do(t, "GET", "/api/me", tokOperator, "")
	if status != 200 || strings.Contains(body, tokOperator) {
		t.Fatalf("/api/me: %d %s", status, body)
	}
	var me map[string]any
	if err := json.Unmarshal([]byte(body), &me); err != nil || me["name"] != "ops1" || me["role"] != RoleOperator {
		t.Fatalf("/api/me: %s (%v)", body, err)
	}
}

// TestErrorAnswersAreJSONWithSecurityHeaders: every refusal is the
// contract's JSON error and every answer carries the browser hardening
// headers, open routes included.
func TestErrorAnswersAreJSONWithSecurityHeaders(t *testing.T) {
	e := newEstate(t, HubConfig{})
	srv := e.srv.Handler()
	for _, pattern := range registeredRoutes(t) {
		method, path := requestFor(pattern)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		res := rec.Result()
		b, _ := io.ReadAll(res.Body)
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := res.Header.Get(h); got != want {
				t.Errorf("%s %s: %s = %q, want %q", method, path, h, got, want)
			}
		}
		if !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s %s: no Content-Security-Policy", method, path)
		}
		if accessSpec[pattern].link {
			// The ack link's pages are for a phone's browser: HTML, also
			// when they refuse.
			if res.StatusCode >= 400 && !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s %s: %d answer is not the HTML refusal page (%s)", method, path, res.StatusCode, res.Header.Get("Content-Type"))
			}
			continue
		}
		if res.StatusCode >= 400 {
			var ae apiError
			if err := json.Unmarshal(b, &ae); err != nil || ae.Error == "" || res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: %d answer is not a JSON error: %q (%s)", method, path, res.StatusCode, b, res.Header.Get("Content-Type"))
			}
		}
	}
}

// TestMeListsEveryPermission: /api/me's "may" holds every permission the
// page hides buttons by, for every role, as the routes and the repair flow
// decide them; the page keeps no role list of its own.
func TestMeListsEveryPermission(t *testing.T) {
	e := newEstate(t, HubConfig{})
	tests := []struct {
		tok   string
		role  string
		want  map[string]bool
		pages []string // its home page first
	}{
		{tokPatrol, RolePatrol, map[string]bool{"read": true, "report": true, "work": true, "comment": true}, []string{"report"}},
		{tokTech, RoleTechnician, map[string]bool{"read": true, "report": true, "work": true, "service": true, "tech": true, "comment": true, "resolve": true, "check": true},
			[]string{"tech", "report", "daily"}},
		{tokOperator, RoleOperator, map[string]bool{"read": true, "report": true, "ack": true, "work": true, "stats": true, "dispatch": true,
			"confirm": true, "dispute": true, "callback": true, "reopen": true, "cancel": true, "comment": true, "level": true, "check": true,
			"triage": true, "false_alarms": true},
			[]string{"board", "report", "reports", "daily", "codes", "floors"}},
		{tokEngineer, RoleEngineer, map[string]bool{"read": true, "rules": true, "service": true, "place": true, "false_alarms": true}, []string{"rules", "board", "floors"}},
		{tokManager, RoleManager, map[string]bool{"read": true, "stats": true, "false_alarms": true}, []string{"reports", "board", "daily", "floors"}},
		{tokAdmin, RoleAdmin, map[string]bool{"read": true, "report": true, "ack": true, "work": true, "stats": true, "rules": true, "service": true,
			"dispatch": true, "tech": true, "confirm": true, "dispute": true, "callback": true, "reopen": true, "cancel": true, "comment": true,
			"level": true, "resolve": true, "check": true, "floorplan": true, "place": true, "triage": true, "false_alarms": true},
			[]string{"board", "report", "tech", "rules", "reports", "daily", "codes", "floors"}},
	}
	all := []string{"read", "report", "ack", "work", "stats", "rules", "service", "dispatch", "tech",
		"confirm", "dispute", "callback", "reopen", "cancel", "comment", "level", "resolve", "check", "floorplan", "place", "triage", "false_alarms"}
	for _, tc := range tests {
		t.Run(tc.role, func(t *testing.T) {
			status, body := e.do(t, "GET", "/api/me", tc.tok, "")
			var me struct {
				Role  string          `json:"role"`
				May   map[string]bool `json:"may"`
				Pages []string        `json:"pages"`
			}
			if err := json.Unmarshal([]byte(body), &me); status != 200 || err != nil || me.Role != tc.role {
				t.Fatalf("/api/me: %d %s (%v)", status, body, err)
			}
			if !slices.Equal(me.Pages, tc.pages) {
				t.Errorf("pages %v, want %v", me.Pages, tc.pages)
			}
			if len(me.May) != len(all) {
				t.Errorf("may has %d permissions, want %d: %v", len(me.May), len(all), me.May)
			}
			for _, p := range all {
				if v, ok := me.May[p]; !ok || v != tc.want[p] {
					t.Errorf("may[%s] = %v (present %v), want %v", p, v, ok, tc.want[p])
				}
			}
		})
	}
}

package dashboard

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caretaker-iot/caretaker/devices"
)

type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

// Every route the server registers is in the OpenAPI file (GET
// /api/openapi.json), and the file documents no route the server lacks.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	reg, _ := devices.NewRegistry(devices.Catalog{})
	srv, err := NewServer(Config{Tokens: testTokens, Hosts: []string{"example.com"}, Registry: reg, Tickets: newFakeTickets(), Alarms: &fakeAlarms{}, Hub: NewHub(HubConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil)) // no token
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var doc openAPIDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", doc.OpenAPI)
	}
	routes := registeredRoutes(t)
	if len(routes) < 20 {
		t.Fatalf("found only %d routes in the source: %v", len(routes), routes)
	}
	seen := map[string]bool{}
	for _, r := range routes {
		method, path, ok := strings.Cut(r, " ")
		if !ok {
			method, path = "", r
		}
		if path == "/api/" {
			continue // the catch-all that answers "no such endpoint"
		}
		if method == "" {
			method = "GET"
		}
		key := strings.ToLower(method) + " " + path
		seen[key] = true
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("route %q is not in openapi.json", r)
		}
	}
	for path, ops := range doc.Paths {
		for m := range ops {
			if m == "parameters" {
				continue
			}
			if !seen[m+" "+path] {
				t.Errorf("openapi.json documents %s %s, which the server does not register", strings.ToUpper(m), path)
			}
		}
	}
	// Every operation says what it answers.
	for path, ops := range doc.Paths {
		for m, raw := range ops {
			var op struct {
				Summary   string                     `json:"summary"`
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(raw, &op); err != nil || op.Summary == "" || len(op.Responses) == 0 {
				t.Errorf("%s %s: no summary or responses", m, path)
			}
		}
	}
}

package dashboard

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// fakeCodes is a PlaceCodes that lists one code per site asked.
type fakeCodes struct{ sites []string }

func (f *fakeCodes) PlaceCodeList(_ context.Context, site string) ([]PlaceCode, error) {
	f.sites = append(f.sites, site)
	return []PlaceCode{{Site: site, Building: "B1", Location: "lobby", URL: "http://x/ack/q/t"}}, nil
}

func (f *fakeCodes) PlaceSheet(_ context.Context, site, _ string) ([]byte, error) {
	f.sites = append(f.sites, site)
	return []byte("\x89PNG"), nil
}

func (f *fakeCodes) PlaceCodeView(context.Context, string) (PlaceCodeView, error) {
	return PlaceCodeView{}, ErrLinkInvalid
}

func (f *fakeCodes) PlaceReport(context.Context, string, PlaceCodeReport) (PlaceCodeView, error) {
	return PlaceCodeView{}, ErrLinkInvalid
}

// TestPlaceCodesScope: the codes of a site are an operator's, and a
// token limited to s1 gets s1's only; other roles are refused.
func TestPlaceCodesScope(t *testing.T) {
	codes := &fakeCodes{}
	e := newEstate(t, HubConfig{}, func(c *Config) {
		c.PlaceCodes = codes
		c.Tokens = append(append([]Token{}, c.Tokens...), Token{Name: "pm1", Role: RoleOperator, Token: tokPM, Sites: []string{"s1"}})
	})
	for _, tc := range []struct {
		path, token string
		status      int
	}{
		{"/api/sites/s1/codes", tokPM, 200},
		{"/api/sites/s1/codes/sheet?format=png", tokPM, 200},
		{"/api/sites/s2/codes", tokPM, http.StatusForbidden},
		{"/api/sites/s2/codes/sheet?format=pdf", tokPM, http.StatusForbidden},
		{"/api/sites/s2/codes", tokOperator, 200},
		{"/api/sites/s2/codes", tokAdmin, 200},
		{"/api/sites/s1/codes", tokPatrol, http.StatusForbidden},
		{"/api/sites/s1/codes", tokTech, http.StatusForbidden},
		{"/api/sites/s1/codes", tokEngineer, http.StatusForbidden},
		{"/api/sites/s1/codes/sheet?format=svg", tokOperator, http.StatusBadRequest},
	} {
		if status, body := e.do(t, "GET", tc.path, tc.token, ""); status != tc.status {
			t.Errorf("GET %s: %d %s, want %d", tc.path, status, body, tc.status)
		}
	}
	if got := strings.Join(codes.sites, ","); got != "s1,s1,s2,s2" {
		t.Fatalf("sites asked of the service: %s, want s1,s1,s2,s2 (never s2 for the s1 token)", got)
	}
}

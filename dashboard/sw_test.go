package dashboard

import (
	"io/fs"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestServiceWorkerCachesThePage: /sw.js is served from the root (so it
// controls the whole page) and its shell lists every file of the page,
// so the technician's page opens without signal.
func TestServiceWorkerCachesThePage(t *testing.T) {
	e := newEstate(t, HubConfig{})
	rec := httptest.NewRecorder()
	e.srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/sw.js", nil))
	if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), "javascript") {
		t.Fatalf("GET /sw.js: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	sw := rec.Body.String()
	files, err := fs.Glob(webFiles, "web/js/*.js")
	if err != nil || len(files) < 10 {
		t.Fatalf("web/js: %v %v", files, err)
	}
	for _, f := range append(files, "web/index.html", "web/style.css") {
		if !strings.Contains(sw, `"`+strings.TrimPrefix(f, "web")+`"`) {
			t.Errorf("sw.js does not cache %s", strings.TrimPrefix(f, "web"))
		}
	}
}

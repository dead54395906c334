package dashboard

import (
	_ "embed"
	"net/http"
)

// openAPI describes the whole HTTP API (OpenAPI 3): for call-centre
// software and the third-party platforms that report faults. A test keeps
// it and the routes in step.
//
//go:embed openapi.json
var openAPI []byte

// openapi answers GET /api/openapi.json, without a token: the file holds
// the shape of the API, no data.
func (s *Server) openapi(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPI)
}

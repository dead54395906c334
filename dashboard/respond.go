package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// maxBody caps request bodies.
const maxBody = 1 << 20

// apiError is the body of every error answer. Code and Params say it for
// a program: the page shows the error in its user's language by the code
// ("wrong_code" with {"action": "arrive", "n": 1, "max": 5}) and falls
// back to Error, the English text, for a code it does not know.
type apiError struct {
	Error  string         `json:"error"`
	Field  string         `json:"field,omitempty"`
	Code   string         `json:"code,omitempty"`
	Params map[string]any `json:"params,omitempty"`
}

// coded is an error that carries a stable code (ticketing.ActionError,
// ticketing.FieldError).
type coded interface {
	ErrorCode() (string, map[string]any)
}

// writeCoded answers err with its code and parameters, if it has them.
func writeCoded(w http.ResponseWriter, status int, err error, msg, field string) {
	body := apiError{Error: msg, Field: field}
	var c coded
	if errors.As(err, &c) {
		body.Code, body.Params = c.ErrorCode()
	}
	writeJSON(w, status, body)
}

// writeErrorCode answers an error of the server's own with its code.
func writeErrorCode(w http.ResponseWriter, status int, msg, field, code string, params map[string]any) {
	writeJSON(w, status, apiError{Error: msg, Field: field, Code: code, Params: params})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":"internal error: encoding the answer failed"}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg, field string) {
	writeJSON(w, status, apiError{Error: msg, Field: field})
}

// fieldNamer is how a validation error of a service says which field is at
// fault (ticketing.FieldError implements it).
type fieldNamer interface{ FieldName() string }

// serviceError answers an error from a service: a validation error is a 400
// naming the field, the configured not-found error a 404, anything else a
// 500 whose detail goes to the log only.
func (s *Server) serviceError(w http.ResponseWriter, r *http.Request, err error) {
	var fe fieldNamer
	switch {
	case errors.As(err, &fe):
		writeCoded(w, http.StatusBadRequest, err, err.Error(), fe.FieldName())
	case s.cfg.NotFound != nil && errors.Is(err, s.cfg.NotFound):
		writeErrorCode(w, http.StatusNotFound, "not found", "", "not_found", nil)
	case r.Context().Err() != nil:
		writeError(w, http.StatusServiceUnavailable, "request cancelled", "")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeErrorCode(w, http.StatusInternalServerError, "internal error", "", "internal", nil)
	}
}

// decodeBody reads one JSON object into v, refusing unknown fields, bodies
// over 1 MiB and trailing data. The error is written to w; ok false means
// the caller stops.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		status, msg, field := describeDecodeError(err)
		writeError(w, status, msg, field)
		return false
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "body must hold a single JSON object", "")
		return false
	}
	return true
}

// describeDecodeError turns a JSON decoding error into an answer that
// names the field when the decoder knows it.
func describeDecodeError(err error) (status int, msg, field string) {
	var (
		tooBig *http.MaxBytesError
		syn    *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", tooBig.Limit), ""
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, "body is empty: want a JSON object", ""
	case errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadRequest, "body is cut short: not complete JSON", ""
	case errors.As(err, &syn):
		return http.StatusBadRequest, fmt.Sprintf("body is not valid JSON at byte %d", syn.Offset), ""
	case errors.As(err, &typ):
		if typ.Field == "" {
			return http.StatusBadRequest, fmt.Sprintf("body must be a JSON object, not %s", typ.Value), ""
		}
		return http.StatusBadRequest, fmt.Sprintf("%s: must be %s, not %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value), typ.Field
	}
	// encoding/json reports unknown fields only as text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return http.StatusBadRequest, fmt.Sprintf("%s: unknown field", name), name
	}
	return http.StatusBadRequest, "body: " + err.Error(), ""
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "a list"
	}
	return "of another type"
}

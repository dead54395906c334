package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// Every route /api/openapi.json documents answers on a real caretaker
// (serve, over a real mosquitto): none is a 404 (no such endpoint, or no
// such thing where the test made one) or a 405 (wrong method).
func TestOpenAPIRoutesAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: answers every documented route of a real caretaker over mosquitto; ./scripts/test runs it (no -short)")
	}
	broker := testserver.Mosquitto(t)
	c, _ := serveConfig(t, func(httpAddr, dir string) string {
		return operatorConfig(broker.Addr, "caretaker-openapi", "  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: \"B2 boiler room\"}\n")(httpAddr, dir) +
			"time_zone: Asia/Shanghai\nsites: [{id: s1, name: 北区, name_en: North estate}]\n"
	})
	// The operator may not do everything (403 then): an answer all the
	// same, from the route's own handler.
	token := operatorToken

	publishGasL1(t, broker.Addr)
	tk := waitOneTicket(t, c.Base, "the gas alarm's ticket")

	do := func(method, path, ctype string, body io.Reader) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, c.Base+path, body)
		req.Header.Set("Authorization", "Bearer "+token)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(b)
	}

	// A photo of the ticket, so that its path has something to answer.
	var img bytes.Buffer
	_ = png.Encode(&img, image.NewGray(image.Rect(0, 0, 2, 2)))
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("photo", "p.png")
	_, _ = fw.Write(img.Bytes())
	_ = mw.Close()
	st, raw := do("POST", fmt.Sprintf("/api/tickets/%d/photos?stage=before", tk.ID), mw.FormDataContentType(), &mp)
	var photo ticketing.Photo
	if st != 201 || json.Unmarshal([]byte(raw), &photo) != nil {
		t.Fatalf("photo: %d %s", st, raw)
	}

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	resp, err := http.Get(c.Base + "/api/openapi.json") // no token needed
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("openapi.json without a token: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	values := map[string]string{
		"/api/tickets/{id}": fmt.Sprint(tk.ID),
		"/api/devices/{id}": "gas-b2-07",
		"/api/rules/{id}":   "gas-lel-critical",
		"/api/alarms/{id}":  tk.AlarmID,
		"/api/triage/{id}":  tk.AlarmID,
		"{photo}":           fmt.Sprint(photo.ID),
		"{token}":           "not-a-valid-link",
		"{site}":            "s1",
		"{cmd}":             "1",
	}
	fill := func(path string) string {
		for prefix, v := range values {
			if strings.HasPrefix(prefix, "{") {
				path = strings.ReplaceAll(path, prefix, v)
				continue
			}
			if strings.HasPrefix(path, prefix) {
				path = prefix[:len(prefix)-len("{id}")] + v + path[len(prefix):]
			}
		}
		return path
	}
	var paths []string
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if len(paths) < 25 {
		t.Fatalf("openapi.json documents %d paths", len(paths))
	}
	deadline := time.Now().Add(time.Minute)
	for _, p := range paths {
		for m := range doc.Paths[p] {
			if time.Now().After(deadline) {
				t.Fatal("out of time")
			}
			method := strings.ToUpper(m)
			path := fill(p)
			if strings.Contains(path, "{") {
				t.Errorf("%s %s: no value for its parameters", method, p)
				continue
			}
			var body io.Reader
			ctype := ""
			if method == "POST" || method == "PUT" {
				body, ctype = strings.NewReader("{}"), "application/json"
				if strings.HasPrefix(p, "/ack") {
					body, ctype = strings.NewReader("token=not-a-valid-link"), "application/x-www-form-urlencoded"
				}
			}
			st, raw := do(method, path, ctype, body)
			// A 404 of the route's own handler (no such command) is an
			// answer; one of no route is not.
			unrouted := st == http.StatusNotFound && (!strings.HasPrefix(p, "/api/") || strings.Contains(raw, "no such endpoint"))
			if unrouted || st == http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d %s", method, path, st, raw)
			}
			t.Logf("%s %s: %d", method, path, st)
		}
	}
}

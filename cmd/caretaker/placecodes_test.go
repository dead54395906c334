package main

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/caretaker-iot/caretaker/dashboard"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/ticketing"
)

const qrSecret = "qr-0123456789abcdef0123456789abcdef"

// TestPlaceCodes runs a real caretaker on a real mosquitto with QR codes
// on: the operator gets the site's codes and sheets; a code scanned at
// the gas detector whose alarm has an L1 ticket files a resident's report
// that joins that ticket; a code of a public place opens a ticket of that
// place; a code files at most qr.reports_per_code; a changed code is
// refused; the key and the tokens never reach the log.
func TestPlaceCodes(t *testing.T) {
	broker := testserver.Mosquitto(t)
	c, logs := serveConfig(t, func(httpAddr, dir string) string {
		return operatorConfig(broker.Addr, "caretaker-qr", `  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room", zone: z1}`)(httpAddr, dir) + fmt.Sprintf(`
qr:
  secret: %q
  public_url: "http://%s"
  reports_per_code: 2
  places: [{site: s1, building: B1, location: "B1 lobby"}]
`, qrSecret, httpAddr)
	})

	// The sheets and the list are the operator's.
	var list struct{ Codes []dashboard.PlaceCode }
	getJSON(t, c.Base+"/api/sites/s1/codes", operatorToken, &list)
	if len(list.Codes) != 2 || list.Codes[0].Device != "gas-b2-07" || list.Codes[1].Location != "B1 lobby" {
		t.Fatalf("codes of s1: %+v", list.Codes)
	}
	for _, code := range list.Codes {
		if !strings.HasPrefix(code.URL, c.Base+"/ack/q/") {
			t.Fatalf("code URL %s not under %s/ack/q/", code.URL, c.Base)
		}
	}
	for _, tc := range []struct {
		path, token string
		status      int
		ctype       string
	}{
		{"/api/sites/s1/codes/sheet?format=png", operatorToken, 200, "image/png"},
		{"/api/sites/s1/codes/sheet?format=pdf", operatorToken, 200, "application/pdf"},
		{"/api/sites/s1/codes/sheet?format=svg", operatorToken, 400, "application/json"},
		{"/api/sites/nowhere/codes", operatorToken, 404, "application/json"},
		{"/api/sites/s1/codes/sheet", patrolToken, 401, "application/json"}, // no patrol token in this config
		{"/api/sites/s1/codes", "", 401, "application/json"},
	} {
		resp, body := get(t, c.Base+tc.path, tc.token, "")
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.ctype {
			t.Fatalf("GET %s: %d %s, want %d %s: %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.ctype, body)
		}
		if tc.ctype == "image/png" {
			if _, err := png.Decode(bytes.NewReader(body)); err != nil {
				t.Fatalf("sheet PNG: %v", err)
			}
		}
		if tc.ctype == "application/pdf" && !bytes.HasPrefix(body, []byte("%PDF-")) {
			t.Fatalf("sheet PDF starts %q", body[:8])
		}
	}

	// At +0 gas 35.5 %LEL on gas-b2-07: an L1 sensor ticket.
	publishGasL1(t, broker.Addr)
	alarm := waitOneTicket(t, c.Base, "the gas alarm's ticket")

	// A resident scans the detector's code: the page names the place
	// and the device, and preselects "smell of gas".
	devCode := list.Codes[0].URL
	resp, page := get(t, devCode, "", "zh-CN,zh;q=0.9")
	if resp.StatusCode != 200 || !strings.Contains(string(page), "gas-b2-07") || !strings.Contains(string(page), "B2 boiler room") ||
		!strings.Contains(string(page), `id="q-p-gas" name="problem" value="gas" checked`) || !strings.Contains(string(page), "在此报修") {
		t.Fatalf("page of the detector's code: %d\n%s", resp.StatusCode, page)
	}
	token := strings.TrimPrefix(devCode, c.Base+"/ack/q/")
	post := func(token string, form url.Values) (*http.Response, string) {
		form.Set("token", token)
		resp, err := http.PostForm(c.Base+"/ack/q", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post(token, url.Values{"problem": {"gas"}, "details": {"strong smell by the stairs"}, "name": {"Wang"}, "phone": {"+8613900000077"}})
	if resp.StatusCode != 200 || !strings.Contains(body, alarm.Number) || !strings.Contains(body, "being handled already") {
		t.Fatalf("report by the detector's code: %d\n%s", resp.StatusCode, body)
	}
	var tk ticketing.Ticket
	getJSON(t, fmt.Sprintf("%s/api/tickets/%d", c.Base, alarm.ID), operatorToken, &tk)
	var found bool
	for _, r := range tk.Reporters {
		if r.Source == ticketing.SourceResident && r.Name == "Wang" && strings.Contains(r.Description, "strong smell by the stairs") && r.ReportedBy == "QR code" {
			found = true
		}
	}
	if !found {
		t.Fatalf("the sensor ticket has no resident's report of the code: %+v", tk.Reporters)
	}

	// Bad input: no choice; "something else" without words.
	if resp, body := post(token, url.Values{}); resp.StatusCode != 400 || !strings.Contains(body, "Choose what is wrong") {
		t.Fatalf("no choice: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := post(token, url.Values{"problem": {"other"}}); resp.StatusCode != 400 || !strings.Contains(body, "Say what is wrong") {
		t.Fatalf("other without text: %d\n%s", resp.StatusCode, body)
	}
	// The second report of the code is taken, the third refused.
	if resp, _ := post(token, url.Values{"problem": {"gas"}}); resp.StatusCode != 200 {
		t.Fatalf("second report: %d", resp.StatusCode)
	}
	resp, body = post(token, url.Values{"problem": {"gas"}})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "call the control room") {
		t.Fatalf("third report: %d %q\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	// The public place's code opens a ticket of that place.
	placeToken := strings.TrimPrefix(list.Codes[1].URL, c.Base+"/ack/q/")
	resp, body = post(placeToken, url.Values{"problem": {"leak"}, "details": {"water on the floor"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Your report is ticket") {
		t.Fatalf("report by the lobby's code: %d\n%s", resp.StatusCode, body)
	}
	var all struct{ Tickets []ticketing.Ticket }
	getJSON(t, c.Base+"/api/tickets", operatorToken, &all)
	var lobby *ticketing.Ticket
	for i := range all.Tickets {
		if all.Tickets[i].Location == "B1 lobby" {
			lobby = &all.Tickets[i]
		}
	}
	if len(all.Tickets) != 2 || lobby == nil || lobby.Building != "B1" || lobby.Source != ticketing.SourceResident || lobby.Category != "water_electric" || lobby.DeviceID != "" {
		t.Fatalf("tickets after the lobby's report: %+v", all.Tickets)
	}

	// A code moved to another place (its body changed) is refused.
	_, sig, _ := strings.Cut(token, ".")
	forged := strings.Split(placeToken, ".")[0] + "." + sig
	if resp, body := post(forged, url.Values{"problem": {"leak"}}); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not valid") {
		t.Fatalf("forged code: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := get(t, c.Base+"/ack/q/"+forged, "", ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("page of a forged code: %d", resp.StatusCode)
	}

	for series, want := range map[string]float64{
		`caretaker_qr_reports_total{outcome="merged"}`:  2,
		`caretaker_qr_reports_total{outcome="created"}`: 1,
		`caretaker_qr_reports_total{outcome="limited"}`: 1,
		`caretaker_qr_reports_total{outcome="invalid"}`: 1,
	} {
		if got := drillScrape(t, c.Base, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, secret := range []string{qrSecret, token, sig} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the log holds a secret (%.12s…)", secret)
		}
	}
}

// get is a GET with an optional bearer token and Accept-Language.
func get(t *testing.T, url, token, lang string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestQRConfig: a bad qr section is refused at start naming the key,
// never repeating the secret.
func TestQRConfig(t *testing.T) {
	const store = "store: {path: x.db, readings_path: r.db}\n"
	for _, tc := range []struct{ name, yaml, key string }{
		{"off", "", ""},
		{"on", `qr: {secret: "` + qrSecret + `", places: [{site: s1, building: B1, location: lobby}]}`, ""},
		{"short secret", `qr: {secret: "short-secret-value"}`, "qr.secret"},
		{"places without a secret", `qr: {places: [{site: s1, building: B1, location: lobby}]}`, "qr.secret"},
		{"bad public url", `qr: {secret: "` + qrSecret + `", public_url: "ftp://x"}`, "qr.public_url"},
		{"place without building", `qr: {secret: "` + qrSecret + `", places: [{site: s1, location: lobby}]}`, "qr.places[0].building"},
		{"place without location", `qr: {secret: "` + qrSecret + `", places: [{site: s1, building: B1}]}`, "qr.places[0].location"},
		{"place with a device", `qr: {secret: "` + qrSecret + `", places: [{site: s1, building: B1, location: l, device: d1}]}`, "qr.places[0].device"},
		{"bad site", `qr: {secret: "` + qrSecret + `", places: [{site: "a b", building: B1, location: l}]}`, "qr.places[0].site"},
		{"no reports", `qr: {secret: "` + qrSecret + `", reports_per_code: -1}`, "qr.reports_per_code"},
		{"unknown key", `qr: {secrets: x}`, "qr.secrets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]byte(store+tc.yaml), nil)
			var ce *ConfigError
			switch {
			case tc.key == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.key != "" && (!errors.As(err, &ce) || ce.Key != tc.key):
				t.Fatalf("error %v, want one naming %s", err, tc.key)
			case err != nil && (strings.Contains(err.Error(), qrSecret) || strings.Contains(err.Error(), "short-secret-value")):
				t.Fatalf("the error repeats the secret: %v", err)
			}
		})
	}
	if _, err := parseConfig([]byte(store), []string{"CARETAKER_QR_SECRET=short-secret-value"}); err == nil || strings.Contains(err.Error(), "short-secret-value") {
		t.Fatalf("CARETAKER_QR_SECRET too short: %v", err)
	}
}

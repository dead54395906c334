package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/sqlitedb"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// The doors of the HTTP side (docs/security.md): each test tries the
// attack against a real `caretaker serve` process over a real mosquitto.

const (
	doorsOps = "ops-d00r5-0123456789"
	doorsPM  = "pm-d00r5-0123456789a"
	doorsPat = "pat-d00r5-0123456789"
)

// doorsConfig is a caretaker over the mosquitto at broker with an
// operator token for every site (ops1), a project manager's limited to
// estate s1 (pm1, operator role, sites [s1]; also the project manager
// paged for L2), a patrol token (pat1), a gas detector in s1 and one in
// s2, paging through the log channel, and httpExtra added to the http
// section.
func doorsConfig(broker, httpExtra string, tokens ...string) func(httpAddr, dir string) string {
	if len(tokens) == 0 {
		tokens = []string{
			fmt.Sprintf("{name: ops1, role: operator, token: %s}", doorsOps),
			fmt.Sprintf("{name: pm1, role: operator, token: %s, sites: [s1]}", doorsPM),
			fmt.Sprintf("{name: pat1, role: patrol, token: %s}", doorsPat),
		}
	}
	return func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"%s}
mqtt: {broker: "tcp://%s", client_id: doors-%d}
store: {path: "%[5]s/data/caretaker.db", readings_path: "%[5]s/data/readings.db", photos_dir: "%[5]s/data/photos"}
log: {level: debug}
auth:
  tokens:
    - %[6]s
devices:
  - {id: gas-s1, kind: gas, site: s1, building: B2, location: "s1 boiler room"}
  - {id: gas-s2, kind: gas, site: s2, building: B9, location: "s2 boiler room"}
people:
  - {name: ops1, roles: [control_room]}
  - {name: pm1, roles: [project_manager]}
channels:
  - {name: screen, type: log}
notify:
  policies:
    - {level: 2, steps: [{after: 0s, to: [control_room, project_manager], via: [screen]}]}
`, httpAddr, httpExtra, broker, time.Now().UnixNano(), dir, strings.Join(tokens, "\n    - "))
	}
}

// doorsProcess runs the binary over config and waits until it is ready.
func doorsProcess(t *testing.T, config func(httpAddr, dir string) string) (caretakerDir, *testkit.Caretaker) {
	t.Helper()
	c := newCaretakerDir(t, config)
	return c, c.startProcess(t, testkit.CaretakerBinary(t))
}

// doReq sends a request with a bearer token (none if empty) and extra
// headers, and returns the status, the body and the headers.
func doReq(t *testing.T, method, u, token, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func reportAt(t *testing.T, base, site, building string) (id int64, number string) {
	t.Helper()
	status, body, _ := doReq(t, "POST", base+"/api/tickets", doorsOps, fmt.Sprintf(
		`{"source":"phone","category":"civil","level":2,"site":"%s","building":"%s","location":"gate","description":"gate bent at %s",
		"reporter":{"name":"Resident %s","phone":"+86138000%s"}}`, site, building, site, site, site[1:]))
	if status != http.StatusCreated {
		t.Fatalf("report at %s: %d %s", site, status, body)
	}
	var tk struct {
		ID     int64  `json:"id"`
		Number string `json:"number"`
	}
	mustJSON(t, []byte(body), &tk)
	return tk.ID, tk.Number
}

func photoBody(t *testing.T) (string, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("photo", "p.png")
	// The smallest PNG: the signature and an IHDR is enough to sniff.
	fw.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"))
	mw.Close()
	return mw.FormDataContentType(), &buf
}

// TestSiteScopedToken: a project manager's token limited to estate s1
// sees s1 only, filtered on the server: lists, details, KPIs and their
// CSV, devices and readings, alarms, the WebSocket snapshot and its
// events (ticket.paged included); another site's ticket, photo,
// notification list and actions are answered 403, and so is asking for
// s2 by name. The unlimited operator still sees both. The project
// manager, a person named like the token, is paged for s1's ticket only.
func TestSiteScopedToken(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct, _ := doorsProcess(t, doorsConfig(broker.Addr, ""))
	base := ct.Base

	opsWS, _, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+doorsOps, nil)
	if err != nil {
		t.Fatalf("operator websocket: %v", err)
	}
	defer opsWS.Close()
	opsEvents := readEvents(t, opsWS)
	waitEvent(t, opsEvents, "snapshot", 10*time.Second)
	pmWS, _, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+doorsPM, nil)
	if err != nil {
		t.Fatalf("pm websocket: %v", err)
	}
	defer pmWS.Close()
	// The client asks for every site: the server decides.
	if err := pmWS.WriteJSON(map[string]any{"type": "subscribe", "sites": []string{"s1", "s2"}}); err != nil {
		t.Fatal(err)
	}
	pmEvents := readEvents(t, pmWS)
	waitEvent(t, pmEvents, "snapshot", 10*time.Second)

	s2, s2Number := reportAt(t, base, "s2", "B9")
	s1, _ := reportAt(t, base, "s1", "B2")
	// Upload a photo to the s2 ticket as the operator.
	ctype, pb := photoBody(t)
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/tickets/%d/photos", base, s2), pb)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+doorsOps)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ph struct {
		ID int64 `json:"id"`
	}
	json.NewDecoder(resp.Body).Decode(&ph)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("photo upload: %s", resp.Status)
	}

	// Events: the pm's socket carries s1's ticket and its paging, never
	// s2's. Once the operator's socket has had both tickets' paging, so
	// has the pm's queue (the hub fans out under one lock): a last s1
	// ticket, at the end, closes what the pm's socket is checked for.
	pagedOf := func(id int64) string { return fmt.Sprintf(`"ticket_id":%d,`, id) }
	opsPaged := map[int64]bool{}
	for end := time.Now().Add(20 * time.Second); !opsPaged[s1] || !opsPaged[s2]; {
		ev := waitEvent(t, opsEvents, EventTicketPaged, time.Until(end))
		for _, id := range []int64{s1, s2} {
			if strings.Contains(string(ev.Data), pagedOf(id)) {
				opsPaged[id] = true
			}
		}
	}
	checkPM := func(until func(wsEvent) bool) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case ev, ok := <-pmEvents:
				if !ok {
					t.Fatal("pm websocket closed")
				}
				if strings.Contains(string(ev.Data), `"site":"s2"`) || strings.Contains(string(ev.Data), s2Number) ||
					strings.Contains(string(ev.Data), pagedOf(s2)) {
					t.Fatalf("pm's socket got an s2 event: %s %s", ev.Type, ev.Data)
				}
				if until(ev) {
					return
				}
			case <-deadline:
				t.Fatal("the pm's socket missed an s1 event")
			}
		}
	}
	checkPM(func(ev wsEvent) bool {
		return ev.Type == EventTicketPaged && strings.Contains(string(ev.Data), pagedOf(s1))
	})
	defer func() { // at the end: nothing of s2 was queued for the pm meanwhile
		last, _ := reportAt(t, base, "s1", "B3")
		checkPM(func(ev wsEvent) bool {
			return ev.Type == "ticket.created" && strings.Contains(string(ev.Data), fmt.Sprintf(`"id":%d,`, last))
		})
	}()

	// Lists and details.
	var list struct {
		Tickets []struct {
			ID   int64
			Site string
		}
	}
	getJSON(t, base+"/api/tickets", doorsPM, &list)
	if len(list.Tickets) != 1 || list.Tickets[0].ID != s1 {
		t.Fatalf("pm's ticket list %+v, want only the s1 ticket %d", list.Tickets, s1)
	}
	getJSON(t, base+"/api/tickets", doorsOps, &list)
	if len(list.Tickets) != 2 {
		t.Fatalf("operator's ticket list %+v, want both", list.Tickets)
	}
	forbidden := []struct{ method, path, body string }{
		{"GET", fmt.Sprintf("/api/tickets/%d", s2), ""},
		{"GET", fmt.Sprintf("/api/tickets/%d/notifications", s2), ""},
		{"GET", fmt.Sprintf("/api/tickets/%d/photos/%d", s2, ph.ID), ""},
		{"POST", fmt.Sprintf("/api/tickets/%d/actions", s2), `{"action":"cancel","reason":"not mine"}`},
		{"GET", "/api/tickets?site=s2", ""},
		{"GET", "/api/stats?site=s2", ""},
		{"GET", "/api/stats?site=s2&format=csv", ""},
		{"GET", "/api/devices/gas-s2", ""},
		{"GET", "/api/devices/gas-s2/readings", ""},
		{"POST", "/api/tickets", `{"source":"phone","category":"civil","site":"s2","building":"B9","location":"x","description":"y"}`},
	}
	for _, f := range forbidden {
		if status, body, _ := doReq(t, f.method, base+f.path, doorsPM, f.body); status != http.StatusForbidden {
			t.Errorf("pm %s %s: %d %s, want 403", f.method, f.path, status, body)
		}
	}
	if status, body, _ := doReq(t, "GET", fmt.Sprintf("%s/api/tickets/%d", base, s2), doorsOps, ""); status != 200 {
		t.Errorf("operator's view of the s2 ticket: %d %s", status, body)
	}
	if status, _, _ := doReq(t, "GET", fmt.Sprintf("%s/api/tickets/%d", base, s1), doorsPM, ""); status != 200 {
		t.Errorf("pm's view of the s1 ticket: %d", status)
	}
	// The s2 ticket was not cancelled by the refused action.
	var s2t struct{ Status string }
	getJSON(t, fmt.Sprintf("%s/api/tickets/%d", base, s2), doorsOps, &s2t)
	if s2t.Status == "cancelled" {
		t.Fatal("the pm cancelled an s2 ticket")
	}

	// KPIs: s1's only, in JSON and CSV.
	var st struct {
		Overall struct {
			Tickets int `json:"tickets"`
		} `json:"overall"`
	}
	getJSON(t, base+"/api/stats", doorsPM, &st)
	if st.Overall.Tickets != 1 {
		t.Errorf("pm's KPIs count %d tickets, want 1 (s1's)", st.Overall.Tickets)
	}
	if status, csv, _ := doReq(t, "GET", base+"/api/stats?format=csv", doorsPM, ""); status != 200 || strings.Contains(csv, "B9") {
		t.Errorf("pm's KPI CSV: %d, holds s2's building B9: %v", status, strings.Contains(csv, "B9"))
	}

	// Devices.
	var devs struct{ Devices []struct{ ID string } }
	getJSON(t, base+"/api/devices", doorsPM, &devs)
	if len(devs.Devices) != 1 || devs.Devices[0].ID != "gas-s1" {
		t.Errorf("pm's devices %+v, want gas-s1 only", devs.Devices)
	}

	// A fresh snapshot: s1 only.
	ws2, _, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+doorsPM, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	snap := waitEvent(t, readEvents(t, ws2), "snapshot", 10*time.Second)
	if s := string(snap.Data); strings.Contains(s, `"s2"`) || strings.Contains(s, "gas-s2") || !strings.Contains(s, "gas-s1") {
		t.Errorf("pm's snapshot shows s2 or lacks s1: %s", s)
	}
	// Paged: the project manager for s1's ticket, not for s2's.
	for _, tc := range []struct {
		id     int64
		wantPM bool
	}{{s1, true}, {s2, false}} {
		var pages struct {
			Notifications []struct {
				Recipient string `json:"recipient"`
			}
		}
		waitFor(t, 15*time.Second, "pages of the control room", func() bool {
			getJSON(t, fmt.Sprintf("%s/api/tickets/%d/notifications", base, tc.id), doorsOps, &pages)
			return len(pages.Notifications) > 0
		})
		var who []string
		for _, n := range pages.Notifications {
			who = append(who, n.Recipient)
		}
		if got := strings.Contains(strings.Join(who, ","), "pm1"); got != tc.wantPM {
			t.Errorf("ticket %d paged %v; pm1 among them: %v, want %v", tc.id, who, got, tc.wantPM)
		}
	}
	var me struct{ Sites []string }
	getJSON(t, base+"/api/me", doorsPM, &me)
	if len(me.Sites) != 1 || me.Sites[0] != "s1" {
		t.Errorf("/api/me sites %v, want [s1]", me.Sites)
	}
}

// TestServeRefusesExampleTokens: a configuration copied from
// caretaker.example.yaml with its tokens left in does not serve; the
// error names the key, never the token.
func TestServeRefusesExampleTokens(t *testing.T) {
	example, err := os.ReadFile("../../caretaker.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := strings.ReplaceAll(string(example), "data/", dir+"/")
	path := dir + "/caretaker.yaml"
	writeFile(t, path, cfg)
	var out, errb bytes.Buffer
	code := run(t.Context(), []string{"serve", "--config", path}, &out, &errb, nil)
	if code != 2 || !strings.Contains(errb.String(), "auth.tokens[0].token") || strings.Contains(errb.String(), "change-me-operator-0001") {
		t.Fatalf("exit %d, stderr %q; want 2 naming auth.tokens[0].token without the token", code, errb.String())
	}
	// Every example token is refused, wherever it sits.
	for i, tok := range []string{"change-me-operator-0001", "change-me-patrol-00001", "change-me-technician-01", "change-me-engineer-0001"} {
		if !strings.Contains(string(example), tok) {
			t.Fatalf("the example no longer holds %s: update this test", tok)
		}
		alone := fmt.Sprintf("auth: {tokens: [{name: a, role: admin, token: real-token-0123456789}, {name: x%d, role: operator, token: %s}]}\n", i, tok)
		writeFile(t, path, strings.SplitN(cfg, "auth:", 2)[0]+alone)
		errb.Reset()
		if code := run(t.Context(), []string{"serve", "--config", path}, &out, &errb, nil); code != 2 || !strings.Contains(errb.String(), "auth.tokens[1].token") {
			t.Errorf("%s: exit %d, stderr %q", tok, code, errb.String())
		}
	}
}

// TestTokenHashAndReloadOnSIGHUP: a token given as its token_sha256 lets
// its holder in; after the file is changed and the process gets SIGHUP,
// the removed token is refused and the new one accepted, without a
// restart (same pid), and the WebSocket opened with the removed token is
// closed.
func TestTokenHashAndReloadOnSIGHUP(t *testing.T) {
	broker := testserver.Mosquitto(t)
	sum := func(s string) string { d := sha256.Sum256([]byte(s)); return hex.EncodeToString(d[:]) }
	oldTok, newTok := "old-token-0123456789abc", "new-token-0123456789abc"
	ct, proc := doorsProcess(t, doorsConfig(broker.Addr, "", fmt.Sprintf("{name: ops1, role: operator, token_sha256: %s}", sum(oldTok))))
	if status, body, _ := doReq(t, "GET", ct.Base+"/api/me", oldTok, ""); status != 200 || !strings.Contains(body, "ops1") {
		t.Fatalf("token by its sha256: %d %s", status, body)
	}
	if cfg, _ := os.ReadFile(ct.Config); strings.Contains(string(cfg), oldTok) {
		t.Fatal("the configuration holds the token in clear")
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+oldTok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	oldEvents := readEvents(t, ws)
	waitEvent(t, oldEvents, "snapshot", 10*time.Second)
	pid := proc.PID()
	writeFile(t, ct.Config, doorsConfig(broker.Addr, "", fmt.Sprintf("{name: ops2, role: operator, token_sha256: %s}", sum(newTok)))(ct.Addr, ct.Dir))
	if err := sendSignal(pid, "HUP"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "new token accepted after SIGHUP", func() bool {
		status, _, _ := doReq(t, "GET", ct.Base+"/api/me", newTok, "")
		return status == 200
	})
	if status, _, _ := doReq(t, "GET", ct.Base+"/api/me", oldTok, ""); status != http.StatusUnauthorized {
		t.Fatalf("old token after SIGHUP: %d, want 401", status)
	}
	if proc.PID() != pid {
		t.Fatal("the process was restarted")
	}
	select { // the revoked token's socket is closed (readEvents closes the channel)
	case <-drain(oldEvents):
	case <-time.After(15 * time.Second):
		t.Fatal("the websocket of the removed token is still open")
	}
	// A broken file changes nothing.
	writeFile(t, ct.Config, "auth: {tokens: [{name: x, role: nobody, token: whatever-whatever}]}\n")
	if err := sendSignal(pid, "HUP"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the refused reload logged", func() bool {
		return strings.Contains(testkit.FileTail(ct.Dir+"/caretaker.log", 20000), "tokens not reloaded")
	})
	if status, _, _ := doReq(t, "GET", ct.Base+"/api/me", newTok, ""); status != 200 {
		t.Fatalf("after a bad reload the token in force: %d, want 200", status)
	}
}

// TestFailedAuthenticationRateLimited: wrong tokens from one address are
// answered 401 ten times, then 429 with Retry-After, even for a right
// token from there; each is logged at warn with the address, never with
// the token.
func TestFailedAuthenticationRateLimited(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct, _ := doorsProcess(t, doorsConfig(broker.Addr, ""))
	wrong := "wrong-token-7f3a9c1e5b0d"
	var statuses []int
	var retry string
	for i := 0; i < 30; i++ {
		status, _, h := doReq(t, "GET", ct.Base+"/api/tickets", wrong, "")
		statuses = append(statuses, status)
		if status == http.StatusTooManyRequests {
			retry = h.Get("Retry-After")
			break
		}
	}
	if n := len(statuses); n != 11 || statuses[n-1] != http.StatusTooManyRequests || retry == "" {
		t.Fatalf("answers to wrong tokens %v (Retry-After %q), want 10×401 then 429 with Retry-After", statuses, retry)
	}
	if status, _, _ := doReq(t, "GET", ct.Base+"/api/tickets", doorsOps, ""); status != http.StatusTooManyRequests {
		t.Fatalf("right token from the blocked address: %d, want 429", status)
	}
	if bad, blocked := drillScrape(t, ct.Base, `caretaker_http_refused_total{reason="bad_token"}`),
		drillScrape(t, ct.Base, `caretaker_http_refused_total{reason="auth_blocked"}`); bad != 10 || blocked != 2 {
		t.Errorf("counted %v wrong tokens and %v blocked requests, want 10 and 2", bad, blocked)
	}
	log := testkit.FileTail(ct.Dir+"/caretaker.log", 200000)
	if !strings.Contains(log, "level=WARN") || !strings.Contains(log, "authentication failed") || !strings.Contains(log, "remote=127.0.0.1") {
		t.Errorf("no warning with the address in the log:\n%s", testkit.Tail(log, 3000))
	}
	if strings.Contains(log, wrong) || strings.Contains(log, doorsOps) {
		t.Error("a token is in the log")
	}
}

// sendSignal sends SIGHUP ("HUP") or SIGTERM ("TERM") to pid.
func sendSignal(pid int, sig string) error {
	s := map[string]syscall.Signal{"HUP": syscall.SIGHUP, "TERM": syscall.SIGTERM}[sig]
	return syscall.Kill(pid, s)
}

// TestSlowBodiesAreCut: connections that drip a request body byte by
// byte, with a token and without, are cut once http.read_timeout has
// passed, while a WebSocket opened before them lives on past it and
// still gets events.
func TestSlowBodiesAreCut(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct, _ := doorsProcess(t, doorsConfig(broker.Addr, ", read_timeout: 2s"))
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+doorsOps, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	events := readEvents(t, ws)
	waitEvent(t, events, "snapshot", 10*time.Second)

	type drip struct {
		conn net.Conn
		cut  chan struct{}
	}
	var drips []drip
	for i, auth := range []string{"", "Authorization: Bearer " + doorsOps + "\r\n"} {
		c, err := net.Dial("tcp", ct.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /api/tickets HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", ct.Addr, auth)
		d := drip{conn: c, cut: make(chan struct{})}
		go func() { // the server's side closing shows as EOF here
			defer close(d.cut)
			_, _ = io.Copy(io.Discard, c)
		}()
		go func() { // one byte every 200 ms, never the whole body
			for {
				select {
				case <-d.cut:
					return
				case <-time.After(200 * time.Millisecond):
				}
				if _, err := c.Write([]byte(" ")); err != nil {
					return
				}
			}
		}()
		drips = append(drips, d)
		_ = i
	}
	for i, d := range drips {
		select {
		case <-d.cut:
		case <-time.After(30 * time.Second):
			t.Fatalf("dripping connection %d still open after 30 s (read_timeout 2s)", i)
		}
	}
	// The WebSocket outlived the read timeout and still works.
	reportAt(t, ct.Base, "s1", "B2")
	waitEvent(t, events, "ticket.created", 10*time.Second)
}

// TestWebSocketCapPerToken: one token opens its 300 WebSockets; the
// 301st is refused with 429 and a clear error, while another token still
// gets one.
func TestWebSocketCapPerToken(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct, _ := doorsProcess(t, doorsConfig(broker.Addr, ""))
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 300; i++ {
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+doorsPat, nil)
		if err != nil {
			t.Fatalf("websocket %d: %v (%v)", i+1, err, resp)
		}
		conns = append(conns, c)
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+doorsPat, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("301st websocket of one token: %v %v, want 429", err, resp)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "too many WebSockets for this token") {
		t.Errorf("refusal %s", b)
	}
	other, _, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+doorsOps, nil)
	if err != nil {
		t.Fatalf("another token's websocket: %v", err)
	}
	other.Close()
	// One closed: the token may open one again.
	conns[0].Close()
	waitFor(t, 10*time.Second, "a place free again", func() bool {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+ct.Addr+"/ws?token="+doorsPat, nil)
		if err == nil {
			conns[0] = c
		}
		return err == nil
	})
}

// TestHostHeaderChecked: a page of another name rebound to this server's
// address (DNS rebinding) sends its own Host and reads nothing, not even
// /metrics, /healthz or /readyz; the configured name, localhost and the
// address itself do. Every answer carries the narrow CSP.
func TestHostHeaderChecked(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct, _ := doorsProcess(t, doorsConfig(broker.Addr, ", hosts: [ops.example.com]"))
	_, port, _ := net.SplitHostPort(ct.Addr)
	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/api/me", "/", "/ws"} {
		for _, host := range []string{"rebind.attacker.example:" + port, "rebind.attacker.example", "ops.example.com.evil.example"} {
			if status, body, _ := doReq(t, "GET", ct.Base+path, doorsOps, "", "Host", host); status != http.StatusForbidden {
				t.Errorf("GET %s with Host %s: %d %s, want 403", path, host, status, testkit.Tail(body, 200))
			}
		}
		for _, host := range []string{"ops.example.com:" + port, "OPS.example.com", "localhost:" + port, ct.Addr, "[::1]:" + port} {
			if status, body, _ := doReq(t, "GET", ct.Base+path, doorsOps, "", "Host", host); status == http.StatusForbidden && path != "/ws" {
				t.Errorf("GET %s with Host %s: %d %s", path, host, status, testkit.Tail(body, 200))
			}
		}
	}
	_, _, h := doReq(t, "GET", ct.Base+"/", "", "")
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"connect-src 'self' ws://" + ct.Addr + ";", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, " ws: ") || strings.Contains(csp, "wss:;") {
		t.Errorf("CSP %q allows WebSockets to any host", csp)
	}
}

// TestHTTPSOnly: with http.tls the dashboard speaks HTTPS (API and wss)
// with the configured certificate, and plain HTTP gets no data; a
// certificate that cannot be read stops serve at start (exit 2).
func TestHTTPSOnly(t *testing.T) {
	broker := testserver.Mosquitto(t)
	certDir := t.TempDir()
	caFile, certFile, keyFile := testserver.TestCertificates(t, certDir, "127.0.0.1")
	bad := newCaretakerDir(t, doorsConfig(broker.Addr, fmt.Sprintf(`, tls: {cert: "%s/missing.pem", key: "%s"}`, certDir, keyFile)))
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"serve", "--config", bad.Config}, &out, &errb, nil); code != 2 || !strings.Contains(errb.String(), "tls") {
		t.Fatalf("unreadable certificate: exit %d, stderr %q; want 2 naming tls", code, errb.String())
	}
	c := newCaretakerDir(t, doorsConfig(broker.Addr, fmt.Sprintf(`, tls: {cert: "%s", key: "%s"}`, certFile, keyFile)))
	proc := testkit.NewCaretaker(t, testkit.CaretakerBinary(t), c.Config, c.Dir+"/caretaker.log")
	proc.Start()
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tlsCfg := &tls.Config{RootCAs: pool}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}, Timeout: 5 * time.Second}
	base := "https://" + c.Addr
	waitFor(t, 30*time.Second, "https /readyz 200", func() bool {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	req, _ := http.NewRequest("GET", base+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+doorsOps)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("https /api/me: %v %v", err, resp)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "wss://"+c.Addr) || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("https headers: CSP %q, HSTS %q", resp.Header.Get("Content-Security-Policy"), resp.Header.Get("Strict-Transport-Security"))
	}
	resp.Body.Close()
	d := websocket.Dialer{TLSClientConfig: tlsCfg}
	ws, _, err := d.Dial("wss://"+c.Addr+"/ws?token="+doorsOps, nil)
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	waitEvent(t, readEvents(t, ws), "snapshot", 10*time.Second)
	ws.Close()
	// Plain HTTP: no answer with data.
	if resp, err := http.Get("http://" + c.Addr + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 || strings.Contains(string(b), "go_goroutines") {
			t.Fatalf("plain http /metrics: %d %s", resp.StatusCode, testkit.Tail(string(b), 200))
		}
	}
}

// TestDataAtRestPrivate: every file the process keeps under its data
// folder (ticket store, rule store, readings, photos, their WALs) is its
// owner's only, in folders of the owner's only, and the verification
// code the operator was given is nowhere in them.
func TestDataAtRestPrivate(t *testing.T) {
	broker := testserver.Mosquitto(t)
	ct, _ := doorsProcess(t, doorsConfig(broker.Addr, ""))
	status, body, _ := doReq(t, "POST", ct.Base+"/api/tickets", doorsOps, `{"source":"phone","category":"water_electric","site":"s1","building":"B3",
		"scope":"in_home","unit":"2","floor":"12","room":"1201","location":"kitchen","description":"tap drips","reporter":{"name":"Wang","phone":"+8613900000001"}}`)
	if status != http.StatusCreated {
		t.Fatalf("in-home report: %d %s", status, body)
	}
	var tk struct {
		ID   int64  `json:"id"`
		Code string `json:"verification_code"`
	}
	mustJSON(t, []byte(body), &tk)
	if len(tk.Code) != 6 {
		t.Fatalf("no code in the answer: %s", body)
	}
	ctype, pb := photoBody(t)
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/tickets/%d/photos", ct.Base, tk.ID), pb)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+doorsOps)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("photo: %v %v", err, resp)
	}
	data := ct.Dir + "/data"
	var files int
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", strings.TrimPrefix(p, ct.Dir), st.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("only %d files under %s", files, data)
	}
	db, err := sqlitedb.Open(t.Context(), data+"/caretaker.db", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stored string
	if err := db.QueryRow("SELECT verification_code FROM tickets WHERE id = ?", tk.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored == "" || strings.Contains(stored, tk.Code) {
		t.Fatalf("the store holds the code as %q", stored)
	}
}

// drain reads ch until it is closed, then closes the channel it returns.
func drain(ch <-chan wsEvent) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for range ch {
		}
		close(done)
	}()
	return done
}

// TestServedHosts: the names the dashboard answers to are http.hosts,
// the host of the ack links, and the machine's name when it listens on
// every address; never an IP (those always pass) nor a name the Host
// check could not hold.
func TestServedHosts(t *testing.T) {
	name, _ := os.Hostname()
	tests := []struct {
		listen, base string
		hosts        []string
		want         []string
	}{
		{"127.0.0.1:8080", "", nil, nil},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", []string{"ops.example.com"}, []string{"ops.example.com"}},
		{"127.0.0.1:8080", "https://ack.example.com/caretaker", nil, []string{"ack.example.com"}},
		{"0.0.0.0:8080", "", nil, []string{name}},
		{":8080", "http://bad_name:8080", nil, []string{name}},
	}
	for _, tc := range tests {
		got := servedHosts(HTTPConfig{Listen: tc.listen, Hosts: tc.hosts}, tc.base)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("listen %s base %q hosts %v: %v, want %v", tc.listen, tc.base, tc.hosts, got, tc.want)
		}
	}
}

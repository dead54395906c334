package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/notify"
	"github.com/caretaker-iot/caretaker/ticketing"
)

const ackSecret = "ack-secret-0123456789abcdef0123456789"

// ackPagingConfig is pagingConfig with ack links on (public_url empty:
// derived from http.listen), a second step 3 s after the first, and a
// second device for a control ticket.
func ackPagingConfig(httpAddr, brokerAddr, clientID, dir, hookURL string) string {
	c := "log: {level: debug}\n" + pagingConfig(httpAddr, brokerAddr, clientID, dir, hookURL)
	c = strings.Replace(c, "notify:\n", "notify:\n  ack_secret: \""+ackSecret+"\"\n  ack_ttl: 10m\n", 1)
	c = strings.Replace(c, "{after: 1h, to: [desk], via: [hook]}", "{after: 3s, to: [desk], via: [hook]}", 1)
	c = strings.Replace(c, "devices:\n", "devices:\n  - {id: gas-b9-01, kind: gas, site: s1, building: B9, location: \"B9 kitchen\"}\n", 1)
	return c
}

// ackCall returns the ack_url of the first page of ticket number to
// person, once the receiver has it.
func ackURLOf(t *testing.T, recv *hookReceiver, number, person string) string {
	t.Helper()
	var u string
	waitFor(t, 20*time.Second, "the page to "+person+" with its ack_url", func() bool {
		for _, c := range recv.snapshot() {
			if c.Body.Ticket.Number == number && c.Body.Recipient.Name == person && c.Body.AckURL != "" {
				u = c.Body.AckURL
				return true
			}
		}
		return false
	})
	return u
}

func httpDo(t *testing.T, method, u, bearer string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, u, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitTicketCount(t *testing.T, base string, n int) []ticketing.Ticket {
	t.Helper()
	var list struct{ Tickets []ticketing.Ticket }
	waitFor(t, 15*time.Second, fmt.Sprintf("%d tickets", n), func() bool {
		getJSON(t, base+"/api/tickets", operatorToken, &list)
		return len(list.Tickets) == n
	})
	return list.Tickets
}

// TestAckLinkAcknowledgesThatTicketOnly: a real caretaker pages tech1
// through a webhook on a real receiver; the page's ack_url (under
// http.listen, public_url being empty) shows the ticket, and its POST
// acknowledges it, in the history as tech1 via the link; the token opens
// no API, cannot act on another ticket, and a changed or expired link is
// refused. The acknowledged ticket's second step never fires, while a
// control ticket opened after the acknowledgement gets its own.
func TestAckLinkAcknowledgesThatTicketOnly(t *testing.T) {
	broker := testserver.Mosquitto(t)
	recv := &hookReceiver{}
	hookURL := receiverURL(t, recv)
	ct, logs := serveConfig(t, func(httpAddr, dir string) string {
		return ackPagingConfig(httpAddr, broker.Addr, "caretaker-ack", dir, hookURL)
	})
	var token string
	base := ct.Base

	publishGasL1(t, broker.Addr)
	tk := waitTicketCount(t, base, 1)[0]
	defer func() {
		// The link's token is a credential: never in the log, at debug
		// level either (requests are logged there).
		sig := token[strings.LastIndexByte(token, '.')+1:]
		if out := logs.String(); strings.Contains(out, sig) || !strings.Contains(out, "/ack/…") {
			t.Errorf("the log shows an ack token, or no ack request at all:\n%s", testkit.Tail(out, 4000))
		}
	}()
	link := ackURLOf(t, recv, tk.Number, "tech1")
	if !strings.HasPrefix(link, base+"/ack/") {
		t.Fatalf("ack_url %q, want under %s/ack/ (derived from http.listen)", link, base)
	}
	token, _ = url.PathUnescape(strings.TrimPrefix(link, base+"/ack/"))
	// The listing shows no link: only its recipient may use it.
	for _, n := range ticketNotifications(t, base, tk.ID) {
		if strings.Contains(n.Subject, "/ack/") {
			t.Errorf("notification %s lists the ack link", n.ID)
		}
	}

	// Opening it shows the ticket in tech1's language, and changes nothing.
	code, page := httpDo(t, http.MethodGet, link, "", nil)
	if code != http.StatusOK || !strings.Contains(page, tk.Number) || !strings.Contains(page, "B2 boiler room") ||
		!strings.Contains(page, "L1 emergency") || !strings.Contains(page, `id="ack-button"`) || !strings.Contains(page, `lang="en"`) {
		t.Fatalf("GET ack link: %d\n%s", code, page)
	}
	if h := getTicket(t, base, tk.ID).History; hasAction(h, "acknowledged") {
		t.Fatal("opening the link acknowledged the ticket")
	}

	// The token is no API credential.
	other := signer(t, time.Now).Sign(tk.ID+1, "tech1")
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/tickets"},
		{http.MethodGet, fmt.Sprintf("/api/tickets/%d", tk.ID)},
		{http.MethodGet, fmt.Sprintf("/api/tickets/%d/notifications", tk.ID)},
		{http.MethodPost, fmt.Sprintf("/api/tickets/%d/actions", tk.ID)},
		{http.MethodGet, "/api/alarms"},
		{http.MethodGet, "/ws?token=" + url.QueryEscape(token)},
	} {
		if code, _ := httpDo(t, c.method, base+c.path, token, nil); code != http.StatusUnauthorized {
			t.Errorf("%s %s with the ack token: %d, want 401", c.method, c.path, code)
		}
	}
	// Changed or expired links are refused, with a page that says so.
	body, sig, _ := strings.Cut(token, ".")
	tampered := []string{
		body + "." + flip(sig),
		flip(body) + "." + sig,
		strings.SplitN(other, ".", 2)[0] + "." + sig, // another ticket under this signature
		"",
	}
	for _, tok := range tampered {
		code, page := httpDo(t, http.MethodPost, base+"/ack", "", url.Values{"token": {tok}})
		if code != http.StatusForbidden || !strings.Contains(page, "not valid") {
			t.Errorf("POST /ack with %q: %d %s, want 403 not valid", tok, code, page)
		}
	}
	// The refusal speaks the browser's language.
	req, _ := http.NewRequest(http.MethodGet, base+"/ack/"+tampered[0], nil)
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "链接无效") {
			t.Errorf("refused link in Chinese: %d %s", resp.StatusCode, b)
		}
	}
	expired := signer(t, func() time.Time { return time.Now().Add(-time.Hour) }).Sign(tk.ID, "tech1")
	if code, page := httpDo(t, http.MethodGet, base+"/ack/"+expired, "", nil); code != http.StatusGone || !strings.Contains(page, "expired") {
		t.Errorf("expired link: %d %s, want 410 expired", code, page)
	}
	if code, _ := httpDo(t, http.MethodPost, base+"/ack", "", url.Values{"token": {expired}}); code != http.StatusGone {
		t.Errorf("POST expired link: %d, want 410", code)
	}
	// A GET on /ack with the token in the query acknowledges nothing.
	if code, _ := httpDo(t, http.MethodGet, base+"/ack?token="+url.QueryEscape(token), "", nil); code == http.StatusOK {
		if hasAction(getTicket(t, base, tk.ID).History, "acknowledged") {
			t.Fatal("a GET acknowledged the ticket")
		}
	}

	// Acknowledge: the POST with the token in the body.
	code, page = httpDo(t, http.MethodPost, base+"/ack", "", url.Values{"token": {token}, "ticket": {fmt.Sprint(tk.ID + 1)}})
	if code != http.StatusOK || !strings.Contains(page, `id="ack-done"`) || strings.Contains(page, `id="ack-button"`) {
		t.Fatalf("POST /ack: %d\n%s", code, page)
	}
	full := getTicket(t, base, tk.ID)
	var row *ticketing.HistoryEntry
	for i, h := range full.History {
		if h.Action == "acknowledged" {
			row = &full.History[i]
		}
	}
	if row == nil || row.Actor != "tech1" || row.Role != ticketing.RoleAckLink || !strings.Contains(row.Note, "link") {
		t.Fatalf("history %+v: want acknowledged by tech1 via the link", full.History)
	}
	if code, page := httpDo(t, http.MethodGet, link, "", nil); code != http.StatusOK || !strings.Contains(page, "acknowledged already") {
		t.Errorf("the link after acknowledging: %d %s", code, page)
	}

	// The control ticket, opened after the acknowledgement: its second
	// step fires; the acknowledged ticket's, due before it, never does.
	publish(t, broker.Addr, "sites/s1/devices/gas-b9-01/telemetry",
		fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 35.5, "co_ppm": 3, "fault": false}}`, time.Now().UnixMilli()))
	var ctl ticketing.Ticket
	for _, x := range waitTicketCount(t, base, 2) {
		if x.ID != tk.ID {
			ctl = x
		}
	}
	waitFor(t, 30*time.Second, "the control ticket's second step", func() bool {
		for _, n := range ticketNotifications(t, base, ctl.ID) {
			if n.Step == "2" && n.State == "sent" {
				return true
			}
		}
		return false
	})
	for _, n := range ticketNotifications(t, base, tk.ID) {
		if n.Step != "1" {
			t.Errorf("acknowledged ticket paged step %s to %s", n.Step, n.Recipient)
		}
	}
	// The control ticket is not acknowledged by tech1's link.
	if hasAction(getTicket(t, base, ctl.ID).History, "acknowledged") {
		t.Error("the control ticket was acknowledged")
	}
}

func signer(t *testing.T, now func() time.Time) *notify.AckSigner {
	t.Helper()
	s, err := notify.NewAckSigner(ackSecret, 10*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// flip changes the first character of s to another base64url one.
func flip(s string) string {
	if s == "" {
		return "A"
	}
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

func hasAction(h []ticketing.HistoryEntry, action string) bool {
	for _, e := range h {
		if e.Action == action {
			return true
		}
	}
	return false
}

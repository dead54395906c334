package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/notify"
	"github.com/caretaker-iot/caretaker/ticketing"
)

var (
	reporterLinkRE = regexp.MustCompile(`https?://\S+/ack/r/([A-Za-z0-9_.-]+)`)
	ackLinkRE      = regexp.MustCompile(`https?://\S+/ack/([A-Za-z0-9_.-]+)`)
)

// reporterConfig is a caretaker that tells reporters (and pages the
// technician on duty) by SMS through the gateway at smsURL, with ack
// links on.
func reporterConfig(httpAddr, brokerAddr, dir, smsURL string) string {
	c := smsPagingConfig(httpAddr, brokerAddr, "caretaker-reporter-link", dir, smsURL)
	return strings.Replace(c, "notify:\n", "notify:\n  ack_secret: \""+ackSecret+"\"\n", 1)
}

func fileReport(t *testing.T, base string, body map[string]any) ticketing.Ticket {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, base+"/api/tickets", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tk ticketing.Ticket
	_ = json.NewDecoder(resp.Body).Decode(&tk)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("report: %s %+v", resp.Status, tk)
	}
	return tk
}

// postLink sends the form of a reporter's link page.
func postLink(t *testing.T, base string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(base+"/ack/r", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReporterConfirmsByLink: on a real caretaker with an SMS gateway
// receiver, the owner's "work done" SMS carries a short-lived signed link;
// POSTing confirm with a score through it closes the ticket as confirmed
// with the callback score, recorded in the history as the reporter via
// the link. A changed, expired, other-ticket or other-kind token is
// refused and changes nothing; the link is no API token and shows in no
// listing.
func TestReporterConfirmsByLink(t *testing.T) {
	broker := testserver.Mosquitto(t)
	gw := &smsGateway{}
	srvURL := receiverURL(t, gw)
	ct, _ := serveConfig(t, func(httpAddr, dir string) string {
		return reporterConfig(httpAddr, broker.Addr, dir, srvURL)
	})
	base := ct.Base
	smsTo := func(phone string) []smsMessage {
		var out []smsMessage
		for _, m := range gw.snapshot() {
			if m.Phone == phone {
				out = append(out, m)
			}
		}
		return out
	}

	tk := fileReport(t, base, map[string]any{"source": "phone", "category": "water_electric",
		"site": "s1", "building": "B3", "scope": "in_home", "unit": "2", "floor": "12", "room": "1201", "location": "kitchen",
		"description": "tap drips", "reporter": map[string]string{"name": "Wang", "phone": ownerPhone}})
	// Another report, still open: its ticket must stay out of reach of
	// the first one's link.
	other := fileReport(t, base, map[string]any{"source": "phone", "category": "water_electric",
		"site": "s1", "building": "B7", "scope": "public", "location": "B7 lobby",
		"description": "lobby light out", "reporter": map[string]string{"name": "Zhao", "phone": "+8613900000077"}})
	waitFor(t, 15*time.Second, "the owner's code", func() bool { return len(smsTo(ownerPhone)) == 1 })
	actAs(t, base, techToken, tk.ID, map[string]any{"action": "claim"})
	actAs(t, base, techToken, tk.ID, map[string]any{"action": "arrive", "code": tk.VerificationCode})
	actAs(t, base, techToken, tk.ID, map[string]any{"action": "resolve", "note": "new washer",
		"parts": []map[string]any{{"name": "washer", "qty": 2}}, "paid": true, "fee_cents": 3500})
	waitFor(t, 15*time.Second, "the owner told the work is done", func() bool { return len(smsTo(ownerPhone)) == 3 })

	for i, m := range smsTo(ownerPhone)[:2] {
		if strings.Contains(m.Text, "/ack/") {
			t.Errorf("owner's SMS %d carries a link: %s", i+1, m.Text)
		}
	}
	done := smsTo(ownerPhone)[2]
	t.Logf("to the owner: %s", done.Text)
	m := reporterLinkRE.FindStringSubmatch(done.Text)
	if m == nil || !strings.Contains(done.Text, "已处理完毕") || !strings.HasPrefix(m[0], base+"/ack/r/") {
		t.Fatalf("the owner's resolved SMS carries no link under %s: %q", base, done.Text)
	}
	link, token := m[0], m[1]

	// The link opens the form; looking changes nothing.
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), tk.Number) || !strings.Contains(string(page), `value="confirm"`) {
		t.Fatalf("GET link: %s\n%s", resp.Status, page)
	}
	// It shows what the owner accepts with the work: the parts and the fee.
	if !strings.Contains(string(page), "<li>washer × 2</li>") || !strings.Contains(string(page), `<dd id="rl-fee">¥35.00</dd>`) || !strings.Contains(string(page), `id="rl-terms"`) {
		t.Errorf("the link page does not show the parts and the fee:\n%s", page)
	}

	history := func(id int64) ticketing.Ticket {
		var got ticketing.Ticket
		getJSON(t, fmt.Sprintf("%s/api/tickets/%d", base, id), operatorToken, &got)
		return got
	}
	before, beforeOther := history(tk.ID), history(other.ID)
	if before.Status != ticketing.StatusResolved {
		t.Fatalf("ticket %s, want resolved", before.Status)
	}

	// Refused tokens.
	body, sig, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(string(raw), fmt.Sprintf(`"t":%d`, tk.ID), fmt.Sprintf(`"t":%d`, other.ID), 1)
	tampered := base64.RawURLEncoding.EncodeToString([]byte(moved)) + "." + sig
	past, err := notify.NewReporterSigner(ackSecret, time.Hour, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	now, _ := notify.NewReporterSigner(ackSecret, time.Hour, nil)
	var techAck string
	for _, s := range smsTo(techPhone) {
		if am := ackLinkRE.FindStringSubmatch(s.Text); am != nil && !strings.Contains(am[0], "/ack/r/") {
			techAck = am[1]
		}
	}
	if techAck == "" {
		t.Fatalf("tech1's page carries no ack link: %+v", smsTo(techPhone))
	}
	for _, c := range []struct {
		name, token string
		status      int
	}{
		{"changed to another ticket", tampered, http.StatusForbidden},
		{"expired", past.Sign(tk.ID, notify.ReporterPerson), http.StatusGone},
		{"the other ticket's own link", now.Sign(other.ID, notify.ReporterPerson), http.StatusConflict},
		{"a technician's ack link", techAck, http.StatusForbidden},
		{"signed for a person, not the reporter", now.Sign(tk.ID, "tech1"), http.StatusForbidden},
		{"no token", "", http.StatusForbidden},
	} {
		st, page := postLink(t, base, url.Values{"token": {c.token}, "action": {"confirm"}, "score": {"5"}})
		if st != c.status || strings.Contains(page, "rl-form") || strings.Contains(page, "rl-done") {
			t.Errorf("%s: %d, want %d:\n%s", c.name, st, c.status, page)
		}
	}
	if st, _ := postLink(t, base, url.Values{"token": {token}, "action": {"reopen"}}); st != http.StatusBadRequest {
		t.Errorf("another action through the link: %d, want 400", st)
	}
	if st, page := postLink(t, base, url.Values{"token": {token}, "action": {"dispute"}}); st != http.StatusBadRequest || !strings.Contains(page, "rl-error") {
		t.Errorf("dispute without a reason: %d, want 400 with the form again", st)
	}
	// The pager's own rows (page_sent once the SMS gateway has answered)
	// may still land meanwhile: they are not the link's doing.
	steps := func(tk ticketing.Ticket) int {
		n := 0
		for _, h := range tk.History {
			if !strings.HasPrefix(h.Action, "page_") {
				n++
			}
		}
		return n
	}
	if a, b := history(tk.ID), history(other.ID); a.Status != before.Status || steps(a) != steps(before) ||
		b.Status != beforeOther.Status || steps(b) != steps(beforeOther) {
		t.Fatalf("a refused link changed a ticket: %s %d (before %d) / %s %d (before %d)", a.Status, steps(a), steps(before),
			b.Status, steps(b), steps(beforeOther))
	}

	// The link is no API token.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/tickets", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the link's token on the API: %v %v", resp.Status, err)
	} else {
		resp.Body.Close()
	}

	// Confirm with a score and a note.
	st, page2 := postLink(t, base, url.Values{"token": {token}, "action": {"confirm"}, "score": {"5"}, "note": {"all dry now"}})
	if st != http.StatusOK || !strings.Contains(page2, `id="rl-done"`) {
		t.Fatalf("confirm: %d\n%s", st, page2)
	}
	got := history(tk.ID)
	if got.Status != ticketing.StatusClosed || got.Outcome != ticketing.OutcomeConfirmed || got.Score == nil || *got.Score != 5 {
		t.Fatalf("after confirming: %s %s score %v", got.Status, got.Outcome, got.Score)
	}
	added := got.History[len(before.History):]
	var acts []string
	for _, h := range added {
		acts = append(acts, h.Action)
		if h.Actor != "Wang" || h.Role != ticketing.RoleReporterLink || !strings.Contains(h.Note, "reporter's link") {
			t.Errorf("history %+v: want by the reporter Wang via the link", h)
		}
	}
	if strings.Join(acts, ",") != "confirm,callback" || !strings.Contains(added[len(added)-1].Note, "all dry now") {
		t.Errorf("history added %+v", added)
	}

	// Again: settled, nothing changes.
	st, page3 := postLink(t, base, url.Values{"token": {token}, "action": {"dispute"}, "reason": {"changed my mind"}})
	if st != http.StatusOK || strings.Contains(page3, "rl-form") || len(history(tk.ID).History) != len(got.History) {
		t.Errorf("second verdict: %d, history %d -> %d\n%s", st, len(got.History), len(history(tk.ID).History), page3)
	}

	// The link shows in no listing.
	var list struct {
		Notifications []json.RawMessage `json:"notifications"`
	}
	getJSON(t, fmt.Sprintf("%s/api/tickets/%d/notifications", base, tk.ID), operatorToken, &list)
	for _, n := range list.Notifications {
		if strings.Contains(string(n), "/ack/r/") || strings.Contains(string(n), token) {
			t.Errorf("the notifications API shows the reporter's link: %s", n)
		}
	}
	for _, h := range history(tk.ID).History {
		if strings.Contains(h.Note, token) {
			t.Errorf("the history shows the reporter's link: %+v", h)
		}
	}
}

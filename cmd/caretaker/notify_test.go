package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/notify"
	"github.com/caretaker-iot/caretaker/ticketing"
)

const hookSecret = "hook-secret-0123456789"

// hookCall is one request the webhook receiver got.
type hookCall struct {
	ID, Signature string
	ValidSig      bool
	Body          notify.WebhookBody
	Answer        int
}

// hookReceiver is a real HTTP receiver of webhook pages: it answers 503
// to the first failFirst attempts of each delivery id, then 200, and
// keeps every call.
type hookReceiver struct {
	mu        sync.Mutex
	calls     []hookCall
	tries     map[string]int
	failFirst int
	down      bool // answer 503 to everything while set
}

// setDown makes the receiver refuse every page (503) or take them again.
func (h *hookReceiver) setDown(down bool) {
	h.mu.Lock()
	h.down = down
	h.mu.Unlock()
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	c := hookCall{ID: r.Header.Get(notify.HeaderDelivery), Signature: r.Header.Get(notify.HeaderSignature)}
	c.ValidSig = c.Signature == notify.Sign([]byte(hookSecret), raw)
	_ = json.Unmarshal(raw, &c.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.tries == nil {
		h.tries = map[string]int{}
	}
	h.tries[c.ID]++
	c.Answer = http.StatusOK
	if h.tries[c.ID] <= h.failFirst || h.down {
		c.Answer = http.StatusServiceUnavailable
	}
	h.calls = append(h.calls, c)
	w.WriteHeader(c.Answer)
	fmt.Fprintf(w, `{"answer": %d}`, c.Answer)
}

func (h *hookReceiver) snapshot() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

// delivered counts the 200 answers per delivery id.
func delivered(calls []hookCall) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		if c.Answer == http.StatusOK {
			out[c.ID]++
		}
	}
	return out
}

// pagingConfig is a caretaker configuration that pages tech1 (on duty by
// the roster) and desk (control room) through the webhook at hookURL on
// every L1 ticket, retrying quickly.
func pagingConfig(httpAddr, brokerAddr, clientID, dir, hookURL string) string {
	return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: %s, qos: 1}
store: {path: "%[4]s/caretaker.db", readings_path: "%[4]s/readings.db", photos_dir: "%[4]s/photos"}
influx: {spool_dir: "%[4]s/spool"}
auth:
  tokens:
    - {name: ops1, role: operator, token: %[5]s}
devices:
  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room"}
people:
  - {name: tech1, phone: "+8613800000001", lang: en}
  - {name: desk, email: "desk@example.com", roles: [control_room]}
rosters:
  - {people: [tech1], shifts: ["mon-sun 00:00-24:00"]}
channels:
  - {name: hook, type: webhook, url: "%[6]s/hook", secret: "%[7]s", timeout: 2s}
notify:
  retry_min: 100ms
  retry_max: 300ms
  policies:
    - level: 1
      steps:
        - {after: 0s, to: [on_duty, control_room], via: [hook]}
        - {after: 1h, to: [desk], via: [hook]}
`, httpAddr, brokerAddr, clientID, dir, operatorToken, hookURL, hookSecret)
}

type apiNotification struct {
	ID         string `json:"id"`
	Step       string `json:"step"`
	Recipient  string `json:"recipient"`
	Channel    string `json:"channel"`
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
	LastStatus int    `json:"last_status"`
	Subject    string `json:"subject"`
}

func ticketNotifications(t *testing.T, base string, id int64) []apiNotification {
	t.Helper()
	var out struct {
		Notifications []apiNotification `json:"notifications"`
	}
	getJSON(t, fmt.Sprintf("%s/api/tickets/%d/notifications", base, id), operatorToken, &out)
	return out.Notifications
}

// waitPagesSent waits (30 s at most) until n of ticket id's
// notifications are sent, and returns them all.
func waitPagesSent(t *testing.T, base string, id int64, n int, what string) []apiNotification {
	t.Helper()
	var got []apiNotification
	waitFor(t, 30*time.Second, what, func() bool {
		got = ticketNotifications(t, base, id)
		sent := 0
		for _, x := range got {
			if x.State == "sent" {
				sent++
			}
		}
		return sent == n
	})
	return got
}

// TestL1AlarmPagesEachRecipientOnce: an L1 gas reading over a real
// mosquitto opens a ticket whose first policy step pages tech1 and desk
// through a webhook on a real HTTP receiver that answers 503 three times
// per page before 200: each person gets exactly one delivered page, every
// try of it signed and with the same X-Caretaker-Delivery id, and the
// notifications API and the ticket's history show them sent.
func TestL1AlarmPagesEachRecipientOnce(t *testing.T) {
	broker := testserver.Mosquitto(t)
	recv := &hookReceiver{failFirst: 3}
	hookURL := receiverURL(t, recv)
	ct, _ := serveConfig(t, func(httpAddr, dir string) string {
		return pagingConfig(httpAddr, broker.Addr, "caretaker-page", dir, hookURL)
	})
	base := ct.Base

	publishGasL1(t, broker.Addr)

	tk := waitOneTicket(t, base, "the L1 ticket")
	got := waitPagesSent(t, base, tk.ID, 2, "both pages sent")
	calls := recv.snapshot()

	if len(got) != 2 {
		t.Fatalf("notifications = %+v, want 2 (the 1h step is not due)", got)
	}
	idOf := map[string]string{}
	for _, n := range got {
		if n.Step != "1" || n.Channel != "hook" || n.Attempts != 4 || n.LastStatus != 200 || n.Subject == "" {
			t.Errorf("notification %+v: want step 1 via hook, sent on attempt 4 with 200", n)
		}
		idOf[n.Recipient] = n.ID
	}
	if idOf["tech1"] == "" || idOf["desk"] == "" {
		t.Fatalf("recipients %v, want tech1 and desk", idOf)
	}
	if d := delivered(calls); len(d) != 2 || d[idOf["tech1"]] != 1 || d[idOf["desk"]] != 1 {
		t.Fatalf("delivered per id = %v, want one each for %v", d, idOf)
	}
	for _, c := range calls {
		who := c.Body.Recipient.Name
		if c.ID != idOf[who] || c.Body.ID != c.ID {
			t.Errorf("call for %s carried id %q (body %q), want %q on every try", who, c.ID, c.Body.ID, idOf[who])
		}
		if !c.ValidSig {
			t.Errorf("call %s: signature %q does not match the body", c.ID, c.Signature)
		}
		if c.Body.Type != "page" || c.Body.Ticket.Number != tk.Number || c.Body.Ticket.Level != 1 || c.Body.Step != "1" ||
			c.Body.Alarm == nil || c.Body.Alarm.ID != tk.AlarmID || !strings.Contains(c.Body.Alarm.Observation, "gas-b2-07") {
			t.Errorf("call body = %+v", c.Body)
		}
	}
	if len(calls) != 8 {
		t.Errorf("%d calls, want 8 (3 refused and 1 taken per page)", len(calls))
	}

	full := getTicket(t, base, tk.ID)
	var sentRows int
	for _, h := range full.History {
		if h.Action == "page_sent" {
			sentRows++
		}
	}
	if sentRows != 2 {
		t.Errorf("history has %d page_sent rows, want 2: %+v", sentRows, full.History)
	}

	// Unknown ticket: 404; no token: 401.
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{fmt.Sprintf("/api/tickets/%d/notifications", tk.ID+100), operatorToken, http.StatusNotFound},
		{fmt.Sprintf("/api/tickets/%d/notifications", tk.ID), "", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodGet, base+c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET %s: %s, want %d", c.path, resp.Status, c.want)
		}
	}
}

// The demo's paging is valid and shows, on the log channel, the
// technician on duty and the control room at once, then the supervisor.
func TestDemoPagesOnTheScreen(t *testing.T) {
	cfg := defaultConfig()
	cfg.Config = demoPaging()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("demo paging config: %v", err)
	}
	pg, err := newPaging(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	sub := ticketing.PageSubject{Ticket: ticketing.Ticket{ID: 7, Number: "BX20261201-0007", Level: 1, Status: ticketing.StatusNew}, OpenedAt: opened}
	who := func(ps []ticketing.OutboxPage) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Step+":"+p.Recipient+":"+p.Channel)
		}
		return out
	}
	now, next := pg.pager.Due(sub, opened)
	if got := strings.Join(who(now), " "); got != "1:demo-technician:screen 1:demo-operator:screen" || !next.Equal(opened.Add(5*time.Minute)) {
		t.Fatalf("at once: %s, next %v", got, next)
	}
	later, _ := pg.pager.Due(sub, opened.Add(5*time.Minute))
	if got := strings.Join(who(later), " "); !strings.Contains(got, "2:demo-supervisor:screen") {
		t.Fatalf("after 5m: %s", got)
	}
	acked := opened.Add(time.Minute)
	sub.AckedAt = &acked
	if ps, _ := pg.pager.Due(sub, opened.Add(20*time.Minute)); len(ps) != 0 {
		t.Fatalf("acknowledged, still paged: %v", who(ps))
	}
}

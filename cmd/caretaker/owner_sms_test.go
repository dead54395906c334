package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// smsGateway is a real HTTP receiver standing in for an SMS gateway: it
// keeps every message it is asked to send.
type smsGateway struct {
	mu   sync.Mutex
	msgs []smsMessage
}

type smsMessage struct {
	ID    string `json:"id"`
	Phone string `json:"phone"`
	Text  string `json:"text"`
	Code  string `json:"code"`
}

func (g *smsGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m smsMessage
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.msgs = append(g.msgs, m)
	g.mu.Unlock()
	fmt.Fprint(w, `{"Code":"OK"}`)
}

func (g *smsGateway) snapshot() []smsMessage {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]smsMessage(nil), g.msgs...)
}

const (
	techToken     = "te-0123456789abcdef"
	ownerPhone    = "+8613900000009"
	techPhone     = "+8613800000001"
	ownerSMSCount = 3
)

func actAs(t *testing.T, base, token string, id int64, body map[string]any) ticketing.ActionResult {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/tickets/%d/actions", base, id), bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%v: %s %s", body, resp.Status, raw)
	}
	var res ticketing.ActionResult
	_ = json.Unmarshal(raw, &res)
	return res
}

// smsPagingConfig is a caretaker that pages the reporter and the
// technician on duty (tech1, by the roster) by SMS through the gateway at
// smsURL, at every level, retrying quickly.
func smsPagingConfig(httpAddr, brokerAddr, clientID, dir, smsURL string) string {
	policy := `{after: 0s, to: [reporter, on_duty], via: [sms]}`
	return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: %s}
store: {path: "%[4]s/caretaker.db", readings_path: "%[4]s/readings.db", photos_dir: "%[4]s/photos"}
auth:
  tokens:
    - {name: ops1, role: operator, token: %[5]s}
    - {name: tech1, role: technician, token: %[6]s}
technicians: [{name: tech1, skills: [water_electric], on_duty: true}]
people:
  - {name: tech1, phone: "%[7]s", lang: en}
rosters:
  - {people: [tech1], shifts: ["mon-sun 00:00-24:00"]}
channels:
  - name: sms
    type: sms_http
    url: "%[8]s/send"
    body: '{"id":"{{id}}","phone":"{{phone}}","text":"{{text}}","code":"{{code}}"}'
notify:
  timezone: Asia/Shanghai
  retry_min: 100ms
  retry_max: 300ms
  policies:
    - {level: 1, steps: [%[9]s]}
    - {level: 2, steps: [%[9]s]}
    - {level: 3, steps: [%[9]s]}
`, httpAddr, brokerAddr, clientID, dir, operatorToken, techToken, techPhone, smsURL, policy)
}

// TestOwnerIsToldBySMS: an in-home report with the owner's phone, on a
// real caretaker with an sms_http channel to a real HTTP receiver. The
// owner gets, in their language (zh-CN), the verification code when the
// ticket opens, the technician's name and ETA when it is taken, and word
// that the work is done when it is resolved: each once. The technician
// on duty is paged through the same gateway, and the code never goes to
// anyone but the owner, nor into the notifications API.
func TestOwnerIsToldBySMS(t *testing.T) {
	broker := testserver.Mosquitto(t)
	gw := &smsGateway{}
	srvURL := receiverURL(t, gw)
	ct, _ := serveConfig(t, func(httpAddr, dir string) string {
		return smsPagingConfig(httpAddr, broker.Addr, "caretaker-owner", dir, srvURL)
	})
	base := ct.Base

	body, _ := json.Marshal(map[string]any{"source": "phone", "category": "water_electric",
		"site": "s1", "building": "B3", "scope": "in_home", "unit": "2", "floor": "12", "room": "1201", "location": "kitchen",
		"description": "tap drips", "reporter": map[string]string{"name": "Wang", "phone": ownerPhone}})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/tickets", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tk ticketing.Ticket
	_ = json.NewDecoder(resp.Body).Decode(&tk)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || len(tk.VerificationCode) != 6 {
		t.Fatalf("report: %s %+v", resp.Status, tk)
	}
	code := tk.VerificationCode

	toOwner := func() []smsMessage {
		var out []smsMessage
		for _, m := range gw.snapshot() {
			if m.Phone == ownerPhone {
				out = append(out, m)
			}
		}
		return out
	}
	waitFor(t, 15*time.Second, "the owner's code and tech1's page", func() bool {
		return len(toOwner()) == 1 && len(gw.snapshot()) == 2
	})
	if m := toOwner()[0]; !strings.Contains(m.Text, code) || m.Code != code || !strings.Contains(m.Text, "验证码") {
		t.Fatalf("owner's first SMS %+v: want the code %s, in Chinese", m, code)
	}

	actAs(t, base, techToken, tk.ID, map[string]any{"action": "claim"})
	waitFor(t, 15*time.Second, "the owner told who is coming", func() bool { return len(toOwner()) == 2 })
	if m := toOwner()[1]; !strings.Contains(m.Text, "tech1") || !strings.Contains(m.Text, "已接单") || !strings.Contains(m.Text, "预计") {
		t.Fatalf("owner's SMS on acceptance: %+v, want tech1 and the ETA in Chinese", m)
	}
	actAs(t, base, techToken, tk.ID, map[string]any{"action": "arrive", "code": code})
	actAs(t, base, techToken, tk.ID, map[string]any{"action": "resolve", "note": "new washer"})
	waitFor(t, 15*time.Second, "the owner told the work is done", func() bool { return len(toOwner()) == 3 })
	if m := toOwner()[2]; !strings.Contains(m.Text, "已处理完毕") || !strings.Contains(m.Text, "回访") {
		t.Fatalf("owner's SMS on resolution: %+v", m)
	}
	for _, m := range toOwner() {
		t.Logf("to the owner: %s", m.Text)
	}

	// Each once; the code only in the owner's first message.
	seen := map[string]int{}
	first := toOwner()[0].ID
	for _, m := range gw.snapshot() {
		seen[m.ID]++
		has := strings.Contains(m.Text, code) || m.Code != ""
		if has && m.ID != first {
			t.Errorf("the code went to %s in %+v", m.Phone, m)
		}
		if m.Phone == techPhone && !strings.Contains(m.Text, tk.Number) {
			t.Errorf("tech1's page %+v", m)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s sent %d times", id, n)
		}
	}
	if n := len(gw.snapshot()); n != ownerSMSCount+1 {
		t.Errorf("%d messages, want %d to the owner and 1 to tech1: %+v", n, ownerSMSCount, gw.snapshot())
	}
	var list struct {
		Notifications []json.RawMessage `json:"notifications"`
	}
	getJSON(t, fmt.Sprintf("%s/api/tickets/%d/notifications", base, tk.ID), operatorToken, &list)
	if len(list.Notifications) != ownerSMSCount+1 {
		t.Errorf("notifications API lists %d, want %d", len(list.Notifications), ownerSMSCount+1)
	}
	for _, n := range list.Notifications {
		if strings.Contains(string(n), code) {
			t.Errorf("the notifications API shows the code: %s", n)
		}
	}
}

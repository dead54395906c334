package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const hookSecret = "webhook-secret-0123456789"

func verifySignature(secret string, r recorded) bool {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(r.Body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(r.Header.Get("X-Caretaker-Signature")), []byte(want))
}

func TestWebhookDeliversSignedJSON(t *testing.T) {
	rc := newReceiver(t, func(int, recorded) (int, string) { return 202, "queued" })
	ch, err := NewChannel(ChannelConfig{Name: "hook", Type: TypeWebhook, URL: rc.URL + "/hook", Secret: hookSecret}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg, in := samplePage("hook", LangZH)
	m := NewMessage(pg, in, "https://ct.example.com/ack/tok")
	res, err := ch.Send(context.Background(), m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.Status != 202 || res.Body != "queued" {
		t.Errorf("result = %+v, want the receiver's answer", res)
	}
	r := rc.requests()[0]
	if r.Method != "POST" || r.URL != "/hook" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %s", r.Method, r.URL, r.Header.Get("Content-Type"))
	}
	if !verifySignature(hookSecret, r) {
		t.Errorf("signature %q does not verify", r.Header.Get("X-Caretaker-Signature"))
	}
	if verifySignature("another-secret-0123456789", r) {
		t.Error("signature verifies with another secret")
	}
	if got := r.Header.Get("X-Caretaker-Delivery"); got != pg.ID {
		t.Errorf("delivery header %q, want %q", got, pg.ID)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "type", "ticket", "alarm", "recipient", "step", "message", "ack_url"} {
		if _, ok := body[k]; !ok {
			t.Errorf("body lacks %q: %s", k, r.Body)
		}
	}
	var typed WebhookBody
	_ = json.Unmarshal(r.Body, &typed)
	if typed.ID != pg.ID || typed.Type != "page" || typed.Ticket.Number != "BX20261202-0042" || typed.Ticket.Level != 1 ||
		typed.Alarm == nil || typed.Alarm.ID != "gas-b2-07/gas-high" || typed.Recipient.Name != "tech1" || typed.Step != "1" ||
		!strings.HasPrefix(typed.Message.Subject, "【一级紧急】") || typed.AckURL != "https://ct.example.com/ack/tok" {
		t.Errorf("body = %+v", typed)
	}
	if strings.Contains(string(r.Body), "4711") || strings.Contains(string(r.Body), hookSecret) {
		t.Errorf("body carries the code or the secret: %s", r.Body)
	}
}

// TestWebhookRetryKeepsDeliveryID: the receiver answers 503 three times,
// then 200; each retry (the message rebuilt from its page, as after a
// restart) carries the same id and a valid signature, and the page is
// delivered once.
func TestWebhookRetryKeepsDeliveryID(t *testing.T) {
	rc := newReceiver(t, func(n int, _ recorded) (int, string) {
		if n <= 3 {
			return 503, "busy"
		}
		return 200, "ok"
	})
	ch, err := NewChannel(ChannelConfig{Name: "hook", Type: TypeWebhook, URL: rc.URL, Secret: hookSecret}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg, in := samplePage("hook", LangEN)
	delivered := 0
	var last Result
	for attempt := 1; attempt <= 10 && delivered == 0; attempt++ {
		res, err := ch.Send(context.Background(), NewMessage(pg, in, ""))
		last = res
		if err != nil {
			if IsPermanent(err) {
				t.Fatalf("503 taken as permanent: %v", err)
			}
			if res.Status != 503 || res.Body != "busy" {
				t.Errorf("attempt %d: failed result %+v keeps no answer", attempt, res)
			}
			continue
		}
		delivered++
	}
	reqs := rc.requests()
	if delivered != 1 || len(reqs) != 4 || last.Status != 200 {
		t.Fatalf("delivered %d after %d requests (last %+v)", delivered, len(reqs), last)
	}
	for i, r := range reqs {
		if r.Header.Get("X-Caretaker-Delivery") != pg.ID || !verifySignature(hookSecret, r) {
			t.Errorf("try %d: id %q, signature ok %v", i+1, r.Header.Get("X-Caretaker-Delivery"), verifySignature(hookSecret, r))
		}
	}
}

func TestWebhookTimeoutIsRetryable(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(int, recorded) (int, string) { <-release; return 200, "" })
	defer close(release)
	ch, _ := NewChannel(ChannelConfig{Name: "hook", Type: TypeWebhook, URL: rc.URL, Secret: hookSecret,
		Timeout: devicesDuration(100 * time.Millisecond)}, Options{})
	pg, in := samplePage("hook", LangEN)
	_, err := ch.Send(context.Background(), NewMessage(pg, in, ""))
	if err == nil || IsPermanent(err) {
		t.Fatalf("hanging receiver: err = %v, want a retryable error", err)
	}
}

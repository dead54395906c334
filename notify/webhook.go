package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

// Webhook headers (contract.md).
const (
	HeaderDelivery  = "X-Caretaker-Delivery"
	HeaderSignature = "X-Caretaker-Signature"
)

// Webhook POSTs the page as JSON, signed with HMAC-SHA256 of the body
// under the channel's secret. A 2xx is delivered; anything else, or no
// answer within the timeout, is an error to retry.
type Webhook struct {
	url     string
	secret  []byte
	timeout time.Duration
	client  *http.Client
}

// WebhookBody is the JSON a webhook receives.
type WebhookBody struct {
	ID        string           `json:"id"`
	Type      string           `json:"type"`
	Ticket    WebhookTicket    `json:"ticket"`
	Alarm     *WebhookAlarm    `json:"alarm"`
	Recipient WebhookRecipient `json:"recipient"`
	Step      string           `json:"step"`
	Message   WebhookMessage   `json:"message"`
	AckURL    string           `json:"ack_url"`
}

// WebhookTicket is the ticket part of a webhook body.
type WebhookTicket struct {
	ID       int64  `json:"id"`
	Number   string `json:"number"`
	Level    int    `json:"level"`
	Category string `json:"category,omitempty"`
	Site     string `json:"site,omitempty"`
	Building string `json:"building,omitempty"`
	Location string `json:"location,omitempty"`
	Zone     string `json:"zone,omitempty"`
	Assignee string `json:"assignee,omitempty"`
}

// WebhookAlarm is the alarm of a sensor ticket; null for reports.
type WebhookAlarm struct {
	ID          string `json:"id"`
	Observation string `json:"observation,omitempty"`
}

// WebhookRecipient is who the page is for.
type WebhookRecipient struct {
	Name  string            `json:"name"`
	Phone string            `json:"phone,omitempty"`
	Email string            `json:"email,omitempty"`
	Lang  string            `json:"lang,omitempty"`
	Roles []string          `json:"roles,omitempty"`
	IM    map[string]string `json:"im,omitempty"`
}

// WebhookMessage is the rendered text.
type WebhookMessage struct {
	Lang    string `json:"lang"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// WebhookPayload is the body a webhook receives for the message.
func WebhookPayload(m Message) WebhookBody {
	in := m.Incident
	b := WebhookBody{
		ID:   m.ID,
		Type: m.Type,
		Ticket: WebhookTicket{ID: in.TicketID, Number: in.Number, Level: in.Level, Category: in.Category,
			Site: in.Site, Building: in.Building, Location: in.Location, Zone: in.Zone, Assignee: in.Assignee},
		Recipient: WebhookRecipient{Name: m.Recipient.Name, Phone: m.Recipient.Phone, Email: m.Recipient.Email,
			Lang: m.Recipient.Lang, Roles: m.Recipient.Roles, IM: m.Recipient.IM},
		Step:    m.Step,
		Message: WebhookMessage{Lang: m.Recipient.Lang, Subject: m.Subject, Body: m.Body},
		AckURL:  m.AckURL,
	}
	if in.AlarmID != "" {
		b.Alarm = &WebhookAlarm{ID: in.AlarmID, Observation: in.Observation}
	}
	return b
}

// Sign is the X-Caretaker-Signature value of a body: sha256=<hex>.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Send makes one attempt.
func (w *Webhook) Send(ctx context.Context, m Message) (Result, error) {
	body, err := json.Marshal(WebhookPayload(m))
	if err != nil {
		return Result{}, &Permanent{Err: err}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "caretaker-notify")
	h.Set(HeaderDelivery, m.ID)
	h.Set(HeaderSignature, Sign(w.secret, body))
	return post(ctx, w.client, w.timeout, http.MethodPost, w.url, h, body)
}

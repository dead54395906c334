package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// SMSPlaceholders are the {{names}} an sms_http url or body may use.
var SMSPlaceholders = []string{"id", "phone", "name", "number", "level", "subject", "body", "text", "ack_url", "code"}

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z_]+)\s*\}\}`)

func checkPlaceholders(tmpl string) error {
	for _, m := range placeholder.FindAllStringSubmatch(tmpl, -1) {
		if !contains(SMSPlaceholders, m[1]) {
			return fmt.Errorf("unknown placeholder {{%s}} (known: %s)", m[1], strings.Join(SMSPlaceholders, ", "))
		}
	}
	return nil
}

// SMSHTTP sends a text message through an HTTP SMS gateway (Aliyun- or
// Tencent-style, or a relay in front of one): a request to URL with the
// configured method and headers, and Body with its {{placeholders}}
// filled in once, each value escaped for the body's encoding (json: as
// the inside of a JSON string; form: URL-encoded; text: as is) and
// query-escaped in the URL. Filled-in values are never read as
// placeholders again. The recipient needs a phone number.
type SMSHTTP struct {
	cfg    ChannelConfig
	client *http.Client
}

// Send makes one attempt.
func (s *SMSHTTP) Send(ctx context.Context, m Message) (Result, error) {
	if m.Recipient.Phone == "" {
		return Result{}, &Permanent{Err: errNoAddress}
	}
	vals := smsValues(m)
	target := fill(s.cfg.URL, vals, url.QueryEscape)
	var esc func(string) string
	ctype := ""
	switch s.cfg.Encoding {
	case "form":
		esc, ctype = url.QueryEscape, "application/x-www-form-urlencoded"
	case "text":
		esc, ctype = func(v string) string { return v }, "text/plain; charset=utf-8"
	default:
		esc, ctype = jsonInner, "application/json; charset=utf-8"
	}
	h := http.Header{}
	h.Set("Content-Type", ctype)
	keys := make([]string, 0, len(s.cfg.Headers))
	for k := range s.cfg.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.Set(k, s.cfg.Headers[k])
	}
	var body []byte
	if s.cfg.Body != "" {
		body = []byte(fill(s.cfg.Body, vals, esc))
	}
	return post(ctx, s.client, s.cfg.Timeout.Std(), strings.ToUpper(s.cfg.Method), target, h, body)
}

func smsValues(m Message) map[string]string {
	return map[string]string{
		"id":      m.ID,
		"phone":   m.Recipient.Phone,
		"name":    m.Recipient.Name,
		"number":  m.Incident.Number,
		"level":   strconv.Itoa(m.Incident.Level),
		"subject": m.Subject,
		"body":    m.Body,
		"text":    m.Subject + "\n" + m.Body,
		"ack_url": m.AckURL,
		"code":    m.Incident.Code, // empty unless the recipient is the reporter (NewMessage)
	}
}

// fill replaces each placeholder once; values are not scanned again.
func fill(tmpl string, vals map[string]string, esc func(string) string) string {
	return placeholder.ReplaceAllStringFunc(tmpl, func(ph string) string {
		name := placeholder.FindStringSubmatch(ph)[1]
		return esc(vals[name])
	})
}

// jsonInner escapes v as the inside of a JSON string.
func jsonInner(v string) string {
	b, _ := json.Marshal(v)
	return string(b[1 : len(b)-1])
}

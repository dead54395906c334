package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSMSHTTPJSONBody: an Aliyun-style JSON body; values with quotes,
// backslashes, line breaks and a {{placeholder}} of their own stay text.
func TestSMSHTTPJSONBody(t *testing.T) {
	rc := newReceiver(t, func(int, recorded) (int, string) { return 200, `{"Code":"OK"}` })
	ch, err := NewChannel(ChannelConfig{
		Name: "sms", Type: TypeSMSHTTP, URL: rc.URL + "/send?to={{phone}}",
		Headers: map[string]string{"Authorization": "Bearer gateway-token-123"},
		Body:    `{"PhoneNumbers":"{{phone}}","TemplateParam":{"number":"{{number}}","text":"{{text}}"},"id":"{{ id }}"}`,
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg, in := samplePage("sms", LangEN)
	in.Location = `ramp "B" \ {{phone}}`
	m := NewMessage(pg, in, "")
	res, err := ch.Send(context.Background(), m)
	if err != nil || res.Body != `{"Code":"OK"}` {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	r := rc.requests()[0]
	var body struct {
		PhoneNumbers  string
		TemplateParam map[string]string
		ID            string `json:"id"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.Body)
	}
	if body.PhoneNumbers != "+8613800000001" || body.TemplateParam["number"] != "BX20261202-0042" || body.ID != pg.ID {
		t.Errorf("body %s", r.Body)
	}
	if body.TemplateParam["text"] != m.Subject+"\n"+m.Body || !strings.Contains(body.TemplateParam["text"], `ramp "B" \ {{phone}}`) {
		t.Errorf("text = %q", body.TemplateParam["text"])
	}
	u, _ := url.Parse(r.URL)
	if u.Query().Get("to") != "+8613800000001" {
		t.Errorf("url %s: phone not query-escaped", r.URL)
	}
	if r.Header.Get("Authorization") != "Bearer gateway-token-123" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("headers %v", r.Header)
	}
}

func TestSMSHTTPFormBody(t *testing.T) {
	rc := newReceiver(t, func(int, recorded) (int, string) { return 200, "ok" })
	ch, err := NewChannel(ChannelConfig{Name: "sms", Type: TypeSMSHTTP, URL: rc.URL, Encoding: "form",
		Body: "mobile={{phone}}&content={{text}}"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg, in := samplePage("sms", LangZH)
	in.Description = "a&b=c"
	m := NewMessage(pg, in, "")
	if _, err := ch.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r := rc.requests()[0]
	v, err := url.ParseQuery(string(r.Body))
	if err != nil || v.Get("mobile") != "+8613800000001" || v.Get("content") != m.Subject+"\n"+m.Body || len(v) != 2 {
		t.Errorf("form %q: %v", r.Body, v)
	}
}

func TestSMSHTTPNeedsAPhone(t *testing.T) {
	rc := newReceiver(t, ok200)
	ch, _ := NewChannel(ChannelConfig{Name: "sms", Type: TypeSMSHTTP, URL: rc.URL, Body: `{"t":"{{text}}"}`}, Options{})
	pg, in := samplePage("sms", LangZH)
	pg.Recipient.Phone = ""
	_, err := ch.Send(context.Background(), NewMessage(pg, in, ""))
	if !IsPermanent(err) || len(rc.requests()) != 0 {
		t.Errorf("no phone: err = %v, %d requests", err, len(rc.requests()))
	}
}

// TestSMSHTTPCodeOnlyToReporter: {{code}} is filled for the reporter and
// empty for anyone else.
func TestSMSHTTPCodeOnlyToReporter(t *testing.T) {
	rc := newReceiver(t, ok200)
	ch, _ := NewChannel(ChannelConfig{Name: "sms", Type: TypeSMSHTTP, URL: rc.URL, Body: `{"code":"{{code}}"}`}, Options{})
	pg, in := samplePage("sms", LangZH)
	_, _ = ch.Send(context.Background(), NewMessage(pg, in, ""))
	pg.Recipient = Person{Name: "Ms Wang", Phone: "+86139", IsReporter: true}
	_, _ = ch.Send(context.Background(), NewMessage(pg, in, ""))
	reqs := rc.requests()
	if len(reqs) != 2 || string(reqs[0].Body) != `{"code":""}` || string(reqs[1].Body) != `{"code":"4711"}` {
		t.Errorf("bodies %q / %q", reqs[0].Body, reqs[1].Body)
	}
}

func TestLogChannelRecordsOnly(t *testing.T) {
	var buf bytes.Buffer
	ch, err := NewChannel(ChannelConfig{Name: "demo", Type: TypeLog}, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	pg, in := samplePage("demo", LangEN)
	res, err := ch.Send(context.Background(), NewMessage(pg, in, ""))
	if err != nil || res.Body != "logged" {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	out := buf.String()
	for _, w := range []string{"delivery=" + pg.ID, "ticket=BX20261202-0042", "recipient=tech1", "channel=demo"} {
		if !strings.Contains(out, w) {
			t.Errorf("log lacks %q: %s", w, out)
		}
	}
}

// TestSMSHTTPAnswerKeepsNoPhoneOrCode: a gateway that echoes the message
// back does not put (through the attempt that records its answer) the recipient's phone or a reporter's verification
// code into the record operators read.
func TestSMSHTTPAnswerKeepsNoPhoneOrCode(t *testing.T) {
	rc := newReceiver(t, func(_ int, r recorded) (int, string) { return 200, `{"echo":` + string(r.Body) + `}` })
	ch, _ := NewChannel(ChannelConfig{Name: "sms", Type: TypeSMSHTTP, URL: rc.URL,
		Body: `{"to":"{{phone}}","bare":"8613900000801","code":"{{code}}"}`}, Options{})
	pg, in := samplePage("sms", LangZH)
	pg.Recipient = Person{Name: "Ms Wang", Phone: "+8613900000801", IsReporter: true}
	o := Attempt(context.Background(), ch, NewMessage(pg, in, ""), 0, time.Now(), time.Now, Retry{}, time.Hour)
	if o.State != StateSent {
		t.Fatalf("outcome %+v", o)
	}
	res := o.Result
	if strings.Contains(res.Body, "13900000801") || strings.Contains(res.Body, "4711") {
		t.Errorf("answer kept %q", res.Body)
	}
	if !strings.Contains(res.Body, `"to":"**********0801"`) || !strings.Contains(res.Body, `"bare":"*********0801"`) || !strings.Contains(res.Body, `"code":"****"`) {
		t.Errorf("answer %q: want the phone masked to its last 4 digits and the code hidden", res.Body)
	}
}

package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

const robotSecret = "SEC0123456789abcdef0123456789abcdef"

var robotNow = time.Date(2026, 12, 2, 9, 31, 0, 0, time.UTC)

func sendRobot(t *testing.T, typ, secret string, answer func(int, recorded) (int, string)) (*receiver, Result, error) {
	t.Helper()
	rc := newReceiver(t, answer)
	u := rc.URL + "/robot/send?access_token=tok123"
	ch, err := NewChannel(ChannelConfig{Name: typ, Type: typ, URL: u, Secret: secret}, Options{Now: func() time.Time { return robotNow }})
	if err != nil {
		t.Fatal(err)
	}
	pg, in := samplePage(typ, LangZH)
	in.Description = `gas smell <at user_id="all">everyone</at>`
	res, err := ch.Send(context.Background(), NewMessage(pg, in, "https://ct.example.com/ack/tok"))
	return rc, res, err
}

func TestWeComRobot(t *testing.T) {
	rc, res, err := sendRobot(t, TypeWeCom, "", ok200)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 200 || !strings.Contains(res.Body, `"errcode":0`) {
		t.Errorf("result %+v", res)
	}
	var body struct {
		MsgType string `json:"msgtype"`
		Text    struct {
			Content string   `json:"content"`
			Mention []string `json:"mentioned_list"`
			Mobiles []string `json:"mentioned_mobile_list"`
		} `json:"text"`
	}
	r := rc.requests()[0]
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.MsgType != "text" || !strings.HasPrefix(body.Text.Content, "【一级紧急】BX20261202-0042") ||
		!strings.Contains(body.Text.Content, "https://ct.example.com/ack/tok") ||
		body.Text.Mention[0] != "zhang.san" || body.Text.Mobiles[0] != "+8613800000001" {
		t.Errorf("wecom body %s", r.Body)
	}
	if !strings.Contains(r.URL, "access_token=tok123") {
		t.Errorf("url %s", r.URL)
	}
}

// TestDingTalkRobotSignature checks the sign the way DingTalk does:
// HMAC-SHA256 with the secret over timestamp+"\n"+secret, Base64, in the
// query with the millisecond timestamp.
func TestDingTalkRobotSignature(t *testing.T) {
	rc, _, err := sendRobot(t, TypeDingTalk, robotSecret, ok200)
	if err != nil {
		t.Fatal(err)
	}
	r := rc.requests()[0]
	u, _ := url.Parse(r.URL)
	q := u.Query()
	ts := q.Get("timestamp")
	if ts != strconv.FormatInt(robotNow.UnixMilli(), 10) || q.Get("access_token") != "tok123" {
		t.Fatalf("query %s", u.RawQuery)
	}
	m := hmac.New(sha256.New, []byte(robotSecret))
	m.Write([]byte(ts + "\n" + robotSecret))
	if want := base64.StdEncoding.EncodeToString(m.Sum(nil)); q.Get("sign") != want {
		t.Errorf("sign %q, want %q", q.Get("sign"), want)
	}
	// Base64 has + / =: they must arrive escaped, not as spaces.
	if strings.Contains(u.RawQuery, "+") {
		t.Errorf("raw query has an unescaped +: %s", u.RawQuery)
	}
	var body struct {
		MsgType string            `json:"msgtype"`
		Text    map[string]string `json:"text"`
		At      struct {
			Mobiles []string `json:"atMobiles"`
			UserIDs []string `json:"atUserIds"`
			All     bool     `json:"isAtAll"`
		} `json:"at"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.MsgType != "text" || !strings.Contains(body.Text["content"], "@+8613800000001") ||
		body.At.Mobiles[0] != "+8613800000001" || body.At.UserIDs[0] != "ding-uid-1" || body.At.All {
		t.Errorf("dingtalk body %s", r.Body)
	}
}

// TestFeishuRobotSignature: Feishu signs with HMAC-SHA256 keyed by
// timestamp+"\n"+secret over nothing, Base64, in the body with the
// timestamp in seconds.
func TestFeishuRobotSignature(t *testing.T) {
	rc, _, err := sendRobot(t, TypeFeishu, robotSecret, func(int, recorded) (int, string) {
		return 200, `{"code":0,"msg":"success","data":{}}`
	})
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Timestamp string            `json:"timestamp"`
		Sign      string            `json:"sign"`
		MsgType   string            `json:"msg_type"`
		Content   map[string]string `json:"content"`
	}
	r := rc.requests()[0]
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte(body.Timestamp+"\n"+robotSecret))
	if body.Timestamp != strconv.FormatInt(robotNow.Unix(), 10) || body.Sign != base64.StdEncoding.EncodeToString(m.Sum(nil)) {
		t.Errorf("timestamp %q sign %q", body.Timestamp, body.Sign)
	}
	if body.MsgType != "text" || !strings.Contains(body.Content["text"], `<at user_id="ou_abc">tech1</at>`) {
		t.Errorf("feishu body %s", r.Body)
	}
	// Only our own mention is a tag; the report's text makes none.
	if n := strings.Count(body.Content["text"], "<at "); n != 1 || strings.Contains(body.Content["text"], `<at user_id="all">`) {
		t.Errorf("feishu text has %d mentions: %q", n, body.Content["text"])
	}
}

// TestRobotRefusalIsAnError: robots answer 200 with an error code when
// they refuse (bad sign, rate limit); that is not delivered.
func TestRobotRefusalIsAnError(t *testing.T) {
	cases := []struct{ typ, answer, want string }{
		{TypeDingTalk, `{"errcode":310000,"errmsg":"sign not match"}`, "errcode 310000"},
		{TypeWeCom, `{"errcode":45009,"errmsg":"api freq out of limit"}`, "errcode 45009"},
		{TypeFeishu, `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`, "code 19021"},
		{TypeWeCom, `<html>gateway</html>`, "not JSON"},
	}
	for _, c := range cases {
		secret := robotSecret
		if c.typ == TypeWeCom {
			secret = ""
		}
		_, res, err := sendRobot(t, c.typ, secret, func(int, recorded) (int, string) { return 200, c.answer })
		if err == nil || !strings.Contains(err.Error(), c.want) || IsPermanent(err) {
			t.Errorf("%s answering %s: err = %v, want a retryable %q", c.typ, c.answer, err, c.want)
		}
		if res.Body != c.answer {
			t.Errorf("%s: result keeps %q, want the answer", c.typ, res.Body)
		}
	}
}

// TestRobotErrorsHideTheURLKey: the robot's key is in its URL; a failed
// request names the host only.
func TestRobotErrorsHideTheURLKey(t *testing.T) {
	rc := newReceiver(t, ok200)
	u := rc.URL + "/cgi-bin/webhook/send?key=very-secret-robot-key"
	rc.Close() // nobody answers now
	ch, err := NewChannel(ChannelConfig{Name: "w", Type: TypeWeCom, URL: u}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pg, in := samplePage("w", LangEN)
	_, err = ch.Send(context.Background(), NewMessage(pg, in, ""))
	if err == nil || strings.Contains(err.Error(), "very-secret-robot-key") {
		t.Fatalf("err = %v", err)
	}
}

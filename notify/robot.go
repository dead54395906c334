package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Robot posts a text message to a WeCom, DingTalk or Feishu group robot in
// the robot's documented JSON format, mentioning the recipient by IM id
// (Person.IM) or phone where the robot supports it:
//
//   - wecom: {"msgtype":"text","text":{"content","mentioned_list","mentioned_mobile_list"}};
//     the key is in the URL.
//   - dingtalk: {"msgtype":"text","text":{"content"},"at":{"atMobiles","atUserIds"}};
//     with a secret, the URL gets timestamp (ms) and sign =
//     base64(HMAC-SHA256(key secret, timestamp+"\n"+secret)).
//   - feishu: {"msg_type":"text","content":{"text"}}; with a secret, the body gets
//     timestamp (s) and sign = base64(HMAC-SHA256(key timestamp+"\n"+secret, "")).
//
// Robots answer HTTP 200 even when they refuse; a non-zero errcode (code
// for Feishu) is an error to retry.
type Robot struct {
	kind    string
	url     string
	secret  string
	timeout time.Duration
	client  *http.Client
	now     func() time.Time
}

// Send makes one attempt.
func (r *Robot) Send(ctx context.Context, m Message) (Result, error) {
	text := m.Subject + "\n" + m.Body
	target := r.url
	var payload any
	switch r.kind {
	case TypeWeCom:
		t := map[string]any{"content": text}
		if id := m.Recipient.IM[TypeWeCom]; id != "" {
			t["mentioned_list"] = []string{id}
		}
		if m.Recipient.Phone != "" {
			t["mentioned_mobile_list"] = []string{m.Recipient.Phone}
		}
		payload = map[string]any{"msgtype": "text", "text": t}
	case TypeDingTalk:
		at := map[string]any{"isAtAll": false}
		if p := m.Recipient.Phone; p != "" {
			at["atMobiles"] = []string{p}
			text += "\n@" + p
		}
		if id := m.Recipient.IM[TypeDingTalk]; id != "" {
			at["atUserIds"] = []string{id}
			text += "\n@" + id
		}
		payload = map[string]any{"msgtype": "text", "text": map[string]string{"content": text}, "at": at}
		if r.secret != "" {
			ts := strconv.FormatInt(r.now().UnixMilli(), 10)
			sep := "?"
			if strings.Contains(target, "?") {
				sep = "&"
			}
			target += sep + "timestamp=" + ts + "&sign=" + url.QueryEscape(DingTalkSign(r.secret, ts))
		}
	case TypeFeishu:
		// Feishu reads <at user_id="all"> in text as a mention of everyone:
		// text from reports and devices must not make tags.
		text = strings.ReplaceAll(text, "<", "\uFF1C")
		if id := m.Recipient.IM[TypeFeishu]; id != "" {
			text += "\n<at user_id=\"" + escapeAttr(id) + "\">" + escapeAttr(m.Recipient.Name) + "</at>"
		}
		body := map[string]any{"msg_type": "text", "content": map[string]string{"text": text}}
		if r.secret != "" {
			ts := strconv.FormatInt(r.now().Unix(), 10)
			body["timestamp"] = ts
			body["sign"] = FeishuSign(r.secret, ts)
		}
		payload = body
	default:
		return Result{}, &Permanent{Err: fmt.Errorf("unknown robot %q", r.kind)}
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return Result{}, &Permanent{Err: err}
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	res, err := post(ctx, r.client, r.timeout, http.MethodPost, target, h, b)
	if err != nil {
		return res, err
	}
	var ans struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		Code    *int   `json:"code"`
		Msg     string `json:"msg"`
	}
	if json.Unmarshal([]byte(res.Body), &ans) != nil {
		return res, fmt.Errorf("%s robot: answer is not JSON", r.kind)
	}
	switch {
	case ans.ErrCode != nil && *ans.ErrCode != 0:
		return res, fmt.Errorf("%s robot: errcode %d: %s", r.kind, *ans.ErrCode, ans.ErrMsg)
	case ans.Code != nil && *ans.Code != 0:
		return res, fmt.Errorf("%s robot: code %d: %s", r.kind, *ans.Code, ans.Msg)
	case ans.ErrCode == nil && ans.Code == nil:
		return res, fmt.Errorf("%s robot: answer has no errcode", r.kind)
	}
	return res, nil
}

// DingTalkSign is the sign query value (before URL escaping) of a DingTalk
// robot request at timestamp ms.
func DingTalkSign(secret, timestampMS string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestampMS + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// FeishuSign is the sign body field of a Feishu robot request at
// timestamp seconds.
func FeishuSign(secret, timestampS string) string {
	m := hmac.New(sha256.New, []byte(timestampS+"\n"+secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func escapeAttr(s string) string {
	return strings.NewReplacer(`&`, "&amp;", `"`, "&quot;", `<`, "&lt;", `>`, "&gt;").Replace(s)
}

package notify

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestPrintedConfigHidesSecrets(t *testing.T) {
	secrets := []string{"hook-secret-0123456789", "smtp-pass-9876543210", "ding-sec-abcdef", "robot-key-qwerty", "Bearer sms-token-1", "ack-key-0123456789abcdef0123456789"}
	c := Config{
		Channels: []ChannelConfig{
			{Name: "hook", Type: TypeWebhook, URL: "https://hooks.example.com/x", Secret: secrets[0]},
			{Name: "mail", Type: TypeEmail, SMTP: SMTPConfig{Addr: "smtp.example.com:587", From: "a@b", Username: "u", Password: secrets[1]}},
			{Name: "ding", Type: TypeDingTalk, URL: "https://oapi.dingtalk.com/robot/send?access_token=" + secrets[3], Secret: secrets[2]},
			{Name: "feishu", Type: TypeFeishu, URL: "https://open.feishu.cn/open-apis/bot/v2/hook/" + secrets[3]},
			{Name: "sms", Type: TypeSMSHTTP, URL: "https://sms.example.com/send", Headers: map[string]string{"Authorization": secrets[4]}},
		},
		Notify: Settings{AckSecret: secrets[5], PublicURL: "https://ct.example.com"},
	}
	var logged bytes.Buffer
	lg := slog.New(slog.NewTextHandler(&logged, nil))
	lg.Info("config", "channel", c.Channels[0], "mail", c.Channels[1], "ding", c.Channels[2], "notify", c.Notify)
	outs := []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.Channels[1].SMTP), logged.String()}
	for i, out := range outs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output %d shows %q:\n%s", i, s, out)
			}
		}
		if i < 3 && (!strings.Contains(out, "oapi.dingtalk.com") || !strings.Contains(out, "smtp.example.com:587")) {
			t.Errorf("output %d lost what is not secret:\n%s", i, out)
		}
	}
}

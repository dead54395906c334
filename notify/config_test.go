package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"gopkg.in/yaml.v3"
)

// contractYAML is the example of contract.md, "Notifications".
const contractYAML = `
people:
  - {name: tech1, phone: "+8613800000001", email: "tech1@example.com", lang: zh-CN}
  - {name: sup1, email: "sup1@example.com", roles: [supervisor]}
rosters:
  - {zones: [z1], people: [tech1], shifts: ["mon-sun 00:00-24:00"]}
channels:
  - {name: hook, type: webhook, url: "http://127.0.0.1:9000/hook", secret: "at-least-16-chars"}
  - {name: mail, type: email, smtp: {addr: "127.0.0.1:2525", from: "caretaker@example.com", tls: none}}
  - {name: wecom, type: wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}
notify:
  policies:
    - level: 1
      steps:
        - {after: 0s, to: [on_duty, control_room], via: [mail, hook]}
        - {after: 5m, to: [supervisor], via: [mail, hook]}
        - {after: 15m, to: [project_manager], via: [mail, hook]}
`

func parse(t *testing.T, src string) Config {
	t.Helper()
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return c.WithDefaults()
}

func TestContractExampleParses(t *testing.T) {
	c := parse(t, contractYAML)
	if err := c.Validate(); err != nil {
		t.Fatalf("contract example refused: %v", err)
	}
	if got := c.Notify.MaxAge.Std(); got != time.Hour {
		t.Errorf("max_age default = %s, want 1h", got)
	}
	if c.People[1].Lang != LangZH {
		t.Errorf("lang default = %q, want zh-CN", c.People[1].Lang)
	}
	if c.Channels[1].SMTP.TLS != "none" || c.Channels[0].Timeout.Std() != 10*time.Second {
		t.Errorf("channel defaults: %+v", c.Channels)
	}
	st := c.Notify.Policies[0].Steps[1]
	if st.After.Std() != 5*time.Minute || st.To[0] != RoleSupervisor || st.Via[1] != "hook" {
		t.Errorf("step 2 = %+v", st)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"hour out of range", func(c *Config) {
			c.Rosters[0].Shifts = append(c.Rosters[0].Shifts, "mon-fri 25:00-08:00")
		}, `rosters[0].shifts[1]: "mon-fri 25:00-08:00": hour out of range`},
		{"bad day", func(c *Config) { c.Rosters[0].Shifts[0] = "mon-fry 08:00-20:00" },
			`rosters[0].shifts[0]: "mon-fry 08:00-20:00": "fry" is not a day`},
		{"minute", func(c *Config) { c.Rosters[0].Shifts[0] = "mon 08:60-09:00" }, `minute out of range`},
		{"empty shift", func(c *Config) { c.Rosters[0].Shifts[0] = "mon 08:00-08:00" }, `cannot end when it starts`},
		{"unknown roster person", func(c *Config) { c.Rosters[0].People = []string{"ghost"} },
			`rosters[0].people[0]: "ghost" is not in people`},
		{"role", func(c *Config) { c.People[1].Roles = []string{"boss"} }, `people[1].roles[0]: "boss" is not one of`},
		{"lang", func(c *Config) { c.People[0].Lang = "fr" }, `people[0].lang: "fr" is not zh-CN or en`},
		{"duplicate person", func(c *Config) { c.People[1].Name = "tech1" }, `people[1].name: "tech1" is listed twice`},
		{"reserved name", func(c *Config) { c.People[1].Name = "on_duty" }, `people[1].name: "on_duty" is a reserved word`},
		{"short webhook secret", func(c *Config) { c.Channels[0].Secret = "short-secret-xy" },
			`channels[0].secret: shorter than 16 characters`},
		{"webhook url", func(c *Config) { c.Channels[0].URL = "ftp://x" }, `channels[0].url: not an http(s) URL`},
		{"channel type", func(c *Config) { c.Channels[2].Type = "pager" }, `channels[2].type: "pager" is not one of`},
		{"smtp tls", func(c *Config) { c.Channels[1].SMTP.TLS = "ssl" }, `channels[1].smtp.tls: "ssl" is not none, starttls or tls`},
		{"smtp login half", func(c *Config) { c.Channels[1].SMTP.Username = "u" }, `channels[1].smtp: username and password go together`},
		{"step to", func(c *Config) { c.Notify.Policies[0].Steps[1].To = []string{"nobody"} },
			`notify.policies[0].steps[1].to[0]: "nobody" is not a person`},
		{"step via", func(c *Config) { c.Notify.Policies[0].Steps[2].Via = []string{"pigeon"} },
			`notify.policies[0].steps[2].via[0]: "pigeon" is not a channel`},
		{"steps out of order", func(c *Config) { c.Notify.Policies[0].Steps[2].After = devices.Duration(time.Minute) },
			`notify.policies[0].steps[2].after: 1m0s comes before the step above (5m0s)`},
		{"level", func(c *Config) { c.Notify.Policies[0].Level = 4 }, `notify.policies[0].level: 4 is not 1, 2 or 3`},
		{"timezone", func(c *Config) { c.Notify.Timezone = "Mars/Olympus" }, `notify.timezone: "Mars/Olympus" is not an IANA time zone`},
		{"ack secret", func(c *Config) { c.Notify.PublicURL = "https://ct.example.com" },
			`notify.ack_secret: shorter than 32 characters`},
		{"sms placeholder", func(c *Config) {
			c.Channels = append(c.Channels, ChannelConfig{Name: "sms", Type: TypeSMSHTTP, URL: "http://sms/x",
				Body: `{"to":"{{phone}}","t":"{{txt}}"}`}.withDefaults())
		}, `channels[3].body: unknown placeholder {{txt}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := parse(t, contractYAML)
			tc.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("accepted; want error %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestConfigErrorsNeverPrintSecrets: a bad channel names the key, not the
// value of its secret, password or keyed URL.
func TestConfigErrorsNeverPrintSecrets(t *testing.T) {
	const secret = "hunter2-hunter2"
	cases := []ChannelConfig{
		{Name: "hook", Type: TypeWebhook, URL: "http://127.0.0.1/x", Secret: secret},
		{Name: "hook", Type: TypeWebhook, URL: "mailto:" + secret, Secret: secret + "-long-enough"},
		{Name: "wecom", Type: TypeWeCom, URL: "https://qyapi.weixin.qq.com/send?key=" + secret, Secret: secret},
		{Name: "mail", Type: TypeEmail, SMTP: SMTPConfig{Addr: "127.0.0.1:25", From: "a@b", TLS: "none", Password: secret}},
		{Name: "ding", Type: TypeDingTalk, URL: "ding://" + secret, Secret: secret},
	}
	for i, ch := range cases {
		_, err := NewChannel(ch, Options{})
		if err == nil {
			t.Fatalf("case %d accepted", i)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("case %d: error %q repeats the secret", i, err)
		}
	}
	c := parse(t, contractYAML)
	c.Notify.PublicURL = "https://ct.example.com"
	c.Notify.AckSecret = secret
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("ack secret error %v", err)
	}
}

package notify

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/config"
)

// Config is everything paging needs from the configuration file. Its keys
// sit at the top level of caretaker.yaml (contract.md, "Notifications"), so
// the program's config embeds it inline:
//
//	type Config struct {
//		...
//		notify.Config `yaml:",inline"`
//	}
type Config struct {
	People   []Person        `yaml:"people"`
	Rosters  Rosters         `yaml:"rosters"`
	Channels []ChannelConfig `yaml:"channels"`
	Notify   Settings        `yaml:"notify"`
}

// Person is someone who can be paged. Name is the token name where the
// person has one, so "assignee" and rosters find them.
type Person struct {
	Name  string `yaml:"name" json:"name"`
	Phone string `yaml:"phone" json:"phone,omitempty"`
	Email string `yaml:"email" json:"email,omitempty"`
	// Lang is zh-CN or en; default zh-CN.
	Lang string `yaml:"lang" json:"lang,omitempty"`
	// Roles: supervisor, project_manager, control_room.
	Roles []string `yaml:"roles" json:"roles,omitempty"`
	// IM ids by robot type (wecom, dingtalk, feishu): the robot mentions
	// the person in its group with this id.
	IM map[string]string `yaml:"im" json:"im,omitempty"`
	// Sites, if any, are the only sites whose tickets the person is paged
	// for (a project manager's estates); none: every site. A person named
	// like an API token limited to sites takes the token's sites.
	Sites []string `yaml:"sites" json:"sites,omitempty"`

	// IsReporter marks the person the planner built from a ticket's
	// reporter (to: [reporter]): the only recipient a verification code
	// may go to. Never set from the configuration file; kept in JSON so an
	// outbox row keeps it.
	IsReporter bool `yaml:"-" json:"is_reporter,omitempty"`
}

// Roster says who is on duty when, for which zones and skills. No zones:
// every zone; no skills: every skill.
type Roster struct {
	Name   string   `yaml:"name"`
	Zones  []string `yaml:"zones"`
	Skills []string `yaml:"skills"`
	People []string `yaml:"people"`
	// Shifts such as "mon-fri 08:00-20:00", "sat,sun 20:00-08:00" (a shift
	// that crosses midnight belongs to the day it starts) or
	// "mon-sun 00:00-24:00", in Settings.Timezone.
	Shifts []string `yaml:"shifts"`
}

// Channel types.
const (
	TypeWebhook  = "webhook"
	TypeEmail    = "email"
	TypeWeCom    = "wecom"
	TypeDingTalk = "dingtalk"
	TypeFeishu   = "feishu"
	TypeSMSHTTP  = "sms_http"
	TypeLog      = "log"
)

var channelTypes = []string{TypeWebhook, TypeEmail, TypeWeCom, TypeDingTalk, TypeFeishu, TypeSMSHTTP, TypeLog}

// ChannelConfig is one way of reaching people. Which fields count depends
// on Type.
type ChannelConfig struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"`
	// URL of a webhook, a group robot, or an SMS gateway. For sms_http it
	// may hold {{placeholders}} (query-escaped).
	URL string `yaml:"url"`
	// Secret signs webhook bodies (at least 16 characters) and DingTalk
	// and Feishu robot requests (the robot's "sign" secret; optional).
	Secret string `yaml:"secret"`
	// Timeout of one attempt. Default 10s.
	Timeout devices.Duration `yaml:"timeout"`
	// SMTP: for type email.
	SMTP SMTPConfig `yaml:"smtp"`
	// Method, Headers and Body: for sms_http. Body is a template with
	// {{placeholders}} (see SMSPlaceholders), escaped for Encoding.
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	// Encoding of values put into Body: json (default; the value is
	// escaped as the inside of a JSON string), form (URL-encoded) or text.
	Encoding string `yaml:"encoding"`
}

// SMTPConfig is an SMTP relay for the email channel.
type SMTPConfig struct {
	Addr string `yaml:"addr"` // host:port
	From string `yaml:"from"`
	// TLS: none, starttls (default) or tls (implicit TLS, port 465 style).
	TLS      string `yaml:"tls"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// CAFile: PEM certificates that sign the relay's certificate, when
	// they are not among the system's.
	CAFile string `yaml:"ca_file"`
}

// Settings is the `notify:` section.
type Settings struct {
	Policies []Policy `yaml:"policies"`
	// MaxAge: a page not delivered by then is failed. Default 1h.
	MaxAge devices.Duration `yaml:"max_age"`
	// Timezone of the rosters' shifts (IANA name). Default: the machine's
	// local zone.
	Timezone string `yaml:"timezone"`
	// RetryMin and RetryMax bound the pause between attempts of one page
	// (exponential, with jitter). Defaults 2s and 5m.
	RetryMin devices.Duration `yaml:"retry_min"`
	RetryMax devices.Duration `yaml:"retry_max"`
	// PublicURL is where phones reach Caretaker, e.g.
	// https://caretaker.example.com; empty: pages carry no ack_url.
	PublicURL string `yaml:"public_url"`
	// AckSecret signs ack_url tokens; at least 32 characters when
	// PublicURL is set.
	AckSecret string `yaml:"ack_secret"`
	// AckTTL is how long an ack_url works. Default 2h.
	AckTTL devices.Duration `yaml:"ack_ttl"`
	// ChannelAlarmAfter is how many attempts in a row of one channel may
	// fail before the channel is shown failing (a system alarm); a page
	// failed for good shows it at once. Default 3.
	ChannelAlarmAfter int `yaml:"channel_alarm_after"`
}

// Policy is the escalation of one ticket level.
type Policy struct {
	Level int    `yaml:"level"`
	Steps []Step `yaml:"steps"`
}

// Step pages To through Via when After has passed since the ticket opened
// with no acknowledgement.
type Step struct {
	After devices.Duration `yaml:"after"`
	// To: person names, roles (supervisor, project_manager, control_room),
	// on_duty, assignee, reporter.
	To  []string `yaml:"to"`
	Via []string `yaml:"via"`
}

// Recipient words of a step's `to` that are not person names.
const (
	ToOnDuty         = "on_duty"
	ToAssignee       = "assignee"
	ToReporter       = "reporter"
	RoleSupervisor   = "supervisor"
	RoleProjectMgr   = "project_manager"
	RoleControlRoom  = "control_room"
	defaultLang      = LangZH
	defaultTimeout   = 10 * time.Second
	minWebhookSecret = 16
	minAckSecret     = 32
)

var roles = []string{RoleSupervisor, RoleProjectMgr, RoleControlRoom}

// Languages of messages.
const (
	LangZH = "zh-CN"
	LangEN = "en"
)

// FieldError names the key path of a bad value (e.g. rosters[0].shifts[1]);
// it is the one field-error type of every component's configuration. It
// never carries a secret's value.
type FieldError = config.FieldError

func fieldErr(path string, format string, a ...any) error {
	return config.Errorf(path, format, a...)
}

// WithDefaults returns the configuration with every zero field that has a
// default filled in; every default of the package is here.
func (c Config) WithDefaults() Config {
	people := make([]Person, len(c.People))
	for i, p := range c.People {
		if p.Lang == "" {
			p.Lang = defaultLang
		}
		people[i] = p
	}
	c.People = people
	chans := make([]ChannelConfig, len(c.Channels))
	for i, ch := range c.Channels {
		chans[i] = ch.withDefaults()
	}
	c.Channels = chans
	c.Notify = c.Notify.withDefaults()
	return c
}

func (ch ChannelConfig) withDefaults() ChannelConfig {
	if ch.Timeout == 0 {
		ch.Timeout = devices.Duration(defaultTimeout)
	}
	switch ch.Type {
	case TypeEmail:
		if ch.SMTP.TLS == "" {
			ch.SMTP.TLS = "starttls"
		}
	case TypeSMSHTTP:
		if ch.Method == "" {
			ch.Method = "POST"
		}
		if ch.Encoding == "" {
			ch.Encoding = "json"
		}
	}
	return ch
}

func (s Settings) withDefaults() Settings {
	if s.MaxAge == 0 {
		s.MaxAge = devices.Duration(time.Hour)
	}
	if s.RetryMin == 0 {
		s.RetryMin = devices.Duration(2 * time.Second)
	}
	if s.RetryMax == 0 {
		s.RetryMax = devices.Duration(5 * time.Minute)
	}
	if s.AckTTL == 0 {
		s.AckTTL = devices.Duration(2 * time.Hour)
	}
	if s.ChannelAlarmAfter == 0 {
		s.ChannelAlarmAfter = 3
	}
	return s
}

// Location is the time zone of the shifts.
func (s Settings) Location() (*time.Location, error) {
	if s.Timezone == "" {
		return time.Local, nil
	}
	return time.LoadLocation(s.Timezone)
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// Validate checks the configuration (after WithDefaults) and names the key
// path of the first bad value.
func (c Config) Validate() error {
	people := map[string]bool{}
	for i, p := range c.People {
		path := fmt.Sprintf("people[%d]", i)
		if !namePattern.MatchString(p.Name) {
			return fieldErr(path+".name", "%q is not a name (letters, digits, . _ @ -)", p.Name)
		}
		if isReserved(p.Name) {
			return fieldErr(path+".name", "%q is a reserved word of `to`", p.Name)
		}
		if people[p.Name] {
			return fieldErr(path+".name", "%q is listed twice", p.Name)
		}
		people[p.Name] = true
		if p.Lang != "" && p.Lang != LangZH && p.Lang != LangEN {
			return fieldErr(path+".lang", "%q is not zh-CN or en", p.Lang)
		}
		for j, s := range p.Sites {
			if !devices.ValidID(s) {
				return fieldErr(fmt.Sprintf("%s.sites[%d]", path, j), "%q is not a site id", s)
			}
		}
		if p.Email != "" && !strings.Contains(p.Email, "@") {
			return fieldErr(path+".email", "%q is not an address", p.Email)
		}
		for j, r := range p.Roles {
			if !contains(roles, r) {
				return fieldErr(fmt.Sprintf("%s.roles[%d]", path, j), "%q is not one of %s", r, strings.Join(roles, ", "))
			}
		}
		for k := range p.IM {
			if k != TypeWeCom && k != TypeDingTalk && k != TypeFeishu {
				return fieldErr(path+".im."+k, "unknown robot type (wecom, dingtalk, feishu)")
			}
		}
	}
	for i, r := range c.Rosters {
		path := fmt.Sprintf("rosters[%d]", i)
		if len(r.People) == 0 {
			return fieldErr(path+".people", "empty: a roster names who is on duty")
		}
		for j, n := range r.People {
			if !people[n] {
				return fieldErr(fmt.Sprintf("%s.people[%d]", path, j), "%q is not in people", n)
			}
		}
		if len(r.Shifts) == 0 {
			return fieldErr(path+".shifts", "empty: say when, e.g. \"mon-sun 00:00-24:00\"")
		}
		for j, s := range r.Shifts {
			if _, err := ParseShift(s); err != nil {
				return fieldErr(fmt.Sprintf("%s.shifts[%d]", path, j), "%q: %v", s, err)
			}
		}
	}
	chans := map[string]bool{}
	for i, ch := range c.Channels {
		path := fmt.Sprintf("channels[%d]", i)
		if !namePattern.MatchString(ch.Name) {
			return fieldErr(path+".name", "%q is not a name", ch.Name)
		}
		if chans[ch.Name] {
			return fieldErr(path+".name", "%q is listed twice", ch.Name)
		}
		chans[ch.Name] = true
		if err := ch.validate(path); err != nil {
			return err
		}
	}
	return c.Notify.validate(people, chans)
}

func (ch ChannelConfig) validate(path string) error {
	if !contains(channelTypes, ch.Type) {
		return fieldErr(path+".type", "%q is not one of %s", ch.Type, strings.Join(channelTypes, ", "))
	}
	if ch.Timeout < 0 {
		return fieldErr(path+".timeout", "negative")
	}
	needURL := func() error {
		u, err := url.Parse(strings.ReplaceAll(ch.URL, "{{", ""))
		if ch.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// A URL may carry a token (robots): never repeat it.
			return fieldErr(path+".url", "not an http(s) URL")
		}
		return nil
	}
	switch ch.Type {
	case TypeWebhook:
		if err := needURL(); err != nil {
			return err
		}
		if len(ch.Secret) < minWebhookSecret {
			return fieldErr(path+".secret", "shorter than %d characters", minWebhookSecret)
		}
	case TypeWeCom, TypeDingTalk, TypeFeishu:
		if err := needURL(); err != nil {
			return err
		}
		if ch.Type == TypeWeCom && ch.Secret != "" {
			return fieldErr(path+".secret", "a WeCom robot takes no secret (its key is in the url)")
		}
	case TypeEmail:
		s := ch.SMTP
		if s.Addr == "" || !strings.Contains(s.Addr, ":") {
			return fieldErr(path+".smtp.addr", "%q is not host:port", s.Addr)
		}
		if !strings.Contains(s.From, "@") {
			return fieldErr(path+".smtp.from", "%q is not an address", s.From)
		}
		if s.TLS != "none" && s.TLS != "starttls" && s.TLS != "tls" {
			return fieldErr(path+".smtp.tls", "%q is not none, starttls or tls", s.TLS)
		}
		if (s.Username == "") != (s.Password == "") {
			return fieldErr(path+".smtp", "username and password go together")
		}
	case TypeSMSHTTP:
		if err := needURL(); err != nil {
			return err
		}
		if m := strings.ToUpper(ch.Method); m != "POST" && m != "GET" && m != "PUT" {
			return fieldErr(path+".method", "%q is not POST, GET or PUT", ch.Method)
		}
		if ch.Encoding != "json" && ch.Encoding != "form" && ch.Encoding != "text" {
			return fieldErr(path+".encoding", "%q is not json, form or text", ch.Encoding)
		}
		if err := checkPlaceholders(ch.Body); err != nil {
			return fieldErr(path+".body", "%v", err)
		}
		if err := checkPlaceholders(ch.URL); err != nil {
			return fieldErr(path+".url", "%v", err)
		}
	}
	return nil
}

func (s Settings) validate(people, chans map[string]bool) error {
	if s.MaxAge <= 0 {
		return fieldErr("notify.max_age", "must be positive")
	}
	if s.RetryMin <= 0 || s.RetryMax < s.RetryMin {
		return fieldErr("notify.retry_max", "must be at least notify.retry_min (%s)", s.RetryMin.Std())
	}
	if s.Timezone != "" {
		if _, err := time.LoadLocation(s.Timezone); err != nil {
			return fieldErr("notify.timezone", "%q is not an IANA time zone", s.Timezone)
		}
	}
	if s.PublicURL != "" {
		u, err := url.Parse(s.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fieldErr("notify.public_url", "%q is not an http(s) URL", s.PublicURL)
		}
		if len(s.AckSecret) < minAckSecret {
			return fieldErr("notify.ack_secret", "shorter than %d characters (needed with notify.public_url)", minAckSecret)
		}
	}
	if s.AckSecret != "" && len(s.AckSecret) < minAckSecret {
		return fieldErr("notify.ack_secret", "shorter than %d characters", minAckSecret)
	}
	if s.AckTTL <= 0 {
		return fieldErr("notify.ack_ttl", "must be positive")
	}
	if s.ChannelAlarmAfter < 1 {
		return fieldErr("notify.channel_alarm_after", "must be at least 1")
	}
	levels := map[int]bool{}
	for i, p := range s.Policies {
		path := fmt.Sprintf("notify.policies[%d]", i)
		if p.Level < 1 || p.Level > 3 {
			return fieldErr(path+".level", "%d is not 1, 2 or 3", p.Level)
		}
		if levels[p.Level] {
			return fieldErr(path+".level", "level %d has two policies", p.Level)
		}
		levels[p.Level] = true
		var prev time.Duration
		for j, st := range p.Steps {
			sp := fmt.Sprintf("%s.steps[%d]", path, j)
			if st.After < 0 {
				return fieldErr(sp+".after", "negative")
			}
			if j > 0 && st.After.Std() < prev {
				return fieldErr(sp+".after", "%s comes before the step above (%s)", st.After.Std(), prev)
			}
			prev = st.After.Std()
			if len(st.To) == 0 {
				return fieldErr(sp+".to", "empty")
			}
			for k, to := range st.To {
				if !isReserved(to) && !people[to] {
					return fieldErr(fmt.Sprintf("%s.to[%d]", sp, k), "%q is not a person, a role, on_duty, assignee or reporter", to)
				}
			}
			if len(st.Via) == 0 {
				return fieldErr(sp+".via", "empty")
			}
			for k, v := range st.Via {
				if !chans[v] {
					return fieldErr(fmt.Sprintf("%s.via[%d]", sp, k), "%q is not a channel", v)
				}
			}
		}
	}
	return nil
}

func isReserved(s string) bool {
	return s == ToOnDuty || s == ToAssignee || s == ToReporter || contains(roles, s)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// errNoAddress marks a page its channel cannot carry to its recipient
// (no email address, no phone): retrying would not help.
var errNoAddress = errors.New("recipient has no address for this channel")

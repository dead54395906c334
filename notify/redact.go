package notify

import (
	"fmt"
	"log/slog"
	"net/url"
)

const redacted = "[redacted]"

// redactURL keeps the scheme and host of a URL: robot and SMS URLs carry
// their keys in the path or the query.
func redactURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return redacted
	}
	return u.Scheme + "://" + u.Host + "/" + redacted
}

func hide(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

type plainChannel ChannelConfig

func (c ChannelConfig) redacted() plainChannel {
	c.URL = redactURL(c.URL)
	c.Secret = hide(c.Secret)
	c.SMTP.Password = hide(c.SMTP.Password)
	h := make(map[string]string, len(c.Headers))
	for k, v := range c.Headers {
		h[k] = hide(v) // Authorization and API key headers
	}
	if c.Headers != nil {
		c.Headers = h
	}
	return plainChannel(c)
}

// String prints the channel without its secrets, so a logged or printed
// configuration never shows them.
func (c ChannelConfig) String() string { return fmt.Sprintf("%+v", c.redacted()) }

// GoString is String, for %#v.
func (c ChannelConfig) GoString() string { return c.String() }

// LogValue is String, for slog.
func (c ChannelConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

type plainSMTP SMTPConfig

// String prints the relay without its password.
func (s SMTPConfig) String() string {
	s.Password = hide(s.Password)
	return fmt.Sprintf("%+v", plainSMTP(s))
}

// GoString is String, for %#v.
func (s SMTPConfig) GoString() string { return s.String() }

type plainSettings Settings

// String prints the settings without the ack key.
func (s Settings) String() string {
	s.AckSecret = hide(s.AckSecret)
	return fmt.Sprintf("%+v", plainSettings(s))
}

// GoString is String, for %#v.
func (s Settings) GoString() string { return s.String() }

// LogValue is String, for slog.
func (s Settings) LogValue() slog.Value { return slog.StringValue(s.String()) }

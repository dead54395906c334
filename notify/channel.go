package notify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Channel carries a message to its recipient. Send makes one attempt; the
// caller retries with backoff. An error means not delivered (retry unless
// IsPermanent); the Result, when not zero, keeps the receiver's answer for
// the record either way.
type Channel interface {
	Send(ctx context.Context, m Message) (Result, error)
}

// Result is the channel's answer to one attempt.
type Result struct {
	Status int    `json:"status,omitempty"` // HTTP status; SMTP: 250 when accepted
	Body   string `json:"body,omitempty"`   // excerpt of the answer
}

// Options are what channels take besides their configuration.
type Options struct {
	// HTTP is the client of webhook, robot and SMS channels; nil: a client
	// of its own (the channel's timeout applies per attempt either way).
	HTTP *http.Client
	// Logger of the log channel (and nothing else). Nil: slog.Default().
	Logger *slog.Logger
	// Now stamps robot signatures. Nil: time.Now.
	Now func() time.Time
}

// NewChannel builds the channel of one configuration entry (defaults
// filled in and validated first). Its errors never repeat a secret.
func NewChannel(cfg ChannelConfig, opt Options) (Channel, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate("channel " + cfg.Name); err != nil {
		return nil, err
	}
	if opt.HTTP == nil {
		opt.HTTP = &http.Client{}
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	switch cfg.Type {
	case TypeWebhook:
		return &Webhook{url: cfg.URL, secret: []byte(cfg.Secret), timeout: cfg.Timeout.Std(), client: opt.HTTP}, nil
	case TypeEmail:
		return newEmail(cfg), nil
	case TypeWeCom, TypeDingTalk, TypeFeishu:
		return &Robot{kind: cfg.Type, url: cfg.URL, secret: cfg.Secret, timeout: cfg.Timeout.Std(), client: opt.HTTP, now: opt.Now}, nil
	case TypeSMSHTTP:
		return &SMSHTTP{cfg: cfg, client: opt.HTTP}, nil
	case TypeLog:
		return &Log{logger: opt.Logger.With("component", "notify", "channel", cfg.Name)}, nil
	}
	return nil, fmt.Errorf("channel %s: unknown type", cfg.Name)
}

// NewChannels builds every configured channel, by name.
func NewChannels(cfgs []ChannelConfig, opt Options) (map[string]Channel, error) {
	out := make(map[string]Channel, len(cfgs))
	for _, c := range cfgs {
		ch, err := NewChannel(c, opt)
		if err != nil {
			return nil, err
		}
		out[c.Name] = ch
	}
	return out, nil
}

// post sends one HTTP request and reads the start of the answer. Errors
// name the host only: robot and SMS URLs carry keys.
func post(ctx context.Context, client *http.Client, timeout time.Duration, method, target string, header http.Header, body []byte) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u, err := url.Parse(target)
	if err != nil {
		return Result{}, &Permanent{Err: fmt.Errorf("bad url")}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return Result{}, &Permanent{Err: fmt.Errorf("request to %s: bad request", u.Host)}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("%s %s: %w", method, u.Host, redactErr(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	res := Result{Status: resp.StatusCode, Body: excerpt(b)}
	if resp.StatusCode/100 != 2 {
		return res, fmt.Errorf("%s %s: answered %s", method, u.Host, resp.Status)
	}
	return res, nil
}

// redactErr drops the URL (with its query keys) from a client error.
func redactErr(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return fmt.Errorf("%s", ue.Err)
	}
	return err
}

// Log is the channel that only records: the page shows in the ticket's
// history and the UI, and nobody is disturbed (the demo uses it).
type Log struct {
	logger *slog.Logger
}

// Send logs who would have been paged.
func (l *Log) Send(ctx context.Context, m Message) (Result, error) {
	l.logger.InfoContext(ctx, "page", "delivery", m.ID, "ticket", m.Incident.Number, "step", m.Step,
		"recipient", m.Recipient.Name, "subject", m.Subject)
	return Result{Body: "logged"}, nil
}

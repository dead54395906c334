package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	mail "github.com/wneessen/go-mail"
)

// Email sends one message per recipient through an SMTP relay: plain text
// in UTF-8, the subject MIME-encoded (so Chinese subjects arrive intact),
// a Message-ID made of the delivery id and an X-Caretaker-Delivery header,
// so a copy sent again after a crash can be recognised. TLS is none,
// starttls (required, not opportunistic) or tls (implicit); login when a
// username is set.
type Email struct {
	cfg     SMTPConfig
	timeout time.Duration
}

func newEmail(cfg ChannelConfig) *Email {
	return &Email{cfg: cfg.SMTP, timeout: cfg.Timeout.Std()}
}

// Send makes one attempt.
func (e *Email) Send(ctx context.Context, m Message) (Result, error) {
	if m.Recipient.Email == "" {
		return Result{}, &Permanent{Err: errNoAddress}
	}
	msg := mail.NewMsg()
	if err := msg.From(e.cfg.From); err != nil {
		return Result{}, &Permanent{Err: fmt.Errorf("smtp.from: %w", err)}
	}
	if err := msg.To(m.Recipient.Email); err != nil {
		return Result{}, &Permanent{Err: fmt.Errorf("recipient address: %w", err)}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@caretaker")
	msg.SetGenHeader(mail.Header(HeaderDelivery), m.ID)
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, m.Body)

	client, err := e.client()
	if err != nil {
		return Result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		// go-mail's errors name the server and its answer, never the password.
		return Result{}, fmt.Errorf("smtp %s: %w", e.cfg.Addr, err)
	}
	return Result{Status: 250, Body: "accepted by " + e.cfg.Addr}, nil
}

func (e *Email) client() (*mail.Client, error) {
	host, portS, err := net.SplitHostPort(e.cfg.Addr)
	if err != nil {
		return nil, &Permanent{Err: fmt.Errorf("smtp.addr: %w", err)}
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return nil, &Permanent{Err: errors.New("smtp.addr: bad port")}
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(e.timeout), mail.WithHELO("caretaker")}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if e.cfg.CAFile != "" {
		pem, err := os.ReadFile(e.cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &Permanent{Err: errors.New("smtp.ca_file: no certificate found")}
		}
		tc.RootCAs = pool
	}
	switch e.cfg.TLS {
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case "tls":
		opts = append(opts, mail.WithSSL(), mail.WithTLSConfig(tc))
	default: // starttls
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory), mail.WithTLSConfig(tc))
	}
	if e.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(e.cfg.Username), mail.WithPassword(e.cfg.Password))
	}
	c, err := mail.NewClient(host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return c, nil
}

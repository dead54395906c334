package notify

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

func readMail(t *testing.T, raw []byte) (*mail.Message, string, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse mail: %v\n%s", err, raw)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject %q: %v", msg.Header.Get("Subject"), err)
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(msg.Body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return msg, subject, strings.ReplaceAll(string(b), "\r\n", "\n")
}

// TestEmailOverSMTP sends through a real SMTP server (aiosmtpd) in each
// TLS mode and reads the delivered Maildir: one message per recipient,
// the Chinese subject decoded intact, the body in UTF-8, the delivery id
// in the headers.
func TestEmailOverSMTP(t *testing.T) {
	for _, mode := range []struct {
		name string
		srv  testserver.SMTPTLS
		tls  string
	}{{"none", testserver.SMTPPlain, "none"}, {"starttls", testserver.SMTPStartTLS, "starttls"}, {"tls", testserver.SMTPImplicit, "tls"}} {
		t.Run(mode.name, func(t *testing.T) {
			srv := testserver.SMTP(t, mode.srv)
			ch, err := NewChannel(ChannelConfig{Name: "mail", Type: TypeEmail,
				SMTP: SMTPConfig{Addr: srv.Addr, From: "caretaker@example.com", TLS: mode.tls, CAFile: srv.CAFile}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			pgZH, in := samplePage("mail", LangZH)
			pgEN := pgZH
			pgEN.Recipient = Person{Name: "sup1", Email: "sup1@example.com", Lang: LangEN}
			pgEN.ID = DeliveryID(in.TicketID, in.OpenedAt, "1", "sup1", "mail")
			for _, pg := range []Page{pgZH, pgEN} {
				res, err := ch.Send(context.Background(), NewMessage(pg, in, "https://ct.example.com/ack/tok"))
				if err != nil {
					t.Fatalf("Send to %s: %v", pg.Recipient.Email, err)
				}
				if res.Status != 250 {
					t.Errorf("result %+v", res)
				}
			}
			got := srv.WaitMessages(t, 2, 10*time.Second)
			if len(got) != 2 {
				t.Fatalf("%d messages, want one per recipient", len(got))
			}
			byTo := map[string][]byte{}
			for _, raw := range got {
				msg, _ := mail.ReadMessage(bytes.NewReader(raw))
				byTo[msg.Header.Get("To")] = raw
			}
			msg, subject, body := readMail(t, byTo["<tech1@example.com>"])
			// On the wire the subject is 7-bit: RFC 2047 encoded words.
			if raw := msg.Header.Get("Subject"); !strings.HasPrefix(strings.ToUpper(raw), "=?UTF-8?") || !isASCII(raw) {
				t.Errorf("raw subject %q is not MIME-encoded", raw)
			}
			if subject != "【一级紧急】BX20261202-0042 gas · Garden Court / B2 / garage ramp" {
				t.Errorf("subject %q (raw %q)", subject, msg.Header.Get("Subject"))
			}
			if !strings.Contains(body, "一级紧急工单 BX20261202-0042 需要处理。\n") ||
				!strings.Contains(body, "传感器：gas 35 %LEL (limit 25 %LEL) on gas-b2-07\n") ||
				!strings.Contains(body, "确认接单：https://ct.example.com/ack/tok") {
				t.Errorf("body:\n%s", body)
			}
			if msg.Header.Get("X-Caretaker-Delivery") != pgZH.ID || msg.Header.Get("Message-Id") != "<"+pgZH.ID+"@caretaker>" {
				t.Errorf("ids: %q %q", msg.Header.Get("X-Caretaker-Delivery"), msg.Header.Get("Message-Id"))
			}
			if !strings.Contains(msg.Header.Get("From"), "caretaker@example.com") ||
				!strings.Contains(strings.ToLower(msg.Header.Get("Content-Type")), "charset=utf-8") {
				t.Errorf("headers %v", msg.Header)
			}
			_, subjectEN, _ := readMail(t, byTo["<sup1@example.com>"])
			if !strings.HasPrefix(subjectEN, "[L1 emergency] BX20261202-0042") {
				t.Errorf("english subject %q", subjectEN)
			}
		})
	}
}

// TestEmailStartTLSRequired: with tls: starttls, a relay that offers no
// STARTTLS is refused (never a silent plain-text fallback).
func TestEmailStartTLSRequired(t *testing.T) {
	srv := testserver.SMTP(t, testserver.SMTPPlain)
	ch, _ := NewChannel(ChannelConfig{Name: "mail", Type: TypeEmail,
		SMTP: SMTPConfig{Addr: srv.Addr, From: "caretaker@example.com", TLS: "starttls"}}, Options{})
	pg, in := samplePage("mail", LangZH)
	if _, err := ch.Send(context.Background(), NewMessage(pg, in, "")); err == nil {
		t.Fatal("sent over plain text although starttls is required")
	}
	if n := len(srv.Messages(t)); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestEmailNeedsAnAddress(t *testing.T) {
	ch, _ := NewChannel(ChannelConfig{Name: "mail", Type: TypeEmail,
		SMTP: SMTPConfig{Addr: "127.0.0.1:1", From: "caretaker@example.com", TLS: "none"}}, Options{})
	pg, in := samplePage("mail", LangZH)
	pg.Recipient.Email = ""
	if _, err := ch.Send(context.Background(), NewMessage(pg, in, "")); !IsPermanent(err) {
		t.Errorf("no address: %v", err)
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// TestEmailLogin: STARTTLS, then AUTH with the configured user; a wrong
// password is refused and its error does not repeat it.
func TestEmailLogin(t *testing.T) {
	srv := testserver.SMTPLogin(t, "caretaker", "smtp-pass-123456")
	pg, in := samplePage("mail", LangZH)
	send := func(password string) error {
		ch, err := NewChannel(ChannelConfig{Name: "mail", Type: TypeEmail, SMTP: SMTPConfig{Addr: srv.Addr, From: "caretaker@example.com",
			TLS: "starttls", CAFile: srv.CAFile, Username: "caretaker", Password: password}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ch.Send(context.Background(), NewMessage(pg, in, ""))
		return err
	}
	err := send("wrong-pass-999999")
	if err == nil || !strings.Contains(err.Error(), "535") || strings.Contains(err.Error(), "wrong-pass-999999") {
		t.Fatalf("wrong password: err = %v", err)
	}
	if err := send("smtp-pass-123456"); err != nil {
		t.Fatalf("login: %v", err)
	}
	got := srv.WaitMessages(t, 1, 10*time.Second)
	if _, subject, _ := readMail(t, got[0]); !strings.HasPrefix(subject, "【一级紧急】") {
		t.Errorf("subject %q", subject)
	}
}

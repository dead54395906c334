package notify

import (
	"strings"
	"testing"
	"time"
)

var gasIncident = Incident{
	TicketID: 42, Number: "BX20261202-0042", Level: 1, Category: "gas",
	Site: "Garden Court", Building: "B2", Location: "garage ramp",
	AlarmID: "gas-b2-07/gas-high", Observation: "gas 35 %LEL (limit 25 %LEL) on gas-b2-07",
	Description: "smell of gas {{code}} %s <b>",
	OpenedAt:    time.Date(2026, 12, 2, 9, 31, 0, 0, time.UTC), Code: "4711",
}

func TestRenderLanguages(t *testing.T) {
	cases := []struct {
		lang        string
		wantSubject string
		wantBody    []string
	}{
		{LangEN, "[L1 emergency] BX20261202-0042 gas · Garden Court / B2 / garage ramp", []string{
			"L1 emergency ticket BX20261202-0042 needs someone.",
			"Place: Garden Court / B2 / garage ramp",
			"Sensor: gas 35 %LEL (limit 25 %LEL) on gas-b2-07",
			"Report: smell of gas {{code}} %s <b>",
			"Acknowledge: https://ct.example.com/ack/tok",
		}},
		{LangZH, "【一级紧急】BX20261202-0042 gas · Garden Court / B2 / garage ramp", []string{
			"一级紧急工单 BX20261202-0042 需要处理。",
			"位置：Garden Court / B2 / garage ramp",
			"传感器：gas 35 %LEL (limit 25 %LEL) on gas-b2-07",
			"确认接单：https://ct.example.com/ack/tok",
		}},
		{"", "【一级紧急】", nil}, // no language: zh-CN
	}
	for _, tc := range cases {
		pg := Page{ID: "d-42-x", Step: "1", Channel: "mail", Recipient: Person{Name: "tech1", Lang: tc.lang}}
		m := NewMessage(pg, gasIncident, "https://ct.example.com/ack/tok")
		if !strings.HasPrefix(m.Subject, tc.wantSubject) {
			t.Errorf("%s subject = %q, want %q", tc.lang, m.Subject, tc.wantSubject)
		}
		for _, w := range tc.wantBody {
			if !strings.Contains(m.Body, w+"\n") {
				t.Errorf("%s body lacks %q:\n%s", tc.lang, w, m.Body)
			}
		}
		// Only the reporter sees the code, even where a description
		// names the placeholder.
		if strings.Contains(m.Body, "4711") || strings.Contains(m.Subject, "4711") || m.Incident.Code != "" {
			t.Errorf("%s: the verification code reached a non-reporter:\n%s", tc.lang, m.Body)
		}
	}
}

func TestRenderReporterGetsCodeNoAckLink(t *testing.T) {
	pg := Page{ID: "d-42-r", Step: "1", Channel: "sms", Recipient: Person{Name: "Ms Wang", Phone: "+86139", Lang: LangEN, IsReporter: true}}
	m := NewMessage(pg, gasIncident, "https://ct.example.com/ack/tok")
	if m.AckURL != "" || strings.Contains(m.Body, "/ack/") {
		t.Errorf("reporter got an ack link: %q / %q", m.AckURL, m.Body)
	}
	if !strings.Contains(m.Body, "Verification code: 4711") || m.Type != TypeReport {
		t.Errorf("reporter body:\n%s", m.Body)
	}
}

func TestRenderCleansControlCharacters(t *testing.T) {
	in := gasIncident
	in.Location = "ramp\r\nBcc: evil@example.com"
	in.Description = "line1\nline2\x1b[31m\x00"
	m := NewMessage(Page{Recipient: Person{Lang: LangEN}}, in, "")
	if strings.ContainsAny(m.Subject, "\r\n") {
		t.Errorf("subject has a line break: %q", m.Subject)
	}
	if strings.ContainsAny(m.Body, "\x1b\x00\r") || !strings.Contains(m.Body, "line1\nline2[31m") {
		t.Errorf("body = %q", m.Body)
	}
	if strings.Contains(m.Body, "Acknowledge") {
		t.Error("no ack url, but an Acknowledge line")
	}
}

// A page about an alarm nobody triaged names the alarm and its rule, not
// a ticket: there is none yet.
func TestRenderUntriagedAlarm(t *testing.T) {
	in := Incident{Level: 2, Category: "gas", Site: "Garden Court", Building: "B2", Location: "boiler room",
		AlarmID: "gas-lel-warning/gas-b2-07/1", Rule: "Gas above pre-alarm level", Observation: "lel_pct 12 >= 10 (gas-b2-07)"}
	for _, tc := range []struct {
		lang, subject, first string
	}{
		{LangEN, "[L2] alarm Gas above pre-alarm level · Garden Court / B2 / boiler room",
			"L2 alarm “Gas above pre-alarm level” has waited for triage past its time limit: nobody has looked at it yet."},
		{LangZH, "【二级】告警 Gas above pre-alarm level · Garden Court / B2 / boiler room",
			"二级告警“Gas above pre-alarm level”超时未研判，尚无人处理。"},
	} {
		m := NewMessage(Page{ID: "d-x", Step: "triage", Channel: "sms", Recipient: Person{Name: "sup1", Lang: tc.lang}}, in, "")
		if m.Subject != tc.subject {
			t.Errorf("%s subject %q, want %q", tc.lang, m.Subject, tc.subject)
		}
		if !strings.HasPrefix(m.Body, tc.first+"\n") || !strings.Contains(m.Body, "lel_pct 12 >= 10 (gas-b2-07)") {
			t.Errorf("%s body:\n%s", tc.lang, m.Body)
		}
		if strings.Contains(m.Body, "ticket") || strings.Contains(m.Body, "工单") {
			t.Errorf("%s body speaks of a ticket:\n%s", tc.lang, m.Body)
		}
	}
}

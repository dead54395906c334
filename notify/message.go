package notify

import (
	"fmt"
	"strings"
	"unicode"
)

// Message types.
const (
	// TypePage asks someone to act on a ticket.
	TypePage = "page"
	// TypeReport tells a reporter their report is in (with the
	// verification code of in-home work).
	TypeReport = "report"
	// TypeAccepted tells a reporter who took the work and when they are
	// due on site.
	TypeAccepted = "accepted"
	// TypeETA tells a reporter the technician cannot arrive within the
	// time limit, and when they will.
	TypeETA = "eta"
	// TypeResolved tells a reporter the work is done and that the control
	// room calls back to confirm it.
	TypeResolved = "resolved"
)

// Message is one page ready for a channel: the delivery id, who it is
// for, and the text in the recipient's language.
type Message struct {
	ID        string // delivery id
	Type      string // TypePage or TypeReport
	Step      string
	Channel   string
	Incident  Incident
	Recipient Person
	Subject   string
	Body      string // plain text
	AckURL    string // empty: none (no notify.ack_secret); for a reporter, the link of the resolved message
}

// NewMessage renders a page for its recipient. ackURL is the signed link
// of the recipient (empty for none): a page's ack link, or for a reporter
// the link of the resolved message (confirm or dispute the work, leave
// the callback score); a reporter's other messages carry no link. The
// verification code only ever goes to a reporter.
func NewMessage(pg Page, in Incident, ackURL string) Message {
	m := Message{ID: pg.ID, Type: TypePage, Step: pg.Step, Channel: pg.Channel, Incident: in, Recipient: pg.Recipient}
	if pg.Recipient.IsReporter {
		m.Type = TypeReport
		if pg.Type == TypeAccepted || pg.Type == TypeResolved || pg.Type == TypeETA {
			// Only the first message carries the code.
			m.Type, m.Incident.Code = pg.Type, ""
		}
		if pg.Type == TypeResolved {
			m.AckURL = ackURL
		}
	} else {
		m.AckURL = ackURL
		// Only the reporter may see the code.
		m.Incident.Code = ""
	}
	m.Subject, m.Body = Render(m)
	return m
}

type words struct {
	level                                  [4]string
	page, report, place, sensor, said, ack string
	code, codeHint, sep, open, close       string
	accepted, acceptedETA, resolved        string
	acceptedSubj, resolvedSubj, done       string
	eta, etaSubj                           string
	verdict                                string
	triage, alarm                          string
}

var dict = map[string]words{
	LangEN: {
		level:    [4]string{"", "L1 emergency", "L2", "L3"},
		page:     "%s ticket %s needs someone.",
		report:   "Your report %s is received; we are on it.",
		place:    "Place",
		sensor:   "Sensor",
		said:     "Report",
		ack:      "Acknowledge",
		code:     "Verification code",
		codeHint: "give it to the technician when they arrive, to nobody else",
		sep:      ": ",
		open:     "[",
		close:    "] ",

		accepted:     "Technician %s has taken on your report %s.",
		acceptedETA:  "Expected on site by %s.",
		acceptedSubj: "technician on the way",
		eta:          "%s cannot be there within 20 minutes: expected on site by %s.",
		etaSubj:      "technician delayed",
		resolved:     "The work on your report %s is done.",
		resolvedSubj: "work done",
		done:         "Please check it: the control room will call you back to confirm it is fixed. If it is not, say so when they call, or call the control room.",
		verdict:      "Confirm it is fixed, or tell us it is not, and rate the work",
		triage:       "%s alarm “%s” has waited for triage past its time limit: nobody has looked at it yet.",
		alarm:        "alarm",
	},
	LangZH: {
		level:    [4]string{"", "一级紧急", "二级", "三级"},
		page:     "%s工单 %s 需要处理。",
		report:   "您的报修 %s 已受理，我们正在处理。",
		place:    "位置",
		sensor:   "传感器",
		said:     "报修内容",
		ack:      "确认接单",
		code:     "验证码",
		codeHint: "维修人员上门时请出示给他，切勿告诉他人",
		sep:      "：",
		open:     "【",
		close:    "】",

		accepted:     "维修师傅 %s 已接单，处理您的报修 %s。",
		acceptedETA:  "预计 %s 前到达。",
		acceptedSubj: "师傅已接单",
		eta:          "%s 无法在 20 分钟内到达，预计 %s 前到场。",
		etaSubj:      "师傅将晚到",
		resolved:     "您的报修 %s 已处理完毕。",
		resolvedSubj: "已完工",
		done:         "请查验：监控中心将回访确认是否修好。如未修好，请在回访时告知，或致电监控中心。",
		verdict:      "确认修好或提出异议，并评价服务",
		triage:       "%s告警“%s”超时未研判，尚无人处理。",
		alarm:        "告警",
	},
}

// Render gives the subject and plain-text body of a message in its
// recipient's language (zh-CN unless en). Text that came from people or
// devices (place, description, observation) is copied as text, never read
// as a template; control characters are dropped and the subject is one
// line.
func Render(m Message) (subject, body string) {
	w, ok := dict[m.Recipient.Lang]
	if !ok {
		w = dict[LangZH]
	}
	in := m.Incident
	level := ""
	if in.Level >= 1 && in.Level <= 3 {
		level = w.level[in.Level]
	}
	place := placeOf(in)
	var b strings.Builder
	line := func(label, v string) {
		if v = clean(v, true); v != "" {
			b.WriteString(label + w.sep + v + "\n")
		}
	}
	switch m.Type {
	case TypeAccepted:
		subject = w.open + clean(in.Number, false) + w.close + w.acceptedSubj
		b.WriteString(fmt.Sprintf(w.accepted, clean(in.Assignee, false), clean(in.Number, false)) + "\n")
		if !in.ETA.IsZero() {
			b.WriteString(fmt.Sprintf(w.acceptedETA, in.ETA.Format("2006-01-02 15:04")) + "\n")
		}
		line(w.place, place)
		return strings.TrimSpace(clean(subject, false)), b.String()
	case TypeETA:
		subject = w.open + clean(in.Number, false) + w.close + w.etaSubj
		b.WriteString(fmt.Sprintf(w.eta, clean(in.Assignee, false), in.ETA.Format("2006-01-02 15:04")) + "\n")
		line(w.place, place)
		return strings.TrimSpace(clean(subject, false)), b.String()
	case TypeResolved:
		subject = w.open + clean(in.Number, false) + w.close + w.resolvedSubj
		b.WriteString(fmt.Sprintf(w.resolved, clean(in.Number, false)) + "\n")
		line(w.place, place)
		b.WriteString(w.done + "\n")
		line(w.verdict, m.AckURL)
		return strings.TrimSpace(clean(subject, false)), b.String()
	}
	if m.Type == TypeReport {
		subject = w.open + clean(in.Number, false) + w.close + clean(place, false)
		b.WriteString(fmt.Sprintf(w.report, clean(in.Number, false)) + "\n")
		line(w.place, place)
		if in.Code != "" {
			line(w.code, in.Code+" ("+w.codeHint+")")
		}
		return strings.TrimSpace(clean(subject, false)), b.String()
	}
	if in.TicketID == 0 && in.Rule != "" { // an alarm nobody triaged: no ticket to name
		subject = w.open + level + w.close + w.alarm + " " + clean(in.Rule, false)
		if place != "" {
			subject += " · " + clean(place, false)
		}
		b.WriteString(fmt.Sprintf(w.triage, level, clean(in.Rule, false)) + "\n")
		line(w.place, place)
		line(w.sensor, in.Observation)
		return clean(subject, false), b.String()
	}
	subject = w.open + level + w.close + clean(in.Number, false)
	if c := clean(in.Category, false); c != "" {
		subject += " " + c
	}
	if place != "" {
		subject += " · " + clean(place, false)
	}
	b.WriteString(fmt.Sprintf(w.page, level, clean(in.Number, false)) + "\n")
	line(w.place, place)
	line(w.sensor, in.Observation)
	line(w.said, in.Description)
	line(w.ack, m.AckURL)
	return clean(subject, false), b.String()
}

func placeOf(in Incident) string {
	var parts []string
	for _, p := range []string{in.Site, in.Building, in.Location} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " / ")
}

// clean drops control characters; multiline keeps line breaks (as \n),
// else they become spaces.
func clean(s string, multiline bool) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			if multiline && r == '\n' {
				b.WriteRune('\n')
			} else {
				b.WriteRune(' ')
			}
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
		default:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// ForListing is the message as the ticket's history and the
// notifications API show it: a reporter's message without the
// verification code, which only the reporter may see, and a page without
// its ack_url, which only its recipient may use.
func (m Message) ForListing() Message {
	if m.Incident.Code != "" || m.AckURL != "" {
		m.Incident.Code, m.AckURL = "", ""
		m.Subject, m.Body = Render(m)
	}
	return m
}

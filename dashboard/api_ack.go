package dashboard

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"strings"
)

// Errors an Acks service returns for a link it refuses.
var (
	ErrLinkInvalid = errors.New("link is not valid")
	ErrLinkExpired = errors.New("link has expired")
	// ErrLinkClosed: the ticket is done, there is nothing to acknowledge.
	ErrLinkClosed = errors.New("ticket is closed")
)

// AckView is what the page of an ack link shows: the ticket the link is
// for, and for whom.
type AckView struct {
	Number   string
	Level    int
	Category string
	Place    string
	What     string // what the sensor saw, or what the report said
	Status   string
	Person   string
	Lang     string // the person's language (zh-CN, en); empty: the browser's
	Acked    bool   // acknowledged already, by anyone
	Done     bool   // this request acknowledged it
}

// Acks serves the ack links of pages (GET /ack/{token}, POST /ack): a
// token lets its person see and acknowledge its ticket, and nothing else.
// Errors: ErrLinkInvalid, ErrLinkExpired, ErrLinkClosed, or the
// configured NotFound.
type Acks interface {
	AckView(ctx context.Context, token string) (AckView, error)
	Acknowledge(ctx context.Context, token string) (AckView, error)
}

var ackWords = map[string]map[string]string{
	"en": {
		"title": "Acknowledge ticket", "level1": "L1 emergency", "level2": "L2", "level3": "L3",
		"place": "Place", "what": "What happened", "status": "Status", "for": "For",
		"button": "Acknowledge", "hint": "Acknowledging tells the others you are on it: nobody else is paged about this ticket.",
		"done": "Acknowledged. Nobody else will be paged about this ticket.", "already": "This ticket is acknowledged already.",
		"invalid": "This link is not valid. Open the link from your message as it came, or ask the control room.",
		"expired": "This link has expired. Ask the control room, or open the ticket in Caretaker.",
		"closed":  "This ticket is done: there is nothing to acknowledge.",
		"missing": "This ticket does not exist any more.",
		"error":   "Something went wrong. Try again, or call the control room.",
		"refused": "Link refused",
	},
	"zh-CN": {
		"title": "确认工单", "level1": "一级紧急", "level2": "二级", "level3": "三级",
		"place": "位置", "what": "情况", "status": "状态", "for": "接收人",
		"button": "确认接单", "hint": "确认后其他人就知道您在处理：此工单不再通知其他人。",
		"done": "已确认。此工单不再通知其他人。", "already": "此工单已有人确认。",
		"invalid": "此链接无效。请使用消息中原样的链接，或联系监控中心。",
		"expired": "此链接已过期。请联系监控中心，或在 Caretaker 中打开工单。",
		"closed":  "此工单已完成，无需确认。",
		"missing": "此工单已不存在。",
		"error":   "出错了。请重试，或致电监控中心。",
		"refused": "链接被拒绝",
	},
}

// linkLayout is the page of a link, ack or reporter's: a page made from
// it defines "body", what it shows of a link it does not refuse.
var linkLayout = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.T.title}}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ack.css">
</head>
<body class="ack">
<main>
{{- if .Refused}}
<h1>{{.T.refused}}</h1>
<p id="ack-refused" class="ack-error" role="alert">{{.Refused}}</p>
{{- else}}{{template "body" .}}{{end}}
</main>
</body>
</html>
`))

// linkPage is the layout with the page's own body.
func linkPage(body string) *template.Template {
	return template.Must(template.Must(linkLayout.Clone()).Parse(`{{define "body"}}` + body + `{{end}}`))
}

var ackPage = linkPage(`
<h1 id="ack-ticket" class="level-{{.V.Level}}"><span class="ack-level">{{.LevelText}}</span> {{.V.Number}}</h1>
<dl>
<dt>{{.T.place}}</dt><dd id="ack-place">{{.V.Place}}</dd>
{{- if .V.What}}<dt>{{.T.what}}</dt><dd id="ack-what">{{.V.What}}</dd>{{end}}
<dt>{{.T.status}}</dt><dd id="ack-status">{{.V.Status}}</dd>
<dt>{{.T.for}}</dt><dd id="ack-person">{{.V.Person}}</dd>
</dl>
{{- if .V.Done}}
<p id="ack-done" class="ack-ok" role="status">{{.T.done}}</p>
{{- else if .V.Acked}}
<p id="ack-done" class="ack-ok" role="status">{{.T.already}}</p>
{{- else}}
<form id="ack-form" method="post" action="/ack">
<input type="hidden" name="token" value="{{.Token}}">
<button id="ack-button" type="submit">{{.T.button}}</button>
</form>
<p class="ack-hint">{{.T.hint}}</p>
{{- end}}`)

// ackLang picks the page's language: the person's, else the browser's
// (zh-CN when it asks for Chinese first, else English).
func ackLang(person string, r *http.Request) string {
	if _, ok := ackWords[person]; ok {
		return person
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "zh"):
			return "zh-CN"
		case strings.HasPrefix(tag, "en"):
			return "en"
		}
	}
	return "en"
}

// ackShow answers GET /ack/{token}: the ticket and one Acknowledge
// button. Looking changes nothing.
func (s *Server) ackShow(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Acks == nil {
		s.ackRender(w, r, http.StatusForbidden, AckView{}, "", ErrLinkInvalid)
		return
	}
	token := r.PathValue("token")
	v, err := s.cfg.Acks.AckView(r.Context(), token)
	s.ackRender(w, r, http.StatusOK, v, token, err)
}

// ackPost answers POST /ack with the token in the form body (never a GET
// side effect, and no cookie that another site could ride on).
func (s *Server) ackPost(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Acks == nil {
		s.ackRender(w, r, http.StatusForbidden, AckView{}, "", ErrLinkInvalid)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		s.ackRender(w, r, http.StatusBadRequest, AckView{}, "", ErrLinkInvalid)
		return
	}
	token := r.PostForm.Get("token")
	v, err := s.cfg.Acks.Acknowledge(r.Context(), token)
	s.ackRender(w, r, http.StatusOK, v, token, err)
}

func (s *Server) ackRender(w http.ResponseWriter, r *http.Request, status int, v AckView, token string, err error) {
	lang := ackLang(v.Lang, r)
	t := ackWords[lang]
	data := struct {
		Lang, Token, LevelText, Refused string
		T                               map[string]string
		V                               AckView
	}{Lang: lang, Token: token, T: t, V: v}
	if v.Level >= 1 && v.Level <= 3 {
		data.LevelText = t["level"+string(rune('0'+v.Level))]
	}
	if err != nil {
		var key string
		data.Token, data.V = "", AckView{}
		status, key = s.linkRefusal(r, "ack link", status, err)
		data.Refused = t[key]
	}
	writeLinkPage(w, status, ackPage, data)
}

// linkRefusal says how a link's page answers a link it refuses: the
// status and the key of the words that tell the person why. A form that
// is not the page's own (400) stays 400.
func (s *Server) linkRefusal(r *http.Request, what string, status int, err error) (int, string) {
	switch {
	case errors.Is(err, ErrLinkExpired):
		return http.StatusGone, "expired"
	case errors.Is(err, ErrLinkInvalid):
		if status != http.StatusBadRequest {
			status = http.StatusForbidden
		}
		return status, "invalid"
	case errors.Is(err, ErrLinkClosed):
		return http.StatusConflict, "closed"
	case s.cfg.NotFound != nil && errors.Is(err, s.cfg.NotFound):
		return http.StatusNotFound, "missing"
	}
	s.log.Error(what, "method", r.Method, "err", err)
	return http.StatusInternalServerError, "error"
}

// writeLinkPage sends a link's page, never to be cached: it holds the
// token.
func writeLinkPage(w http.ResponseWriter, status int, page *template.Template, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = page.Execute(w, data)
}

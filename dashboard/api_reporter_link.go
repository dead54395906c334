package dashboard

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// ReporterLinkView is what the page of a reporter's link shows: the
// resolved ticket of the report, and whether its reporter may still
// confirm or dispute the work.
type ReporterLinkView struct {
	Number     string
	Category   string
	Place      string
	What       string // what the report said
	Resolution string // what the technician did
	Status     string
	Outcome    string // of a decided ticket: confirmed, disputed, rework
	Lang       string // the reporter's language (zh-CN, en); empty: the browser's
	Open       bool   // resolved: the verdict is still to come
	Done       string // confirm or dispute: this request recorded it
	Score      int    // the callback score recorded, 0: none
	// Parts used and, for paid service, the fee agreed on site (in
	// cents): the owner accepts them with the work.
	Parts    []ReporterPart
	Paid     bool
	FeeCents int64
}

// ReporterPart is a spare part the work used.
type ReporterPart struct {
	Name string
	Qty  int
}

// ReporterDecision is the reporter's verdict as the form sends it.
type ReporterDecision struct {
	Action string // confirm or dispute
	Reason string // dispute: what is still wrong
	Score  int    // 1-5, 0: none
	Note   string
}

// ReporterLinks serves the links of the reporter's "work done" message
// (GET /ack/r/{token}, POST /ack/r): a token lets the reporter of its
// ticket confirm or dispute the work and leave the callback score, and
// nothing else. Errors: ErrLinkInvalid, ErrLinkExpired, ErrLinkClosed
// (nothing to decide), or the configured NotFound.
type ReporterLinks interface {
	ReporterLinkView(ctx context.Context, token string) (ReporterLinkView, error)
	ReporterDecide(ctx context.Context, token string, d ReporterDecision) (ReporterLinkView, error)
}

// Longest reason and note a reporter may send.
const (
	maxReporterReason = 1000
	maxReporterNote   = 2000
)

var reporterWords = map[string]map[string]string{
	"en": {
		"title": "Your repair", "place": "Place", "what": "Your report", "resolution": "What was done",
		"ask": "Is it fixed? Please check, then tell us.", "score": "How was the work? (optional)",
		"score1": "1 bad", "score5": "5 excellent",
		"note": "Anything to add? (optional)", "confirm": "Yes, it is fixed",
		"reason": "If it is not fixed: what is still wrong?", "dispute": "It is not fixed",
		"confirmed": "Thank you: you confirmed the work.", "disputed": "Thank you: we will inspect it again.",
		"scored":     "Your score: %d/5.",
		"decided":    "Thank you: this repair is settled already.",
		"needReason": "Say what is still wrong, so the re-inspection knows what to look at.",
		"badScore":   "Choose a score from 1 to 5, or none.",
		"tooLong":    "That text is too long.",
		"invalid":    "This link is not valid. Open the link from your message as it came, or call the control room.",
		"expired":    "This link has expired. The control room will call you back, or call them.",
		"closed":     "There is nothing to confirm on this ticket.",
		"missing":    "This ticket does not exist any more.",
		"error":      "Something went wrong. Try again, or call the control room.",
		"refused":    "Link refused",
		"parts":      "Parts used", "fee": "Fee agreed on site (paid service)",
		"terms": "Confirming also accepts the parts and the fee above; if they are not right, say so below and tap “It is not fixed”.",
	},
	"zh-CN": {
		"title": "您的报修", "place": "位置", "what": "报修内容", "resolution": "处理结果",
		"ask": "修好了吗？请查验后告诉我们。", "score": "服务评价（可选）",
		"score1": "1 很差", "score5": "5 非常满意",
		"note": "其他意见（可选）", "confirm": "已修好，确认完工",
		"reason": "如未修好：还有什么问题？", "dispute": "没有修好",
		"confirmed": "谢谢：您已确认完工。", "disputed": "谢谢：我们将安排复查。",
		"scored":     "您的评分：%d/5。",
		"decided":    "谢谢：此报修已处理完结。",
		"needReason": "请说明还有什么问题，以便复查。",
		"badScore":   "请选择 1 到 5 分，或不评分。",
		"tooLong":    "内容过长。",
		"invalid":    "此链接无效。请使用短信中原样的链接，或致电监控中心。",
		"expired":    "此链接已过期。监控中心将回访您，或请致电监控中心。",
		"closed":     "此工单无需确认。",
		"missing":    "此工单已不存在。",
		"error":      "出错了。请重试，或致电监控中心。",
		"refused":    "链接被拒绝",
		"parts":      "使用备件", "fee": "现场约定费用（有偿服务）",
		"terms": "确认即同时认可以上备件和费用；如有不符，请在下方说明并点击“没有修好”。",
	},
}

var reporterPage = linkPage(`
<h1 id="rl-ticket">{{.T.title}} {{.V.Number}}</h1>
<dl>
<dt>{{.T.place}}</dt><dd id="rl-place">{{.V.Place}}</dd>
{{- if .V.What}}<dt>{{.T.what}}</dt><dd id="rl-what">{{.V.What}}</dd>{{end}}
{{- if .V.Resolution}}<dt>{{.T.resolution}}</dt><dd id="rl-resolution">{{.V.Resolution}}</dd>{{end}}
{{- if .V.Parts}}<dt>{{.T.parts}}</dt><dd><ul id="rl-parts">{{range .V.Parts}}<li>{{.Name}} × {{.Qty}}</li>{{end}}</ul></dd>{{end}}
{{- if .V.Paid}}<dt>{{.T.fee}}</dt><dd id="rl-fee">¥{{.Fee}}</dd>{{end}}
</dl>
{{- if .V.Done}}
<p id="rl-done" class="ack-ok" role="status">{{if eq .V.Done "dispute"}}{{.T.disputed}}{{else}}{{.T.confirmed}}{{end}}{{if .Scored}} {{.Scored}}{{end}}</p>
{{- else if not .V.Open}}
<p id="rl-done" class="ack-ok" role="status">{{.T.decided}}{{if .Scored}} {{.Scored}}{{end}}</p>
{{- else}}
<p>{{.T.ask}}</p>
{{- if or .V.Parts .V.Paid}}<p id="rl-terms">{{.T.terms}}</p>{{end}}
{{- if .Error}}<p id="rl-error" class="ack-error" role="alert">{{.Error}}</p>{{end}}
<form id="rl-form" method="post" action="/ack/r">
<input type="hidden" name="token" value="{{.Token}}">
<fieldset class="rl-score"><legend>{{.T.score}}</legend>
{{- range .Scores}}
<label><input type="radio" id="rl-score-{{.N}}" name="score" value="{{.N}}"{{if .Checked}} checked{{end}}> {{.Label}}</label>
{{- end}}
</fieldset>
<label for="rl-note">{{.T.note}}</label>
<textarea id="rl-note" name="note" maxlength="2000" rows="2">{{.In.Note}}</textarea>
<button id="rl-confirm" type="submit" name="action" value="confirm">{{.T.confirm}}</button>
<label for="rl-reason">{{.T.reason}}</label>
<textarea id="rl-reason" name="reason" maxlength="1000" rows="2">{{.In.Reason}}</textarea>
<button id="rl-dispute" class="rl-dispute" type="submit" name="action" value="dispute">{{.T.dispute}}</button>
</form>
{{- end}}`)

// reporterShow answers GET /ack/r/{token}: the resolved ticket and the
// form. Looking changes nothing.
func (s *Server) reporterShow(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ReporterLinks == nil {
		s.reporterRender(w, r, http.StatusForbidden, ReporterLinkView{}, "", ReporterDecision{}, "", ErrLinkInvalid)
		return
	}
	token := r.PathValue("token")
	v, err := s.cfg.ReporterLinks.ReporterLinkView(r.Context(), token)
	s.reporterRender(w, r, http.StatusOK, v, token, ReporterDecision{}, "", err)
}

// reporterPost answers POST /ack/r with the token and the verdict in the
// form body (no cookie, no GET side effect).
func (s *Server) reporterPost(w http.ResponseWriter, r *http.Request) {
	if s.cfg.ReporterLinks == nil {
		s.reporterRender(w, r, http.StatusForbidden, ReporterLinkView{}, "", ReporterDecision{}, "", ErrLinkInvalid)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.reporterRender(w, r, http.StatusBadRequest, ReporterLinkView{}, "", ReporterDecision{}, "", ErrLinkInvalid)
		return
	}
	f := r.PostForm
	token := f.Get("token")
	d := ReporterDecision{Action: f.Get("action"), Reason: strings.TrimSpace(f.Get("reason")), Note: strings.TrimSpace(f.Get("note"))}
	problem := ""
	if sc := f.Get("score"); sc != "" {
		n, err := strconv.Atoi(sc)
		if err != nil || n < 1 || n > 5 {
			problem = "badScore"
		}
		d.Score = n
	}
	switch {
	case problem != "":
	case d.Action != "confirm" && d.Action != "dispute":
		// Only the two buttons; anything else is not this page's.
		s.reporterRender(w, r, http.StatusBadRequest, ReporterLinkView{}, "", d, "", ErrLinkInvalid)
		return
	case utf8.RuneCountInString(d.Reason) > maxReporterReason || utf8.RuneCountInString(d.Note) > maxReporterNote:
		problem = "tooLong"
	case d.Action == "dispute" && d.Reason == "":
		problem = "needReason"
	}
	if problem != "" {
		v, err := s.cfg.ReporterLinks.ReporterLinkView(r.Context(), token)
		s.reporterRender(w, r, http.StatusBadRequest, v, token, d, problem, err)
		return
	}
	v, err := s.cfg.ReporterLinks.ReporterDecide(r.Context(), token, d)
	s.reporterRender(w, r, http.StatusOK, v, token, d, "", err)
}

type scoreChoice struct {
	N       int
	Label   string
	Checked bool
}

func (s *Server) reporterRender(w http.ResponseWriter, r *http.Request, status int, v ReporterLinkView, token string, in ReporterDecision, problem string, err error) {
	lang := ackLang(v.Lang, r)
	t := reporterWords[lang]
	data := struct {
		Lang, Token, Refused, Error, Scored, Fee string
		T                                        map[string]string
		V                                        ReporterLinkView
		In                                       ReporterDecision
		Scores                                   []scoreChoice
	}{Lang: lang, Token: token, T: t, V: v, In: in, Error: t[problem], Fee: ticketing.Yuan(v.FeeCents)}
	for n := 1; n <= 5; n++ {
		label := strconv.Itoa(n)
		switch n {
		case 1:
			label = t["score1"]
		case 5:
			label = t["score5"]
		}
		data.Scores = append(data.Scores, scoreChoice{N: n, Label: label, Checked: in.Score == n})
	}
	if v.Score > 0 {
		data.Scored = strings.Replace(t["scored"], "%d", strconv.Itoa(v.Score), 1)
	}
	if err != nil {
		var key string
		data.Token, data.V, data.Error = "", ReporterLinkView{}, ""
		status, key = s.linkRefusal(r, "reporter link", status, err)
		data.Refused = t[key]
	}
	writeLinkPage(w, status, reporterPage, data)
}

package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// PlaceCode is one QR code of a site: the place (and device) it is bound
// to and the URL it opens.
type PlaceCode struct {
	Site     string `json:"site"`
	Building string `json:"building"`
	Floor    string `json:"floor,omitempty"`
	Location string `json:"location,omitempty"`
	Device   string `json:"device,omitempty"`
	Kind     string `json:"kind,omitempty"` // the device's kind
	URL      string `json:"url"`
}

// PlaceCodeView is what the page of a scanned code shows: its place, and
// once a report is filed, the ticket it went to.
type PlaceCodeView struct {
	Site, Building, Floor, Location, Device, Kind string
	Number                                        string // the ticket the report went to
	Merged                                        bool   // it joined an open ticket of the place or device
}

// PlaceCodeReport is the report a scanned code files.
type PlaceCodeReport struct {
	Category    string
	Description string
	Name, Phone string
}

// ErrCodeLimited: the code has filed as many reports as it may for now.
// A *CodeLimitError carries how long until it may again.
var ErrCodeLimited = errors.New("this code has filed its reports for now")

// CodeLimitError is ErrCodeLimited with the time until the code may file
// again.
type CodeLimitError struct{ RetryAfter time.Duration }

func (e *CodeLimitError) Error() string { return ErrCodeLimited.Error() }

// Unwrap makes errors.Is(err, ErrCodeLimited) hold.
func (e *CodeLimitError) Unwrap() error { return ErrCodeLimited }

// PlaceCodes serves the QR codes of devices and public places: the codes
// of a site and their printable sheet (GET /api/sites/{site}/codes, and
// /codes/sheet?format=png|pdf, for operators), and the page a code
// opens (GET /ack/q/{token}, POST /ack/q), where anyone files one report
// about that place without an account. An unknown site is the configured
// NotFound; a refused token ErrLinkInvalid; a code over its limit a
// *CodeLimitError.
type PlaceCodes interface {
	PlaceCodeList(ctx context.Context, site string) ([]PlaceCode, error)
	PlaceSheet(ctx context.Context, site, format string) ([]byte, error)
	PlaceCodeView(ctx context.Context, token string) (PlaceCodeView, error)
	PlaceReport(ctx context.Context, token string, r PlaceCodeReport) (PlaceCodeView, error)
}

// actCodes: printing a site's codes, which let anyone report there.
var actCodes = action{name: "codes", verb: "print QR codes", roles: []string{RoleOperator}}

func (s *Server) placeCodesRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/sites/{site}/codes", s.requireRole(actCodes, s.listPlaceCodes))
	mux.HandleFunc("GET /api/sites/{site}/codes/sheet", s.requireRole(actCodes, s.placeSheet))
	mux.HandleFunc("GET /ack/q/{token}", s.placeCodeShow)
	mux.HandleFunc("POST /ack/q", s.placeCodePost)
}

// codesOf answers for a site p may not see (or codes that are off) and
// says whether the handler goes on.
func (s *Server) codesOf(w http.ResponseWriter, site string, p principal) bool {
	if s.cfg.PlaceCodes == nil {
		writeError(w, http.StatusServiceUnavailable, "QR codes are off: set qr.secret", "")
		return false
	}
	if !p.seesSite(site) {
		writeError(w, http.StatusForbidden, "site "+quoteShort(site)+": this token may not print its codes", "")
		return false
	}
	return true
}

func (s *Server) listPlaceCodes(w http.ResponseWriter, r *http.Request, p principal) {
	if !s.codesOf(w, r.PathValue("site"), p) {
		return
	}
	codes, err := s.cfg.PlaceCodes.PlaceCodeList(r.Context(), r.PathValue("site"))
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"site": r.PathValue("site"), "codes": codes})
}

func (s *Server) placeSheet(w http.ResponseWriter, r *http.Request, p principal) {
	if !s.codesOf(w, r.PathValue("site"), p) {
		return
	}
	format := r.URL.Query().Get("format")
	var ctype string
	switch format {
	case "", "png":
		format, ctype = "png", "image/png"
	case "pdf":
		ctype = "application/pdf"
	default:
		writeError(w, http.StatusBadRequest, "format: png or pdf", "format")
		return
	}
	site := r.PathValue("site")
	b, err := s.cfg.PlaceCodes.PlaceSheet(r.Context(), site, format)
	if err != nil {
		s.serviceError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", `attachment; filename="qr-codes-`+site+`.`+format+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// placeProblems are the choices of the page: what is wrong, the category
// of the report it makes. A device's kind picks the first choice.
var placeProblems = []struct{ key, category string }{
	{"leak", "water_electric"}, {"power", "water_electric"}, {"lift", "equipment"},
	{"gas", "gas"}, {"smoke", "fire"}, {"damage", "civil"}, {"dirty", "public_area"}, {"other", "public_area"},
}

var kindProblem = map[string]string{"water_leak": "leak", "power": "power", "elevator": "lift", "gas": "gas"}

var placeWords = map[string]map[string]string{
	"en": {
		"title": "Report a fault here", "place": "Place", "device": "Device",
		"ask": "What is wrong?", "details": "More details (optional)", "detailsOther": "What is wrong? (needed for \"Something else\")",
		"name": "Your name (optional)", "phone": "Your phone (optional, so we can call you back)",
		"send": "Send report", "hint": "No account needed. The place and device come from the code.",
		"p_leak": "Water is leaking", "p_power": "No power or lights out", "p_lift": "Lift not working or someone trapped",
		"p_gas": "Smell of gas", "p_smoke": "Smoke or fire", "p_damage": "Broken or damaged",
		"p_dirty": "Dirty or blocked", "p_other": "Something else",
		"created":   "Thank you. Your report is ticket %s.",
		"merged":    "Thank you. This fault is being handled already (ticket %s): your report was added to it.",
		"gasAdvice": "Smell of gas: do not switch anything on or off, open windows if safe, leave and call the control room.",
		"pick":      "Choose what is wrong.",
		"needText":  "Say what is wrong.",
		"tooLong":   "That text is too long.",
		"limited":   "This code has sent several reports just now; try again in %d minutes. If it is urgent, call the control room.",
		"invalid":   "This code is not valid. Call the control room to report the fault.",
		"expired":   "This code is no longer valid. Call the control room to report the fault.",
		"closed":    "This code cannot report now. Call the control room.",
		"missing":   "This place is not known any more. Call the control room.",
		"error":     "Something went wrong. Try again, or call the control room.",
		"refused":   "Code refused",
	},
	"zh-CN": {
		"title": "在此报修", "place": "位置", "device": "设备",
		"ask": "出了什么问题？", "details": "补充说明（可选）", "detailsOther": "出了什么问题？（选“其他”时必填）",
		"name": "您的姓名（可选）", "phone": "您的电话（可选，便于回访）",
		"send": "提交报修", "hint": "无需注册。位置和设备已由二维码带出。",
		"p_leak": "漏水", "p_power": "停电或灯不亮", "p_lift": "电梯故障或有人被困",
		"p_gas": "有燃气味", "p_smoke": "冒烟或着火", "p_damage": "损坏",
		"p_dirty": "脏污或堵塞", "p_other": "其他",
		"created":   "谢谢。您的报修单号为 %s。",
		"merged":    "谢谢。此故障已在处理中（工单 %s），您的报修已并入该工单。",
		"gasAdvice": "有燃气味：请勿开关任何电器，在安全时开窗，撤离并致电监控中心。",
		"pick":      "请选择出了什么问题。",
		"needText":  "请说明出了什么问题。",
		"tooLong":   "内容过长。",
		"limited":   "此二维码刚刚已提交多次报修，请 %d 分钟后再试。如情况紧急，请致电监控中心。",
		"invalid":   "此二维码无效。请致电监控中心报修。",
		"expired":   "此二维码已失效。请致电监控中心报修。",
		"closed":    "此二维码暂不能报修。请致电监控中心。",
		"missing":   "此位置已不存在。请致电监控中心。",
		"error":     "出错了。请重试，或致电监控中心。",
		"refused":   "二维码被拒绝",
	},
}

// Longest details, name and phone the page takes.
const (
	maxPlaceDetails = 2000
	maxPlaceShort   = 100
)

var placePage = linkPage(`
<h1 id="q-title">{{.T.title}}</h1>
<dl>
<dt>{{.T.place}}</dt><dd id="q-place">{{.Place}}</dd>
{{- if .V.Device}}<dt>{{.T.device}}</dt><dd id="q-device">{{.V.Device}}</dd>{{end}}
</dl>
{{- if .V.Number}}
<p id="q-done" class="ack-ok" role="status">{{.Done}}</p>
{{- if .Gas}}<p id="q-advice" class="ack-error">{{.T.gasAdvice}}</p>{{end}}
{{- else}}
{{- if .Error}}<p id="q-error" class="ack-error" role="alert">{{.Error}}</p>{{end}}
<form id="q-form" method="post" action="/ack/q">
<input type="hidden" name="token" value="{{.Token}}">
<fieldset class="q-problems"><legend>{{.T.ask}}</legend>
{{- range .Problems}}
<label class="q-problem"><input type="radio" id="q-p-{{.Key}}" name="problem" value="{{.Key}}"{{if .Checked}} checked{{end}}> {{.Label}}</label>
{{- end}}
</fieldset>
<label for="q-details">{{.T.detailsOther}}</label>
<textarea id="q-details" name="details" maxlength="2000" rows="2">{{.In.Details}}</textarea>
<label for="q-name">{{.T.name}}</label>
<input id="q-name" name="name" autocomplete="name" maxlength="100" value="{{.In.Name}}">
<label for="q-phone">{{.T.phone}}</label>
<input id="q-phone" name="phone" type="tel" autocomplete="tel" maxlength="100" value="{{.In.Phone}}">
<button id="q-send" type="submit">{{.T.send}}</button>
</form>
<p class="ack-hint">{{.T.hint}}</p>
{{- end}}`)

// placeInput is what the form sent.
type placeInput struct{ Problem, Details, Name, Phone string }

type problemChoice struct {
	Key, Label string
	Checked    bool
}

// placeCodeShow answers GET /ack/q/{token}: the place and the form.
// Looking changes nothing.
func (s *Server) placeCodeShow(w http.ResponseWriter, r *http.Request) {
	if s.cfg.PlaceCodes == nil {
		s.placeRender(w, r, http.StatusForbidden, PlaceCodeView{}, "", placeInput{}, "", ErrLinkInvalid)
		return
	}
	token := r.PathValue("token")
	v, err := s.cfg.PlaceCodes.PlaceCodeView(r.Context(), token)
	in := placeInput{Problem: kindProblem[v.Kind]}
	s.placeRender(w, r, http.StatusOK, v, token, in, "", err)
}

// placeCodePost answers POST /ack/q: the token and the report in the
// form body. One post files one report.
func (s *Server) placeCodePost(w http.ResponseWriter, r *http.Request) {
	if s.cfg.PlaceCodes == nil {
		s.placeRender(w, r, http.StatusForbidden, PlaceCodeView{}, "", placeInput{}, "", ErrLinkInvalid)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.placeRender(w, r, http.StatusBadRequest, PlaceCodeView{}, "", placeInput{}, "", ErrLinkInvalid)
		return
	}
	f := r.PostForm
	token := f.Get("token")
	in := placeInput{Problem: f.Get("problem"), Details: strings.TrimSpace(f.Get("details")),
		Name: strings.TrimSpace(f.Get("name")), Phone: strings.TrimSpace(f.Get("phone"))}
	category := ""
	for _, p := range placeProblems {
		if p.key == in.Problem {
			category = p.category
		}
	}
	problem := ""
	switch {
	case category == "":
		problem = "pick"
	case utf8.RuneCountInString(in.Details) > maxPlaceDetails || utf8.RuneCountInString(in.Name) > maxPlaceShort || utf8.RuneCountInString(in.Phone) > maxPlaceShort:
		problem = "tooLong"
	case in.Problem == "other" && in.Details == "":
		problem = "needText"
	}
	if problem != "" {
		v, err := s.cfg.PlaceCodes.PlaceCodeView(r.Context(), token)
		s.placeRender(w, r, http.StatusBadRequest, v, token, in, problem, err)
		return
	}
	lang := ackLang("", r)
	desc := placeWords[lang]["p_"+in.Problem]
	if in.Details != "" {
		if in.Problem == "other" {
			desc = in.Details
		} else {
			desc += ": " + in.Details
		}
	}
	v, err := s.cfg.PlaceCodes.PlaceReport(r.Context(), token, PlaceCodeReport{Category: category, Description: desc, Name: in.Name, Phone: in.Phone})
	var limited *CodeLimitError
	if errors.As(err, &limited) {
		v, err = s.cfg.PlaceCodes.PlaceCodeView(r.Context(), token)
		mins := int((limited.RetryAfter + time.Minute - 1) / time.Minute)
		w.Header().Set("Retry-After", strconv.Itoa(int((limited.RetryAfter+time.Second-1)/time.Second)))
		s.placeRenderText(w, r, http.StatusTooManyRequests, v, token, in, strings.Replace(placeWords[lang]["limited"], "%d", strconv.Itoa(mins), 1), err)
		return
	}
	if fe := (fieldNamer)(nil); errors.As(err, &fe) {
		s.placeRenderText(w, r, http.StatusBadRequest, v, token, in, err.Error(), nil)
		return
	}
	s.placeRender(w, r, http.StatusOK, v, token, in, "", err)
}

func (s *Server) placeRender(w http.ResponseWriter, r *http.Request, status int, v PlaceCodeView, token string, in placeInput, problem string, err error) {
	s.placeRenderText(w, r, status, v, token, in, placeWords[ackLang("", r)][problem], err)
}

func (s *Server) placeRenderText(w http.ResponseWriter, r *http.Request, status int, v PlaceCodeView, token string, in placeInput, msg string, err error) {
	lang := ackLang("", r)
	t := placeWords[lang]
	var place []string
	for _, p := range []string{v.Site, v.Building, v.Floor, v.Location} {
		if p != "" {
			place = append(place, p)
		}
	}
	data := struct {
		Lang, Token, Refused, Error, Place, Done string
		Gas                                      bool
		T                                        map[string]string
		V                                        PlaceCodeView
		In                                       placeInput
		Problems                                 []problemChoice
	}{Lang: lang, Token: token, T: t, V: v, In: in, Error: msg, Place: strings.Join(place, " / "), Gas: in.Problem == "gas"}
	for _, p := range placeProblems {
		data.Problems = append(data.Problems, problemChoice{Key: p.key, Label: t["p_"+p.key], Checked: in.Problem == p.key})
	}
	if v.Number != "" {
		key := "created"
		if v.Merged {
			key = "merged"
		}
		data.Done = strings.Replace(t[key], "%s", v.Number, 1)
	}
	if err != nil && !errors.Is(err, ErrCodeLimited) {
		var key string
		data.Token, data.V, data.Error = "", PlaceCodeView{}, ""
		status, key = s.linkRefusal(r, "place code", status, err)
		data.Refused = t[key]
	}
	writeLinkPage(w, status, placePage, data)
}

package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// The repair flow through the real HTTP API and the real ticketing service
// on a SQLite file, with a fake clock for the SLA clocks.

// heard records what the ticket service announces.
type heard struct {
	mu     sync.Mutex
	events []string // "type" or "type clock to" for clock events
}

func (h *heard) Notify(ev ticketing.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	typ := ev.Type
	if ce, ok := ev.Data.(ticketing.ClockEvent); ok {
		typ = strings.TrimSpace(typ + " " + ce.Clock + " " + ce.To)
	}
	h.events = append(h.events, typ)
}

func (h *heard) has(e string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.events, e)
}

type flowEstate struct {
	t     *testing.T
	clock *testkit.FakeClock
	heard *heard
	cfg   ticketing.Config
	svc   *ticketing.Service
	http  *httptest.Server
}

var flowT0 = time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)

// flowTokens are testTokens and an operator limited to site s2.
var flowTokens = append(append([]Token{}, testTokens...), Token{Name: "ops-s2", Role: RoleOperator, Token: tokOperatorS2, Sites: []string{"s2"}})

const tokOperatorS2 = "operator-s2-token-0001"

func newFlowEstate(t *testing.T, mutate ...func(*ticketing.Config)) *flowEstate {
	t.Helper()
	e := &flowEstate{t: t, clock: testkit.NewFakeClock(flowT0), heard: &heard{}}
	// No checklists unless a test asks for them (checklist_api_test.go).
	e.cfg = ticketing.Config{Path: filepath.Join(t.TempDir(), "caretaker.db"), Notifier: e.heard, Now: e.clock.Now, Checklists: []ticketing.Checklist{}}
	for _, m := range mutate {
		m(&e.cfg)
	}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *flowEstate) start() {
	e.t.Helper()
	svc, err := ticketing.Open(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	reg, err := devices.NewRegistry(devices.Catalog{})
	if err != nil {
		e.t.Fatal(err)
	}
	srv, err := NewServer(Config{Tokens: flowTokens, Registry: reg, Tickets: svc, Alarms: svc, Dispatch: svc, Triage: svc,
		Hub: NewHub(HubConfig{}), NotFound: ticketing.ErrNotFound, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc, e.http = svc, httptest.NewServer(srv.Handler())
}

func (e *flowEstate) stop() {
	if e.http != nil {
		e.http.Close()
		e.svc.Close()
		e.http = nil
	}
}

// restart closes the service and the server and opens both again on the
// same file, as a process restart would.
func (e *flowEstate) restart() {
	e.stop()
	e.start()
}

func (e *flowEstate) do(method, path, token string, body any, out any) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return e.send(req, out)
}

func (e *flowEstate) send(req *http.Request, out any) (int, string) {
	e.t.Helper()
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", req.Method, req.URL.Path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// act posts an action and wants the status code.
func (e *flowEstate) act(id int64, token string, body map[string]any, want int) (ticketing.ActionResult, string) {
	e.t.Helper()
	var res ticketing.ActionResult
	status, raw := e.do("POST", fmt.Sprintf("/api/tickets/%d/actions", id), token, body, &res)
	if status != want {
		e.t.Fatalf("%v on ticket %d: status %d, want %d: %s", body, id, status, want, raw)
	}
	return res, raw
}

func (e *flowEstate) get(id int64, token string) ticketing.Ticket {
	e.t.Helper()
	var tk ticketing.Ticket
	if status, raw := e.do("GET", fmt.Sprintf("/api/tickets/%d", id), token, nil, &tk); status != 200 {
		e.t.Fatalf("GET ticket %d: %d %s", id, status, raw)
	}
	return tk
}

func (e *flowEstate) tick() {
	e.t.Helper()
	if err := e.svc.Tick(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func gasRaise(at time.Time) rules.Alarm {
	return rules.Alarm{ID: rules.AlarmID("gas-lel-critical", "gas-b2-07", at), RuleID: "gas-lel-critical",
		Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Location: "B2 boiler room",
		Metric: "lel_pct", Severity: rules.Critical, Level: 1, State: rules.Raised, Value: 35, Peak: 35,
		Message: "lel_pct 35.0 >= 20", RaisedAt: at}
}

func historyActions(tk ticketing.Ticket) []string {
	var out []string
	for _, h := range tk.History {
		out = append(out, h.Action)
	}
	return out
}

// Timeline: at 0 gas in B2 opens an L1 ticket; at +90s a resident's report
// of the smell joins it; nobody claims; at +5m it is escalated to the
// supervisor; a restart at +6m loses nothing and the chain goes on.
func TestAPISensorL1EscalatesWhenUnclaimedAndSurvivesRestart(t *testing.T) {
	e := newFlowEstate(t)
	if err := e.svc.HandleAlarm(context.Background(), gasRaise(e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	var list struct{ Tickets []ticketing.Ticket }
	if status, raw := e.do("GET", "/api/tickets?source=sensor", tokOperator, nil, &list); status != 200 || len(list.Tickets) != 1 {
		t.Fatalf("sensor tickets: %d %s", status, raw)
	}
	id := list.Tickets[0].ID

	e.clock.Advance(90 * time.Second)
	var merged struct {
		ticketing.Ticket
		Merged bool `json:"merged"`
	}
	status, raw := e.do("POST", "/api/tickets", tokOperator, map[string]any{"source": "resident", "category": "gas",
		"site": "s1", "building": "B2", "location": "B2 boiler room", "description": "smells of gas in the corridor",
		"reporter": map[string]string{"name": "Chen", "phone": "137"}}, &merged)
	if status != 200 || !merged.Merged || merged.ID != id {
		t.Fatalf("resident report: %d merged %v id %d, want 200 merged into %d: %s", status, merged.Merged, merged.ID, id, raw)
	}

	e.clock.Advance(3*time.Minute + 29*time.Second) // +4m59s
	e.tick()
	if e.heard.has("ticket.escalated claim supervisor") {
		t.Fatal("escalated before claim_timeout")
	}
	e.clock.Advance(time.Second) // +5m
	e.tick()
	if !e.heard.has("ticket.escalated claim supervisor") {
		t.Fatalf("no escalation to the supervisor at +5m: %v", e.heard.events)
	}
	before := e.get(id, tokOperator)
	if !slices.Contains(historyActions(before), "escalated") || !slices.Contains(historyActions(before), "report_merged") {
		t.Fatalf("history %v", historyActions(before))
	}

	e.clock.Advance(time.Minute)
	e.restart()
	after := e.get(id, tokOperator)
	if len(after.History) != len(before.History) || len(after.Deadlines) != len(before.Deadlines) || after.Number != before.Number {
		t.Fatalf("restart lost something: history %d -> %d, clocks %d -> %d", len(before.History), len(after.History),
			len(before.Deadlines), len(after.Deadlines))
	}
	for i := range before.Deadlines {
		if !before.Deadlines[i].DueAt.Equal(after.Deadlines[i].DueAt) || before.Deadlines[i].Escalations != after.Deadlines[i].Escalations {
			t.Errorf("clock %s changed across restart: %+v -> %+v", before.Deadlines[i].Clock, before.Deadlines[i], after.Deadlines[i])
		}
	}
	e.clock.Advance(30 * time.Minute) // past the claim's next step and the dispatch limit
	e.tick()
	if !e.heard.has("ticket.escalated claim project_manager") || !e.heard.has("ticket.escalated dispatch team_lead") {
		t.Fatalf("after restart: %v", e.heard.events)
	}
}

// Timeline of in-home work: the owner's code is shown once to the call
// centre; the technician claims, never sees it, presents a wrong one
// (409) until locked (429); the operator issues a new one; the fix gets a
// low callback score, which opens a rework ticket.
func TestAPIInHomeFlowWithCodeAndRework(t *testing.T) {
	e := newFlowEstate(t)
	var created ticketing.Ticket
	status, raw := e.do("POST", "/api/tickets", tokOperator, map[string]any{"source": "phone", "category": "water_electric",
		"site": "s1", "building": "B3", "scope": "in_home", "unit": "2", "floor": "12", "room": "1201", "location": "kitchen",
		"description": "tap drips", "reporter": map[string]string{"name": "Wang", "phone": "139"}}, &created)
	if status != 201 || len(created.VerificationCode) != 6 {
		t.Fatalf("report: %d %s", status, raw)
	}
	id, code := created.ID, created.VerificationCode
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}

	e.act(id, tokTech, map[string]any{"action": "claim"}, 200)
	if tk := e.get(id, tokTech); tk.VerificationCode != "" {
		t.Fatal("technician sees the code")
	}
	if _, raw := e.do("GET", fmt.Sprintf("/api/tickets/%d", id), tokTech, nil, nil); strings.Contains(raw, code) {
		t.Fatal("the code is in the technician's view of the ticket")
	}
	// Illegal and forbidden steps.
	if _, raw := e.act(id, tokOperator, map[string]any{"action": "confirm"}, 409); !strings.Contains(raw, "only possible when it is resolved") {
		t.Errorf("confirm of an accepted ticket: %s", raw)
	}
	e.act(id, tokEngineer, map[string]any{"action": "comment", "note": "x"}, 403)
	e.act(id, tokPatrol, map[string]any{"action": "arrive", "code": code}, 403)
	e.act(id, tokTech, map[string]any{"action": "callback", "score": 9}, 400)
	e.act(id, tokTech, map[string]any{"action": "arrive"}, 400)

	for i := 1; i <= 4; i++ {
		_, raw := e.act(id, tokTech, map[string]any{"action": "arrive", "code": wrong}, 409)
		if !strings.Contains(raw, fmt.Sprintf("wrong verification code (%d of 5", i)) {
			t.Fatalf("wrong code %d: %s", i, raw)
		}
	}
	e.act(id, tokTech, map[string]any{"action": "arrive", "code": wrong}, 429)
	e.act(id, tokTech, map[string]any{"action": "arrive", "code": code}, 429)
	res, _ := e.act(id, tokOperator, map[string]any{"action": "new_code", "reason": "owner locked out"}, 200)
	e.act(id, tokTech, map[string]any{"action": "arrive", "code": res.VerificationCode}, 200)

	e.clock.Advance(40 * time.Minute)
	e.act(id, tokTech, map[string]any{"action": "resolve", "note": "new washer", "parts": []map[string]any{{"name": "washer", "qty": 2}}}, 200)
	e.clock.Advance(2 * time.Hour)
	cb, raw := e.act(id, tokOperator, map[string]any{"action": "callback", "score": 2, "note": "still drips"}, 200)
	if cb.Status != ticketing.StatusClosed || cb.Opened == nil || cb.Opened.ReworkOf != id || !strings.Contains(raw, `"rework_of":`+fmt.Sprint(id)) {
		t.Fatalf("callback: %s", raw)
	}
	rework := e.get(cb.Opened.ID, tokOperator)
	if rework.ReworkOf != id || rework.Status != ticketing.StatusNew || rework.Room != "1201" {
		t.Fatalf("rework ticket %+v", rework)
	}
	want := []string{"created", "claim", "code_refused", "code_refused", "code_refused", "code_refused", "code_refused",
		"code_reissued", "arrive", "resolve", "callback"}
	if got := historyActions(e.get(id, tokOperator)); !slices.Equal(got, want) {
		t.Errorf("history %v\nwant %v", got, want)
	}
}

func multipartPhoto(t *testing.T, field, filename string, data []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func TestAPIPhotos(t *testing.T) {
	e := newFlowEstate(t, func(c *ticketing.Config) { c.MaxPhotoBytes = 2048 })
	var tk ticketing.Ticket
	if status, raw := e.do("POST", "/api/tickets", tokPatrol, map[string]any{"source": "patrol", "category": "civil",
		"site": "s1", "building": "B1", "location": "B1 stairwell", "description": "crack in the wall"}, &tk); status != 201 {
		t.Fatalf("report: %d %s", status, raw)
	}
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 200)...)
	upload := func(token, field, filename string, data []byte, stage string) (int, string) {
		body, ctype := multipartPhoto(t, field, filename, data)
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/tickets/%d/photos?stage=%s", e.http.URL, tk.ID, stage), body)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", ctype)
		return e.send(req, nil)
	}
	for _, c := range []struct {
		name, token, field, filename string
		data                         []byte
		stage                        string
		want                         int
	}{
		{"png before", tokPatrol, "photo", "../../../etc/passwd", png, "before", 201},
		{"html as jpg", tokPatrol, "photo", "x.jpg", []byte("<html><body>hi</body></html>"), "", 415},
		{"too large", tokPatrol, "photo", "big.png", append(append([]byte{}, png...), make([]byte, 4096)...), "", 413},
		{"no photo part", tokPatrol, "other", "x.png", png, "", 400},
		{"bad stage", tokPatrol, "photo", "x.png", png, "during", 400},
		{"engineer", tokEngineer, "photo", "x.png", png, "", 403},
	} {
		if status, raw := upload(c.token, c.field, c.filename, c.data, c.stage); status != c.want {
			t.Errorf("%s: %d, want %d: %s", c.name, status, c.want, raw)
		}
	}
	got := e.get(tk.ID, tokTech)
	if len(got.Photos) != 1 || got.Photos[0].ContentType != "image/png" || got.Photos[0].Stage != "before" {
		t.Fatalf("photos %+v", got.Photos)
	}
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/tickets/%d/photos/%d", e.http.URL, tk.ID, got.Photos[0].ID), nil)
	req.Header.Set("Authorization", "Bearer "+tokTech)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(b, png) || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("photo download: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
	if status, _ := e.do("GET", fmt.Sprintf("/api/tickets/%d/photos/999", tk.ID), tokTech, nil, nil); status != 404 {
		t.Errorf("unknown photo: %d", status)
	}
	// The uploader's file name went nowhere: one file, in the photos folder.
	entries, _ := os.ReadDir(filepath.Join(filepath.Dir(e.cfg.Path), "photos"))
	if len(entries) != 1 || strings.Contains(entries[0].Name(), "passwd") {
		t.Errorf("photos folder %v", entries)
	}
}

func TestAPIStats(t *testing.T) {
	e := newFlowEstate(t)
	if err := e.svc.HandleAlarm(context.Background(), gasRaise(e.clock.Now())); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)
	e.act(1, tokTech, map[string]any{"action": "claim"}, 200)
	q := "/api/stats?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&site=s1"
	var st ticketing.Stats
	if status, raw := e.do("GET", q, tokOperator, nil, &st); status != 200 || st.Overall.Tickets != 1 ||
		st.Overall.ResponseTimeliness.Num != 1 || st.Overall.SensorFirst.Num != 1 {
		t.Fatalf("stats: %d %s", status, raw)
	}
	status, raw := e.do("GET", q+"&format=csv", tokOperator, nil, nil)
	if status != 200 || !strings.HasPrefix(raw, "group,key,tickets,") || !strings.Contains(raw, "\nlevel,L1,1,") {
		t.Fatalf("csv: %d %s", status, raw)
	}
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{q, tokTech, 403},
		{"/api/stats?from=yesterday", tokOperator, 400},
		{"/api/stats?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", tokOperator, 400},
		{"/api/stats?format=xml", tokOperator, 400},
		{"/api/stats", tokOperator, 200},
	} {
		if status, raw := e.do("GET", c.path, c.token, nil, nil); status != c.want {
			t.Errorf("%s as %s: %d, want %d: %s", c.path, c.token, status, c.want, raw)
		}
	}
}

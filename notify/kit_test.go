package notify

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// receiver is a real HTTP server on 127.0.0.1 that records what it gets
// and answers with the status its answer function gives.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	answer func(n int, r recorded) (int, string) // n counts from 1
}

type recorded struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

func newReceiver(t *testing.T, answer func(n int, r recorded) (int, string)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec := recorded{Method: r.Method, URL: r.URL.String(), Header: r.Header.Clone(), Body: b}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, rec)
		n := len(rc.reqs)
		rc.mu.Unlock()
		status, body := rc.answer(n, rec)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]recorded(nil), rc.reqs...)
}

func ok200(int, recorded) (int, string) { return 200, `{"errcode":0,"errmsg":"ok"}` }

func samplePage(channel string, lang string) (Page, Incident) {
	in := gasIncident
	pe := Person{Name: "tech1", Phone: "+8613800000001", Email: "tech1@example.com", Lang: lang,
		IM: map[string]string{TypeWeCom: "zhang.san", TypeDingTalk: "ding-uid-1", TypeFeishu: "ou_abc"}}
	return Page{ID: DeliveryID(in.TicketID, in.OpenedAt, "1", pe.Name, channel), TicketID: in.TicketID, Step: "1",
		Recipient: pe, Channel: channel, DueAt: in.OpenedAt}, in
}

func devicesDuration(d time.Duration) devices.Duration { return devices.Duration(d) }

package dashboard

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testkit"
)

// TestWebSocketTotalCap: past WSMax WebSockets in all, one more is
// answered 503 with a clear error, whichever token asks; one closed makes
// room again.
func TestWebSocketTotalCap(t *testing.T) {
	e := newEstate(t, HubConfig{}, func(c *Config) { c.WSMax, c.WSPerToken = 2, 10 })
	url := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/ws?token="
	a, _, err := websocket.DefaultDialer.Dial(url+tokOperator, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, _, err := websocket.DefaultDialer.Dial(url+tokPatrol, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, resp, err := websocket.DefaultDialer.Dial(url+tokOperator, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third websocket: %v %v, want 503", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "too many WebSockets open on this server") {
		t.Errorf("refusal %s", body)
	}
	a.Close()
	testkit.Eventually(t, 5*time.Second, "room again after a close", func() bool {
		c, _, err := websocket.DefaultDialer.Dial(url+tokOperator, nil)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// TestConnectionLimit: past MaxConns open connections, one more is
// answered 503 and closed at once; the ones held are served.
func TestConnectionLimit(t *testing.T) {
	e := newEstate(t, HubConfig{}, func(c *Config) { c.Listen, c.MaxConns = "127.0.0.1:0", 2 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	<-e.srv.Ready()
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", e.srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	third, err := net.Dial("tcp", e.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	_ = third.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, _ := io.ReadAll(third)
	if !strings.HasPrefix(string(got), "HTTP/1.1 503") || !strings.Contains(string(got), "too many connections") {
		t.Fatalf("third connection got %q, want a 503", got)
	}
	// A held one is served.
	if _, err := io.WriteString(held[0], "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = held[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if ans, _ := io.ReadAll(held[0]); !strings.HasPrefix(string(ans), "HTTP/1.1 200") {
		t.Fatalf("held connection: %q", ans)
	}
}

// manyPoints answers every query with one point per second over its range.
type manyPoints struct{}

func (manyPoints) Readings(_ context.Context, q devices.Query) ([]devices.Point, error) {
	var out []devices.Point
	for at := q.From; at.Before(q.To); at = at.Add(time.Second) {
		out = append(out, devices.Point{Time: at, Metric: "lel_pct", Value: 10})
	}
	return out, nil
}

// TestReadingsCapped: a history query longer than MaxReadingRange is
// refused; one with more points than MaxReadingPoints is averaged into at
// most that many, in time order, saying from how many.
func TestReadingsCapped(t *testing.T) {
	e := newEstate(t, HubConfig{}, func(c *Config) {
		c.Readings, c.MaxReadingPoints, c.MaxReadingRange = manyPoints{}, 100, 24*time.Hour
	})
	status, body := e.do(t, "GET", "/api/devices/gas-b2-07/readings?from=2026-10-01T00:00:00Z&to=2026-10-03T00:00:00Z", tokOperator, "")
	if status != http.StatusBadRequest || !strings.Contains(body, "at most 24h0m0s") {
		t.Fatalf("2-day range: %d %s, want 400", status, body)
	}
	status, body = e.do(t, "GET", "/api/devices/gas-b2-07/readings?from=2026-10-01T00:00:00Z&to=2026-10-01T01:00:00Z", tokOperator, "")
	if status != http.StatusOK {
		t.Fatalf("1 hour: %d %s", status, body)
	}
	var ans struct {
		Points []devices.Point `json:"points"`
		From   int             `json:"downsampled_from"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		t.Fatal(err)
	}
	if len(ans.Points) == 0 || len(ans.Points) > 100 || ans.From != 3600 {
		t.Fatalf("%d points, downsampled from %d; want at most 100 from 3600", len(ans.Points), ans.From)
	}
	for i, p := range ans.Points {
		if p.Value != 10 || (i > 0 && !p.Time.After(ans.Points[i-1].Time)) {
			t.Fatalf("point %d = %+v", i, p)
		}
	}
}

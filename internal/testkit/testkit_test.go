package testkit

import (
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const page = `# HELP lost_total Points lost.
# TYPE lost_total counter
lost_total{reason="spool_full"} 3
lost_total{reason="rejected"} 4
# TYPE pending gauge
pending 2
# TYPE sent_total counter
sent_total{channel="hook",result="sent"} 5
sent_total{channel="hook",result="failed"} 1
sent_total{channel="mail",result="sent"} 7
`

func TestMetricsSum(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sel  string
		want float64
	}{
		{"lost_total", 7},
		{`lost_total{reason="spool_full"}`, 3},
		{`lost_total{reason="none"}`, 0},
		{"pending", 2},
		{`sent_total{channel="hook",result="sent"}`, 5},
		{`sent_total{channel="hook"}`, 6},
		{`sent_total{result="sent"}`, 12},
		{"missing_total", 0},
	}
	for _, tc := range tests {
		if got := m.Sum(tc.sel); got != tc.want {
			t.Errorf("Sum(%s) = %g, want %g", tc.sel, got, tc.want)
		}
	}
	if got := m.ByLabel(`sent_total{channel="hook"}`, "result"); got["sent"] != 5 || got["failed"] != 1 || len(got) != 2 {
		t.Errorf("ByLabel = %v", got)
	}
	if !m.Has("pending") || m.Has("missing_total") {
		t.Error("Has is wrong")
	}
}

func TestParseSelectorErrors(t *testing.T) {
	for _, sel := range []string{`a{b="c"`, `a{b}`, `a{b=c}`} {
		if _, _, err := parseSelector(sel); err == nil {
			t.Errorf("parseSelector(%s): no error", sel)
		}
	}
}

func TestParseMetricsRejectsGarbage(t *testing.T) {
	if _, err := ParseMetrics(strings.NewReader("lost_total{reason=\"x\" 3\n")); err == nil {
		t.Fatal("no error for a broken page")
	}
}

func TestGatherAndScrapeAgree(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "polls_total"}, []string{"device"})
	reg.MustRegister(c)
	c.WithLabelValues("a").Add(2)
	c.WithLabelValues("b").Add(3)
	srv := httptest.NewServer(promhttpHandler(reg))
	defer srv.Close()
	if got := Gather(t, reg).Sum(`polls_total{device="b"}`); got != 3 {
		t.Errorf("gathered %g, want 3", got)
	}
	if got := Metric(t, srv.URL, "polls_total"); got != 5 {
		t.Errorf("scraped %g, want 5", got)
	}
}

func TestFakeClock(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	c := NewFakeClock(t0)
	c.Advance(90 * time.Second)
	if got := c.Now(); !got.Equal(t0.Add(90 * time.Second)) {
		t.Fatalf("after Advance: %v", got)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("after Set: %v", got)
	}
}

func TestWithin(t *testing.T) {
	var n atomic.Int32
	if !Within(5*time.Second, func() bool { return n.Add(1) == 3 }) {
		t.Fatal("a condition that comes true was not seen")
	}
	if Within(50*time.Millisecond, func() bool { return false }) {
		t.Fatal("a condition that never holds was reported as held")
	}
}

func TestWaitReady(t *testing.T) {
	var ready atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	if Ready(srv.URL) {
		t.Fatal("ready before it is")
	}
	time.AfterFunc(100*time.Millisecond, func() { ready.Store(true) })
	WaitReady(t, srv.URL, 10*time.Second)
}

func TestProcStopAndKill(t *testing.T) {
	log := filepath.Join(t.TempDir(), "p.log")
	p := Start(t, exec.Command("sh", "-c", "echo hello; exec sleep 60"), log)
	t.Cleanup(p.Kill)
	Eventually(t, 10*time.Second, "output in the log", func() bool { return strings.Contains(p.LogTail(100), "hello") })
	if !p.Stop(10 * time.Second) {
		t.Fatal("sleep did not stop on SIGTERM")
	}
	select {
	case <-p.Exited():
	default:
		t.Fatal("Exited not closed after Stop")
	}
	// A process that ignores SIGTERM is killed after the grace.
	p = Start(t, exec.Command("sh", "-c", "trap '' TERM; echo trapped; while :; do sleep 1; done"), log)
	Eventually(t, 10*time.Second, "the trap set", func() bool { return strings.Contains(p.LogTail(100), "trapped") })
	if p.Stop(200 * time.Millisecond) {
		t.Fatal("a process ignoring SIGTERM reported stopped within the grace")
	}
	<-p.Exited()
	if !strings.Contains(FileTail(log, 1000), "=== start") {
		t.Error("no start marks in the log")
	}
}

func promhttpHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}

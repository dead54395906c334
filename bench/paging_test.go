package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/notify"
)

const pageProbePrefix = "bench-page-"

// pageReceiver is a real HTTP server on 127.0.0.1 standing in for the
// webhook of a paging service: it keeps when the first page of each
// probe detector arrived.
type pageReceiver struct {
	mu    sync.Mutex
	first map[string]time.Time // probe device id -> first page
	pages int
}

func (p *pageReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var b notify.WebhookBody
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusOK)
	if b.Alarm == nil {
		return
	}
	// The observation ends with the device: "... (bench-page-000012)".
	i := strings.LastIndex(b.Alarm.Observation, "("+pageProbePrefix)
	if i < 0 {
		return
	}
	id := strings.TrimSuffix(b.Alarm.Observation[i+1:], ")")
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages++
	if _, ok := p.first[id]; !ok {
		p.first[id] = at
	}
}

func (p *pageReceiver) arrived() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.first)
}

// benchPaging: the load of the latency part (half the ceiling) while a
// probe detector crosses the gas alarm level every 100 ms, a new detector
// each time, so each is a new L1 ticket whose first escalation step pages
// tech1 at once through a webhook. The time from the probe's publish to
// the webhook receiver getting the page: the whole path of an alarm to a
// person's channel (rules, ticket, outbox row, worker, signed POST).
func benchPaging(t *testing.T, env *benchEnv) {
	sz := env.sz
	rate := env.ceiling / 2
	probes := int(sz.LatencyFor / (100 * time.Millisecond))
	progress("5. paging latency: %d probes every 100 ms under %.0f readings/s (half the ceiling) for %s", probes, rate, sz.LatencyFor)
	recv := &pageReceiver{first: map[string]time.Time{}}
	hook := httptest.NewServer(recv) // listens on 127.0.0.1
	defer hook.Close()
	broker := testserver.Mosquitto(t)
	defer broker.Stop()
	influxDB(t, env.influx, "bench_page")
	ct := startCaretaker(t, caretakerOptions{Broker: "tcp://" + broker.Addr, Influx: env.influx.URL, Bucket: "bench_page",
		ClientID: "caretaker-bench-page", Devices: both(gasDevices("bench-gas-", 0, sz.Devices), gasDevices(pageProbePrefix, 0, probes)),
		Extra: fmt.Sprintf(`people: [{name: tech1, phone: "+8613800000001", lang: en}]
channels: [{name: hook, type: webhook, url: %q, secret: "bench-webhook-secret-0123456789abcdef", timeout: 5s}]
notify:
  policies: [{level: 1, steps: [{after: 0s, to: [tech1], via: [hook]}]}]
`, hook.URL+"/page")})
	defer ct.Stop()

	// alarm.raised on a WebSocket client splits the figure: how long the
	// reading took to become an alarm (ingest and rules, the latency
	// part's figure), and how long the alarm took to reach the webhook.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ct.HTTP+"/ws?token="+benchToken, nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	defer ws.Close()
	events := watchProbes(ws, pageProbePrefix, "alarm.raised")
	amu, alarmAt := &events.mu, events.first["alarm.raised"]

	sent, res := probeUnderLoad(t, sz, broker.Addr, "bench-page-prober", "bench-page-pub", pageProbePrefix, rate, probes)
	all := testkit.WithinEvery(60*time.Second, 50*time.Millisecond, func() bool { return recv.arrived() >= probes })
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if !all {
		t.Errorf("paging latency: pages for %d of %d probes arrived", len(recv.first), probes)
	}
	amu.Lock()
	defer amu.Unlock()
	var lp, la []time.Duration
	for id, s := range sent {
		if a, ok := recv.first[id]; ok {
			lp = append(lp, a.Sub(s))
			if r, ok := alarmAt[id]; ok {
				la = append(la, a.Sub(r))
			}
		}
	}
	achieved := float64(res.Acked) / res.Elapsed.Seconds()
	p99 := percentile(lp, 99)
	env.tb.add(row{Part: "5 paging", Figure: "load while probing", Value: fmt.Sprintf("%.0f readings/s", achieved),
		Ratio: fmt.Sprintf("%.2f of ceiling", achieved/env.ceiling), Target: "half the ceiling"})
	env.tb.add(row{Part: "5 paging", Figure: fmt.Sprintf("publish -> page at webhook (%d)", len(lp)),
		Value:  fmt.Sprintf("p50 %s, p90 %s, p99 %s", ms(percentile(lp, 50)), ms(percentile(lp, 90)), ms(p99)),
		Target: "p99 < 1 s", Verdict: verdict(len(lp) == probes && p99 < time.Second)})
	env.tb.add(row{Part: "5 paging", Figure: fmt.Sprintf("alarm.raised -> page at webhook (%d)", len(la)),
		Value: fmt.Sprintf("p50 %s, p90 %s, p99 %s", ms(percentile(la, 50)), ms(percentile(la, 90)), ms(percentile(la, 99)))})
}

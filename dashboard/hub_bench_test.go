package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/devices"
)

// BenchmarkHub500Clients measures the hub end to end over real WebSocket
// connections through /ws: 500 connected clients; events are sent with
// Notify one at a time (batch=1: the latency of a lone alarm) or in bursts
// of 50 (batch=50: throughput), each batch waited for until every client
// has read it. It reports events delivered per second to all clients
// together, events per second, and the latency from Notify to the client's
// read, median and 99th percentile. The clients run in the same process,
// so they share the CPU with the server. In the "/arrays" runs the
// clients open /ws?batch=true and take arrays of events.
//
//	go test -run '^$' -bench Hub500 -benchtime 200x ./dashboard/
func BenchmarkHub500Clients(b *testing.B) {
	for _, batch := range []int{1, 50} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchHub(b, 500, batch, false) })
		b.Run(fmt.Sprintf("batch=%d/arrays", batch), func(b *testing.B) { benchHub(b, 500, batch, true) })
	}
}

func benchHub(b *testing.B, clients, batch int, arrays bool) {
	reg, err := devices.NewRegistry(devices.Catalog{})
	if err != nil {
		b.Fatal(err)
	}
	hub := NewHub(HubConfig{SendQueue: 4 * batch})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = hub.Run(ctx) }()
	srv, err := NewServer(Config{Tokens: testTokens, Registry: reg, Tickets: newFakeTickets(), Alarms: &fakeAlarms{}, Hub: hub, WSPerToken: clients})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws?token=" + tokOperator
	if arrays {
		url += "&batch=true"
	}

	var received atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
		if _, _, err := c.ReadMessage(); err != nil { // the snapshot
			b.Fatalf("client %d snapshot: %v", i, err)
		}
		conns[i] = c
		lat[i] = make([]time.Duration, 0, b.N)
		wg.Add(1)
		go func(i int, c *websocket.Conn) {
			defer wg.Done()
			type msg struct {
				Data struct {
					Sent int64 `json:"sent"`
				} `json:"data"`
			}
			var m msg
			var ms []msg
			for {
				_, raw, err := c.ReadMessage()
				if err != nil {
					return
				}
				at := time.Now()
				if !arrays {
					if json.Unmarshal(raw, &m) == nil {
						lat[i] = append(lat[i], at.Sub(time.Unix(0, m.Data.Sent)))
					}
					received.Add(1)
					continue
				}
				ms = ms[:0]
				if json.Unmarshal(raw, &ms) == nil {
					for _, m := range ms {
						lat[i] = append(lat[i], at.Sub(time.Unix(0, m.Data.Sent)))
					}
				}
				received.Add(int64(len(ms)))
			}
		}(i, c)
	}
	for hub.Clients() < clients {
		time.Sleep(time.Millisecond)
	}

	type event struct {
		Sent   int64  `json:"sent"`
		Site   string `json:"site"`
		Device string `json:"device_id"`
		Level  int    `json:"level"`
		Msg    string `json:"message"`
	}
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; {
		n := min(batch, b.N-sent)
		for j := 0; j < n; j++ {
			notify(hub, "alarm.updated", event{Sent: time.Now().UnixNano(), Site: "s1", Device: "gas-b2-07", Level: 1, Msg: "Gas above alarm level: B2 boiler room lel_pct = 35.5 (>= 20)"})
		}
		sent += n
		want := int64(sent) * int64(clients)
		for received.Load() < want {
			if hub.Clients() < clients {
				b.Fatalf("a client was dropped: %d of %d left", hub.Clients(), clients)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()

	for _, c := range conns {
		_ = c.Close()
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(received.Load())/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

package bench

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

const probePrefix = "bench-probe-"

// benchLatency: while the ingest load runs at half the ceiling, a probe
// detector crosses the gas alarm level every 100 ms (a new detector each
// time, so each is a new incident); the time from its publish to
// alarm.raised, and to ticket.created (sent once the ticket is stored), on
// a WebSocket client.
func benchLatency(t *testing.T, env *benchEnv, embedded bool) {
	sz := env.sz
	rate := env.ceiling / 2
	probes := int(sz.LatencyFor / (100 * time.Millisecond))
	part, via := "3 latency", "mosquitto"
	if embedded {
		part, via = "3 latency embedded", "the embedded broker"
	}
	progress("3. alarm latency through %s: %d probes every 100 ms under %.0f readings/s (half the ceiling) for %s", via, probes, rate, sz.LatencyFor)
	db := "bench_lat"
	if embedded {
		db = "bench_late"
	}
	influxDB(t, env.influx, db)
	o := caretakerOptions{Influx: env.influx.URL, Bucket: db,
		ClientID: "caretaker-bench", Devices: both(gasDevices("bench-gas-", 0, sz.Devices), gasDevices(probePrefix, 0, probes))}
	if !embedded {
		broker := testserver.Mosquitto(t)
		defer broker.Stop()
		o.Broker = "tcp://" + broker.Addr
	}
	ct := startCaretaker(t, o)
	defer ct.Stop()
	target := strings.TrimPrefix(o.Broker, "tcp://")
	if embedded {
		target = ct.MQTT
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+ct.HTTP+"/ws?token="+benchToken, nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	defer ws.Close()
	events := watchProbes(ws, probePrefix, "alarm.raised", "ticket.created")
	mu, alarmAt, ticket := &events.mu, events.first["alarm.raised"], events.first["ticket.created"]

	sent, res := probeUnderLoad(t, sz, target, "bench-prober", "bench-pub", probePrefix, rate, probes)
	all := testkit.WithinEvery(30*time.Second, 50*time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(alarmAt) >= probes && len(ticket) >= probes
	})
	progress("  Caretaker's own figures: %s", ct.latencyStats())
	mu.Lock()
	defer mu.Unlock()
	if !all {
		t.Errorf("alarm latency: %d alarms and %d tickets of %d probes arrived", len(alarmAt), len(ticket), probes)
	}
	var la, lt []time.Duration
	for id, s := range sent {
		if a, ok := alarmAt[id]; ok {
			la = append(la, a.Sub(s))
		}
		if a, ok := ticket[id]; ok {
			lt = append(lt, a.Sub(s))
		}
	}
	achieved := float64(res.Acked) / res.Elapsed.Seconds()
	p99a, p99t := percentile(la, 99), percentile(lt, 99)
	env.tb.add(row{Part: part, Figure: "load while probing", Value: fmt.Sprintf("%.0f readings/s", achieved),
		Ratio: fmt.Sprintf("%.2f of ceiling", achieved/env.ceiling), Target: "half the ceiling"})
	env.tb.add(row{Part: part, Figure: fmt.Sprintf("publish -> alarm.raised (%d)", len(la)),
		Value:  fmt.Sprintf("p50 %s, p90 %s, p99 %s", ms(percentile(la, 50)), ms(percentile(la, 90)), ms(p99a)),
		Target: "p99 < 100 ms", Verdict: verdict(len(la) == probes && p99a < 100*time.Millisecond)})
	env.tb.add(row{Part: part, Figure: fmt.Sprintf("publish -> ticket stored (%d)", len(lt)),
		Value:  fmt.Sprintf("p50 %s, p90 %s, p99 %s", ms(percentile(lt, 50)), ms(percentile(lt, 90)), ms(p99t)),
		Target: "p99 < 100 ms", Verdict: verdict(len(lt) == probes && p99t < 100*time.Millisecond)})
}

// probeUnderLoad runs the ingest load at rate readings/s for
// sz.LatencyFor+1s through the broker at brokerAddr (publisher pubID)
// and, once it is under way, publishes a 35.5 %LEL reading of a new probe
// detector prefix+NNNNNN every 100 ms, probes of them (client proberID,
// connected until the test ends). It hands back when each probe was sent
// and, once the load is done, the load's result.
func probeUnderLoad(t *testing.T, sz sizes, brokerAddr, proberID, pubID, prefix string, rate float64, probes int) (map[string]time.Time, pubResult) {
	t.Helper()
	prober := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + brokerAddr).SetClientID(proberID).
		SetUsername(benchMQTTUser).SetPassword(benchMQTTPassword))
	if tok := prober.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("prober: %v", tok.Error())
	}
	t.Cleanup(func() { prober.Disconnect(100) })

	load := ingestLoad(sz, "tcp://"+brokerAddr, pubID)
	load.Count, load.Rate, load.Duration, load.Base = 0, rate, sz.LatencyFor+time.Second, 0
	pub := startPublisher(t, load)
	sent := make(map[string]time.Time, probes)
	time.Sleep(500 * time.Millisecond) // the load is under way
	tick := time.NewTicker(100 * time.Millisecond)
	for i := 0; i < probes; i++ {
		<-tick.C
		id := fmt.Sprintf("%s%06d", prefix, i)
		at := time.Now()
		sent[id] = at
		prober.Publish(fmt.Sprintf("sites/s1/devices/%s/telemetry", id), 1, false,
			fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 35.5, "co_ppm": 2}}`, at.UnixMilli()))
	}
	tick.Stop()
	return sent, pub.Wait(t, 5*time.Minute)
}

// probeEvents keeps, per event type and probe detector, when the first
// such event arrived on a WebSocket client.
type probeEvents struct {
	mu    sync.Mutex
	first map[string]map[string]time.Time // event type -> device id -> arrival
}

// watchProbes reads ws until it is closed, keeping the first event of
// each of types for each detector whose id starts with prefix.
func watchProbes(ws *websocket.Conn, prefix string, types ...string) *probeEvents {
	p := &probeEvents{first: map[string]map[string]time.Time{}}
	for _, typ := range types {
		p.first[typ] = map[string]time.Time{}
	}
	go func() {
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			at := time.Now()
			var ev struct {
				Type string `json:"type"`
				Data struct {
					Device string `json:"device_id"`
				} `json:"data"`
			}
			if json.Unmarshal(b, &ev) != nil || !strings.HasPrefix(ev.Data.Device, prefix) {
				continue
			}
			p.mu.Lock()
			if seen, ok := p.first[ev.Type]; ok {
				if _, ok := seen[ev.Data.Device]; !ok {
					seen[ev.Data.Device] = at
				}
			}
			p.mu.Unlock()
		}
	}()
	return p
}

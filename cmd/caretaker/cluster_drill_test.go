package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// clusterStack is one PostgreSQL, one mosquitto and one InfluxDB shared by
// caretaker instances (ct-a, ct-b) of one cluster.
type clusterStack struct {
	pgURL, broker string
	influx        *testserver.Influx
	bin           string
}

func newClusterStack(t *testing.T) clusterStack {
	t.Helper()
	pg := testserver.PostgreSQL(t)
	return clusterStack{pgURL: pg.Database(t, "caretaker"), broker: testserver.Mosquitto(t).Addr,
		influx: testserver.InfluxDB(t, "caretaker"), bin: testkit.CaretakerBinary(t)}
}

// instance writes the configuration of one instance and starts it.
func (s clusterStack) instance(t *testing.T, name, devs string) (caretakerDir, *testkit.Caretaker) {
	t.Helper()
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-ha, qos: 1}
store: {url: "%s", path: "%[4]s/caretaker.db", photos_dir: "%[4]s/photos"}
influx: {url: "%[5]s", bucket: caretaker, spool_dir: "%[4]s/spool", flush_interval: 200ms}
cluster: {instance: %[6]s, lease: 3s}
auth:
  tokens:
    - {name: ops1, role: operator, token: %[7]s}
    - {name: pat1, role: patrol, token: %[8]s}
devices:
%[9]s`, httpAddr, s.broker, s.pgURL, dir, s.influx.URL, name, operatorToken, patrolToken, devs)
	})
	return ct, ct.startProcess(t, s.bin)
}

// leaderOf reads who leads the default partition from base's /readyz.
func leaderOf(t *testing.T, base string) (leader string, epoch int64) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	var body struct {
		Cluster struct {
			Instance   string
			Partitions []struct {
				Partition, Leader string
				Epoch             int64
			}
		}
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || len(body.Cluster.Partitions) != 1 {
		return "", 0
	}
	p := body.Cluster.Partitions[0]
	return p.Leader, p.Epoch
}

// steadyLoad publishes a reading of every device every period at QoS 1
// and keeps the timestamps the broker acknowledged.
type steadyLoad struct {
	mu    sync.Mutex
	acked map[string][]int64
	stopc chan struct{}
	wg    sync.WaitGroup
}

func startSteadyLoad(t *testing.T, broker string, ids []string, period time.Duration, value func(id string) float64) *steadyLoad {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID("ha-devices").SetMaxReconnectInterval(time.Second))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	l := &steadyLoad{acked: map[string][]int64{}, stopc: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer c.Disconnect(250)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-l.stopc:
				return
			case <-tick.C:
			}
			ts := time.Now().UnixMilli()
			for _, id := range ids {
				tok := c.Publish("sites/s1/devices/"+id+"/telemetry", 1, false,
					fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": %g, "co_ppm": 1}}`, ts, value(id)))
				if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
					l.mu.Lock()
					l.acked[id] = append(l.acked[id], ts)
					l.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(l.stop)
	return l
}

func (l *steadyLoad) stop() {
	select {
	case <-l.stopc:
	default:
		close(l.stopc)
	}
	l.wg.Wait()
}

// missing counts the acknowledged readings base's readings API (InfluxDB)
// does not hold.
func (l *steadyLoad) missing(t *testing.T, base string) (missing, total int) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, tss := range l.acked {
		var pts struct {
			Points []struct {
				Time time.Time `json:"ts"`
			}
		}
		getJSON(t, base+"/api/devices/"+id+"/readings?metric=lel_pct&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), operatorToken, &pts)
		have := map[int64]bool{}
		for _, p := range pts.Points {
			have[p.Time.UnixMilli()] = true
		}
		for _, ts := range tss {
			total++
			if !have[ts] {
				missing++
			}
		}
	}
	return missing, total
}

const haDevices = `  - {id: gas-h1, kind: gas, site: s1, building: B1}
  - {id: gas-h2, kind: gas, site: s1, building: B2}
  - {id: gas-h3, kind: gas, site: s1, building: B3}
  - {id: gas-h4, kind: gas, site: s1, building: B4}
`

// TestClusterFailoverDrill: two instances, one PostgreSQL, one mosquitto,
// one InfluxDB. ct-a leads; ct-b's /ws shows ct-a's alarms; kill -9 ct-a
// under a steady load: ct-b takes over the lease and the MQTT session and
// every reading the broker took lands in InfluxDB.
func TestClusterFailoverDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the drill runs two caretaker processes")
	}
	s := newClusterStack(t)
	a, procA := s.instance(t, "ct-a", haDevices)
	waitFor(t, 20*time.Second, "ct-a leads", func() bool { l, _ := leaderOf(t, a.Base); return l == "ct-a" })
	b, _ := s.instance(t, "ct-b", haDevices)
	if l, _ := leaderOf(t, b.Base); l != "ct-a" {
		t.Fatalf("ct-b's /readyz names %q as leader, want ct-a", l)
	}
	if v := drillScrape(t, a.Base, `caretaker_cluster_leader{partition="default"}`); v != 1 {
		t.Fatalf("ct-a caretaker_cluster_leader = %v, want 1", v)
	}
	if v := drillScrape(t, b.Base, `caretaker_cluster_leader{partition="default"}`); v != 0 {
		t.Fatalf("ct-b caretaker_cluster_leader = %v, want 0", v)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+b.Addr+"/ws?token="+operatorToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	events := readEvents(t, ws)

	var mu sync.Mutex
	high := map[string]bool{}
	load := startSteadyLoad(t, s.broker, []string{"gas-h1", "gas-h2", "gas-h3", "gas-h4"}, 100*time.Millisecond,
		func(id string) float64 {
			mu.Lock()
			defer mu.Unlock()
			if high[id] {
				return 35
			}
			return 2
		})
	mu.Lock()
	high["gas-h1"] = true
	mu.Unlock()
	// ct-a raises it; ct-b's screen shows it.
	waitEventWith(t, events, "alarm.raised", "gas-h1", 20*time.Second)

	procA.Kill()
	killed := time.Now()
	waitFor(t, 30*time.Second, "ct-b takes over", func() bool { l, _ := leaderOf(t, b.Base); return l == "ct-b" })
	t.Logf("takeover: ct-b leads %s after kill -9 of ct-a (lease 3s)", time.Since(killed).Round(100*time.Millisecond))
	mu.Lock()
	high["gas-h2"] = true
	mu.Unlock()
	waitEventWith(t, events, "alarm.raised", "gas-h2", 20*time.Second)
	load.stop()
	waitFor(t, 30*time.Second, "every acknowledged reading in InfluxDB", func() bool {
		m, total := load.missing(t, b.Base)
		return m == 0 && total > 0
	})
	if v := drillScrape(t, b.Base, `caretaker_cluster_leader{partition="default"}`); v != 1 {
		t.Fatalf("ct-b caretaker_cluster_leader = %v after the takeover, want 1", v)
	}
}

// TestClusterSplitBrain: the leader paused (SIGSTOP) past its lease loses
// it to the other; resumed (SIGCONT) it stops leading at once and the
// other keeps the lease and the MQTT session: readings keep landing.
func TestClusterSplitBrain(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs two caretaker processes")
	}
	s := newClusterStack(t)
	a, procA := s.instance(t, "ct-a", haDevices)
	waitFor(t, 20*time.Second, "ct-a leads", func() bool { l, _ := leaderOf(t, a.Base); return l == "ct-a" })
	b, _ := s.instance(t, "ct-b", haDevices)
	load := startSteadyLoad(t, s.broker, []string{"gas-h1", "gas-h2"}, 100*time.Millisecond, func(string) float64 { return 2 })

	if err := syscall.Kill(procA.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "ct-b takes over from the paused ct-a", func() bool { l, _ := leaderOf(t, b.Base); return l == "ct-b" })
	_, epoch := leaderOf(t, b.Base)
	if err := syscall.Kill(procA.PID(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "ct-a, resumed, no longer leads", func() bool {
		m, err := testkit.Scrape(a.Base + "/metrics")
		return err == nil && m.Has("caretaker_cluster_leader") && m.Sum(`caretaker_cluster_leader{partition="default"}`) == 0
	})
	// ct-a gave way: ct-b's lease and session hold, its readings land.
	load.mu.Lock()
	n := len(load.acked["gas-h1"])
	load.mu.Unlock()
	waitFor(t, 20*time.Second, "readings go on after ct-a resumed", func() bool {
		load.mu.Lock()
		defer load.mu.Unlock()
		return len(load.acked["gas-h1"]) > n+20
	})
	load.stop()
	waitFor(t, 30*time.Second, "every acknowledged reading in InfluxDB", func() bool {
		m, total := load.missing(t, b.Base)
		return m == 0 && total > 0
	})
	if l, e := leaderOf(t, b.Base); l != "ct-b" || e != epoch {
		t.Fatalf("after ct-a resumed: leader %s epoch %d, want ct-b epoch %d", l, e, epoch)
	}
}

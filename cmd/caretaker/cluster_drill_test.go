package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// clusterStack is one PostgreSQL, one mosquitto and one InfluxDB shared by
// caretaker instances (ct-a, ct-b) of one cluster.
type clusterStack struct {
	pgURL, broker string
	influx        *testserver.Influx
	bin           string
	pg            *testserver.Postgres
}

func newClusterStack(t *testing.T) clusterStack {
	t.Helper()
	pg := testserver.PostgreSQL(t)
	return clusterStack{pgURL: pg.Database(t, "caretaker"), broker: testserver.Mosquitto(t).Addr,
		influx: testserver.InfluxDB(t, "caretaker"), bin: testkit.CaretakerBinary(t), pg: pg}
}

// instance writes the configuration of one instance and starts it.
func (s clusterStack) instance(t *testing.T, name, devs string) (caretakerDir, *testkit.Caretaker) {
	t.Helper()
	return s.instanceWith(t, name, devs, "")
}

// instanceWith is instance with more keys of the cluster section
// (", partitions: [...]").
func (s clusterStack) instanceWith(t *testing.T, name, devs, clusterKeys string) (caretakerDir, *testkit.Caretaker) {
	t.Helper()
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-ha, qos: 1, cluster_key: `+testClusterKey+`}
store: {url: "%s", path: "%[4]s/caretaker.db", photos_dir: "%[4]s/photos"}
influx: {url: "%[5]s", bucket: caretaker, spool_dir: "%[4]s/spool", flush_interval: 200ms}
cluster: {instance: %[6]s, lease: 3s%[10]s}
rules: {snapshot_interval: 200ms}
auth:
  tokens:
    - {name: ops1, role: operator, token: %[7]s}
    - {name: pat1, role: patrol, token: %[8]s}
devices:
%[9]s`, httpAddr, s.broker, s.pgURL, dir, s.influx.URL, name, operatorToken, patrolToken, devs, clusterKeys)
	})
	return ct, ct.startProcess(t, s.bin)
}

// leaderOf reads who leads the default partition from base's /readyz.
func leaderOf(t *testing.T, base string) (leader string, epoch int64) {
	t.Helper()
	ls := leadersOf(t, base)
	if len(ls) != 1 {
		return "", 0
	}
	for _, l := range ls {
		return l.leader, l.epoch
	}
	return "", 0
}

type leaderEpoch struct {
	leader string
	epoch  int64
}

// leadersOf reads every partition's leader from base's /readyz.
func leadersOf(t *testing.T, base string) map[string]leaderEpoch {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return nil
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
	if json.NewDecoder(resp.Body).Decode(&body) != nil {
		return nil
	}
	out := map[string]leaderEpoch{}
	for _, p := range body.Cluster.Partitions {
		out[p.Partition] = leaderEpoch{p.Leader, p.Epoch}
	}
	return out
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
				site, dev, ok := strings.Cut(id, "/") // "site/device", or a device of s1
				if !ok {
					site, dev = "s1", id
				}
				tok := c.Publish("sites/"+site+"/devices/"+dev+"/telemetry", 1, false,
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
// does not hold, and names them per device with their publish times (for
// a failing drill's log).
func (l *steadyLoad) missing(t *testing.T, base string) (missing, total int, which string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var named []string
	for id, tss := range l.acked {
		dev := id
		if _, d, ok := strings.Cut(id, "/"); ok {
			dev = d
		}
		var pts struct {
			Points []struct {
				Time time.Time `json:"ts"`
			}
		}
		getJSON(t, base+"/api/devices/"+dev+"/readings?metric=lel_pct&from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), operatorToken, &pts)
		have := map[int64]bool{}
		for _, p := range pts.Points {
			have[p.Time.UnixMilli()] = true
		}
		var gone []string
		for _, ts := range tss {
			if !have[ts] {
				gone = append(gone, time.UnixMilli(ts).UTC().Format("15:04:05.000"))
			}
		}
		total += len(tss)
		missing += len(gone)
		if len(gone) > 0 {
			named = append(named, fmt.Sprintf("%s (%d of %d, first %s, last %s)", id, len(gone), len(tss), gone[0], gone[len(gone)-1]))
		}
	}
	return missing, total, strings.Join(named, "; ")
}

const haDevices = `  - {id: gas-h1, kind: gas, site: s1, building: B1}
  - {id: gas-h2, kind: gas, site: s1, building: B2}
  - {id: gas-h3, kind: gas, site: s1, building: B3}
  - {id: gas-h4, kind: gas, site: s1, building: B4}
`

const clusterEngineerToken = "en-0123456789abcdef"

// alarmDevice is the detector that goes high as the drill's i-th alarm.
func alarmDevice(i int) string { return fmt.Sprintf("gas-x%02d", i) }

// TestClusterFailoverDrill: two instances, one PostgreSQL, one mosquitto,
// one InfluxDB. Readings at a steady rate and a gas alarm every 1.5 s; a
// report filed on the follower; kill -9 the leader. The follower takes
// over the lease and the MQTT session: every reading the broker took lands
// in InfluxDB, every alarm has exactly one ticket, the report is still
// there, and the follower's /ws carried the leader's tickets.
func TestClusterFailoverDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the drill runs two caretaker processes")
	}
	const nAlarms = 10
	var devs strings.Builder
	devs.WriteString(haDevices)
	ids := []string{"gas-h1", "gas-h2", "gas-h3", "gas-h4"}
	for i := range nAlarms {
		fmt.Fprintf(&devs, "  - {id: %s, kind: gas, site: s1, building: C%d, location: \"plant room %d\"}\n", alarmDevice(i), i, i)
		ids = append(ids, alarmDevice(i))
	}
	s := newClusterStack(t)
	a, procA := s.instance(t, "ct-a", devs.String())
	waitFor(t, 20*time.Second, "ct-a leads", func() bool { l, _ := leaderOf(t, a.Base); return l == "ct-a" })
	b, _ := s.instance(t, "ct-b", devs.String())
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
	// A screen on the leader, which will reconnect to the follower.
	wsA, _, err := websocket.DefaultDialer.Dial("ws://"+a.Addr+"/ws?token="+operatorToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wsA.Close() })
	eventsA := readEvents(t, wsA)

	// A report filed on the follower.
	req, _ := http.NewRequest(http.MethodPost, b.Base+"/api/tickets", strings.NewReader(`{"source":"patrol","category":"civil","site":"s1","building":"B9","location":"gate 1","description":"cracked step","reporter":{"name":"Li","phone":"138"}}`))
	req.Header.Set("Authorization", "Bearer "+patrolToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("report on ct-b: %s", resp.Status)
	}
	var report ticketing.Ticket
	if err := json.NewDecoder(resp.Body).Decode(&report); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// The load: every detector every 200 ms; the alarms' detectors go
	// high one every 1.5 s, across the failover.
	var raised atomic.Int32
	high := func(id string) bool {
		for i := range int(raised.Load()) {
			if alarmDevice(i) == id {
				return true
			}
		}
		return false
	}
	load := startSteadyLoad(t, s.broker, ids, 200*time.Millisecond, func(id string) float64 {
		if high(id) {
			return 35
		}
		return 2
	})
	stopAlarms := make(chan struct{})
	alarmsDone := make(chan struct{})
	go func() {
		defer close(alarmsDone)
		tick := time.NewTicker(1500 * time.Millisecond)
		defer tick.Stop()
		for raised.Load() < nAlarms {
			select {
			case <-stopAlarms:
				return
			case <-tick.C:
				raised.Add(1)
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stopAlarms:
		default:
			close(stopAlarms)
		}
		<-alarmsDone
	})

	// The leader's first tickets, on the follower's screen.
	waitEventWith(t, events, "ticket.created", alarmDevice(0), 20*time.Second)
	waitEventWith(t, events, "ticket.created", alarmDevice(1), 20*time.Second)

	// What the leader's screen saw last before the kill.
	var lastA wsEvent
	for drained := false; !drained; {
		select {
		case ev, ok := <-eventsA:
			if ok && ev.Epoch != "" {
				lastA = ev
			}
			drained = !ok
		case <-time.After(500 * time.Millisecond):
			drained = lastA.Epoch != ""
		}
	}

	procA.Kill()
	killed := time.Now()
	waitFor(t, 30*time.Second, "ct-b takes over", func() bool { l, _ := leaderOf(t, b.Base); return l == "ct-b" })
	t.Logf("takeover: ct-b leads %s after kill -9 of ct-a (lease 3s)", time.Since(killed).Round(100*time.Millisecond))
	<-alarmsDone
	waitFor(t, 60*time.Second, "one ticket per alarm", func() bool { return len(sensorTickets(t, b.Base)) >= nAlarms })
	load.stop()

	byDevice := map[string]int{}
	for _, tk := range sensorTickets(t, b.Base) {
		byDevice[tk.DeviceID]++
	}
	for i := range nAlarms {
		if n := byDevice[alarmDevice(i)]; n != 1 {
			t.Errorf("%s: %d tickets, want exactly 1 (%v)", alarmDevice(i), n, byDevice)
		}
	}
	// Raised once per rule, the takeover notwithstanding: no alarm
	// raised again by the new leader.
	alarmsOf := map[string]int{}
	for _, al := range allAlarms(t, b.Base) {
		alarmsOf[al.Device+" "+al.RuleID]++
	}
	for k, n := range alarmsOf {
		if strings.HasPrefix(k, "gas-x") && n != 1 {
			t.Errorf("%s: raised %d times, want once", k, n)
		}
	}
	// The leader's screen reconnects to the follower with ?since= of the
	// leader's life: a snapshot of the shared store, every ticket in it.
	resumed, _, err := websocket.DefaultDialer.Dial(fmt.Sprintf("ws://%s/ws?token=%s&since=%d&epoch=%s", b.Addr, operatorToken,
		lastA.Seq, url.QueryEscape(lastA.Epoch)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resumed.Close() })
	first := next(t, readEvents(t, resumed), 10*time.Second)
	if first.Type != "snapshot" {
		t.Fatalf("reconnecting to ct-b with ct-a's since=%d: first message %s, want a snapshot", lastA.Seq, first.Type)
	}
	var snap struct {
		Tickets []ticketing.Ticket `json:"tickets"`
	}
	mustJSON(t, first.Data, &snap)
	inSnap := map[string]bool{}
	for _, tk := range snap.Tickets {
		inSnap[tk.DeviceID+tk.Number] = true
		inSnap[tk.DeviceID] = true
	}
	for i := range nAlarms {
		if !inSnap[alarmDevice(i)] {
			t.Errorf("the snapshot after reconnecting misses the ticket of %s", alarmDevice(i))
		}
	}
	if got := getTicket(t, b.Base, report.ID); got.Number != report.Number {
		t.Errorf("the report filed on ct-b before the kill: got %+v, want %s", got.Number, report.Number)
	}
	waitFor(t, 30*time.Second, "every acknowledged reading in InfluxDB", func() bool {
		m, total, _ := load.missing(t, b.Base)
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
	var gasHigh atomic.Bool
	load := startSteadyLoad(t, s.broker, []string{"gas-h1", "gas-h2"}, 100*time.Millisecond, func(id string) float64 {
		if id == "gas-h2" && gasHigh.Load() {
			return 35
		}
		return 2
	})

	if err := syscall.Kill(procA.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Gas while ct-a sleeps: what the broker still sent it before the
	// take-over waits in its socket, to be handled when it wakes.
	gasHigh.Store(true)
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
		m, total, _ := load.missing(t, b.Base)
		return m == 0 && total > 0
	})
	if l, e := leaderOf(t, b.Base); l != "ct-b" || e != epoch {
		t.Fatalf("after ct-a resumed: leader %s epoch %d, want ct-b epoch %d", l, e, epoch)
	}
	// One ticket for the gas, each alarm raised once: nothing of ct-a's
	// after its lease ran out was written (the store's fence refuses it).
	waitFor(t, 20*time.Second, "the gas ticket", func() bool { return len(sensorTickets(t, b.Base)) > 0 })
	if tks := sensorTickets(t, b.Base); len(tks) != 1 || tks[0].DeviceID != "gas-h2" {
		t.Fatalf("sensor tickets %+v, want one, for gas-h2", tks)
	}
	raised := map[string]int{}
	for _, al := range allAlarms(t, b.Base) {
		raised[al.Device+" "+al.RuleID]++
	}
	for k, n := range raised {
		if n != 1 {
			t.Errorf("%s raised %d times, want once", k, n)
		}
	}
	t.Logf("ct-a's writes refused by the fence after it woke: %v", drillScrape(t, a.Base, "caretaker_cluster_fenced_writes_total"))
}

// TestClusterRuleStateMovesWithTheLease: a leak probe is wet on ct-a's
// watch, its 10 s for running; ct-a's partition snapshot holds it; ct-a
// is killed. ct-b takes the lease and the partition's rule state: the
// alarm is raised at the original time (wet since t0, so at t0+10s, the
// episode's id from t0), not 10 s after the takeover.
func TestClusterRuleStateMovesWithTheLease(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs two caretaker processes")
	}
	const leak = "  - {id: leak-b1-01, kind: water_leak, site: s1, building: B1, location: \"B1 pump room\"}\n"
	s := newClusterStack(t)
	a, procA := s.instance(t, "ct-a", leak)
	waitFor(t, 20*time.Second, "ct-a leads", func() bool { l, _ := leaderOf(t, a.Base); return l == "ct-a" })
	b, _ := s.instance(t, "ct-b", leak)

	wet := func(at time.Time) {
		publish(t, s.broker, "sites/s1/devices/leak-b1-01/telemetry", fmt.Sprintf(`{"ts": %d, "metrics": {"leak": true}}`, at.UnixMilli()))
	}
	t0 := time.Now().Truncate(time.Millisecond)
	wet(t0)
	waitFor(t, 10*time.Second, "the partition's rule-state snapshot in PostgreSQL holding the pending for", func() bool {
		body, err := s.pg.Query("caretaker", "SELECT body FROM rule_state_devices WHERE partition = 'default' AND device = 'leak-b1-01'")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(body, `"rule":"water-leak"`) &&
			strings.Contains(body, `"pending_since":"`+t0.UTC().Format(time.RFC3339Nano)+`"`)
	})
	if alarms := allAlarms(t, b.Base); len(alarms) != 0 {
		t.Fatalf("alarms before the for ran out: %+v", alarms)
	}
	procA.Kill()
	waitFor(t, 30*time.Second, "ct-b takes over", func() bool { l, _ := leaderOf(t, b.Base); return l == "ct-b" })
	wet(time.Now()) // still wet

	want := t0.Add(10 * time.Second)
	var got drillAlarm
	waitFor(t, 30*time.Second, "the water-leak alarm of leak-b1-01", func() bool {
		for _, al := range allAlarms(t, b.Base) {
			if al.RuleID == "water-leak" && al.Device == "leak-b1-01" {
				got = al
				return true
			}
		}
		return false
	})
	if !got.RaisedAt.Equal(want) || got.ID != fmt.Sprintf("water-leak:leak-b1-01:%d", t0.UnixMilli()) {
		t.Fatalf("alarm %s raised at %s; want the episode wet since %s raised at %s (the for not restarted by the new leader)",
			got.ID, got.RaisedAt.Format(time.RFC3339Nano), t0.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if n := len(sensorTickets(t, b.Base)); n != 1 {
		t.Fatalf("%d sensor tickets, want 1", n)
	}
}

// TestClusterPartitions: two partitions by site, each with its own lease
// and MQTT session. ct-a comes first and leads both; ct-b joins and the two
// share them, one each; ct-a stopped (SIGTERM) gives its lease back and
// ct-b leads both; the readings of both sites land throughout.
func TestClusterPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs two caretaker processes")
	}
	const devs = `  - {id: gas-n1, kind: gas, site: s1, building: B1}
  - {id: gas-s1, kind: gas, site: s2, building: B1}
`
	const parts = ", partitions: [{name: north, sites: [s1]}, {name: south, sites: [s2]}]"
	s := newClusterStack(t)
	a, procA := s.instanceWith(t, "ct-a", devs, parts)
	both := func(base, who string) bool {
		ls := leadersOf(t, base)
		return ls["north"].leader == who && ls["south"].leader == who
	}
	waitFor(t, 20*time.Second, "ct-a leads north and south", func() bool { return both(a.Base, "ct-a") })
	for _, p := range []string{"north", "south"} {
		if v := drillScrape(t, a.Base, `caretaker_cluster_leader{partition="`+p+`"}`); v != 1 {
			t.Fatalf("ct-a caretaker_cluster_leader{%s} = %v, want 1", p, v)
		}
	}
	load := startSteadyLoad(t, s.broker, []string{"s1/gas-n1", "s2/gas-s1"}, 100*time.Millisecond, func(string) float64 { return 2 })
	b, _ := s.instanceWith(t, "ct-b", devs, parts)
	waitFor(t, 30*time.Second, "ct-a and ct-b lead one partition each", func() bool {
		ls := leadersOf(t, b.Base)
		return ls["north"].leader != "" && ls["south"].leader != "" && ls["north"].leader != ls["south"].leader
	})
	for _, c := range []caretakerDir{a, b} {
		if v := drillScrape(t, c.Base, "caretaker_cluster_leader"); v != 1 {
			t.Fatalf("%s leads %v partitions, want 1", c.Base, v)
		}
	}
	waitFor(t, 20*time.Second, "readings of both sites in InfluxDB", func() bool {
		m, total, _ := load.missing(t, b.Base)
		return total > 10 && m < total
	})
	procA.Stop(10 * time.Second)
	waitFor(t, 20*time.Second, "ct-b leads north and south", func() bool { return both(b.Base, "ct-b") })
	load.mu.Lock()
	n := len(load.acked["s2/gas-s1"])
	load.mu.Unlock()
	waitFor(t, 20*time.Second, "readings go on", func() bool {
		load.mu.Lock()
		defer load.mu.Unlock()
		return len(load.acked["s2/gas-s1"]) > n+10
	})
	load.stop()
	// Bounded for a loaded machine: a batch InfluxDB was slow to take is
	// spooled and replayed after a pause that doubles up to 30 s.
	waitFor(t, 60*time.Second, "every acknowledged reading of both sites in InfluxDB", func() bool {
		m, total, which := load.missing(t, b.Base)
		if m > 0 {
			t.Logf("missing %d of %d: %s", m, total, which)
		}
		return m == 0 && total > 0
	})
}

// TestClusterInProcess runs two clustered instances in this process (so
// that -race sees the wiring): they share two partitions one each; a rule
// changed through the instance that does not lead north applies to
// north's leader at once; when one stops the other leads both, and a gas
// alarm on the stopped one's site gets its ticket.
func TestClusterInProcess(t *testing.T) {
	pg := testserver.PostgreSQL(t)
	broker := testserver.Mosquitto(t)
	pgURL := pg.Database(t, "caretaker")
	instance := func(name string) (caretakerDir, func()) {
		ct := newCaretakerDir(t, func(httpAddr, dir string) string {
			return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-inproc, qos: 1, cluster_key: `+testClusterKey+`}
store: {url: "%s", path: "%[4]s/caretaker.db", readings_path: "%[4]s/readings.db", photos_dir: "%[4]s/photos"}
cluster: {instance: %[5]s, lease: 3s, partitions: [{name: north, sites: [s1]}, {name: south, sites: [s2]}]}
auth: {tokens: [{name: ops1, role: operator, token: %[6]s}, {name: eng1, role: engineer, token: %[7]s}]}
devices:
  - {id: gas-n1, kind: gas, site: s1, building: B1}
  - {id: gas-s1, kind: gas, site: s2, building: B1}
`, httpAddr, broker.Addr, pgURL, dir, name, operatorToken, clusterEngineerToken)
		})
		_, stop := runCaretaker(t, ct.Config)
		waitReady(t, ct.Base)
		return ct, stop
	}
	a, _ := instance("ct-a")
	waitFor(t, 20*time.Second, "ct-a leads both", func() bool {
		ls := leadersOf(t, a.Base)
		return ls["north"].leader == "ct-a" && ls["south"].leader == "ct-a"
	})
	b, stopB := instance("ct-b")
	waitFor(t, 30*time.Second, "one partition each", func() bool {
		ls := leadersOf(t, a.Base)
		return ls["north"].leader != "" && ls["south"].leader != "" && ls["north"].leader != ls["south"].leader
	})
	// The threshold lowered to 5 %LEL through the instance that does not
	// lead north: 7 %LEL on north's detector (below the 10 % warning)
	// raises it on north's leader.
	notNorth := a
	if leadersOf(t, a.Base)["north"].leader == "ct-a" {
		notNorth = b
	}
	req, _ := http.NewRequest(http.MethodPut, notNorth.Base+"/api/rules/gas-lel-critical", strings.NewReader(
		`{"name":"Gas above alarm level","kind":"gas","metric":"lel_pct","condition":{"op":">=","value":5},"clear":{"op":"<","value":3},"clear_for":"10s","severity":"critical","reason":"drill","confirm":true}`))
	req.Header.Set("Authorization", "Bearer "+clusterEngineerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT rule on %s: %s", notNorth.Base, resp.Status)
	}
	var critical bool
	waitFor(t, 20*time.Second, "gas-lel-critical at 7 %LEL on gas-n1", func() bool {
		publish(t, broker.Addr, "sites/s1/devices/gas-n1/telemetry",
			fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 7, "co_ppm": 3}}`, time.Now().UnixMilli()))
		for _, al := range allAlarms(t, a.Base) {
			critical = critical || (al.RuleID == "gas-lel-critical" && al.Device == "gas-n1")
		}
		return critical
	})

	stopB()
	waitFor(t, 20*time.Second, "ct-a leads both again", func() bool {
		ls := leadersOf(t, a.Base)
		return ls["north"].leader == "ct-a" && ls["south"].leader == "ct-a"
	})
	for _, site := range []string{"s1", "s2"} {
		dev := map[string]string{"s1": "gas-n1", "s2": "gas-s1"}[site]
		publish(t, broker.Addr, "sites/"+site+"/devices/"+dev+"/telemetry",
			fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 35.5, "co_ppm": 3}}`, time.Now().UnixMilli()))
	}
	waitFor(t, 20*time.Second, "a ticket for each site's gas alarm", func() bool {
		seen := map[string]bool{}
		for _, tk := range sensorTickets(t, a.Base) {
			seen[tk.DeviceID] = true
		}
		return seen["gas-n1"] && seen["gas-s1"]
	})
}

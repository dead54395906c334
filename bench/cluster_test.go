package bench

import (
	"fmt"
	"io"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// gasDevicesAt writes n gas detectors of site, ids prefix + 6 digits.
func gasDevicesAt(prefix, site string, n int) func(w io.Writer) {
	return func(w io.Writer) {
		for i := range n {
			fmt.Fprintf(w, "  - {id: %s%06d, kind: gas, site: %s, building: B%d}\n", prefix, i, site, i%8+1)
		}
	}
}

// clusterBenchRules: one threshold the load never crosses, instead of the
// default pack, whose trend rules read the publisher's sawtooth (a reading
// every 50 ms per detector) as gas rising and open a ticket per detector:
// the figure is the ingest path's, not the ticket store's.
const clusterBenchRules = "rules: {defaults: false, define: [{id: gas-high, kind: gas, metric: lel_pct, condition: {op: '>=', value: 20}, severity: critical}]}"

// benchCluster: two partitions (sites s1 and s2) led by one instance,
// then by two instances (one each), one PostgreSQL, one mosquitto; the
// same load on both sites: the ingest rate until every reading is in
// InfluxDB, and the instances' CPU per reading, side by side.
func benchCluster(t *testing.T, env *benchEnv) {
	sz := env.sz
	pg := testserver.PostgreSQL(t)
	for _, n := range []int{1, 2} {
		progress("7. cluster: %d readings on two partitions, %d instance(s)", sz.Readings, n)
		broker := testserver.Mosquitto(t)
		db := fmt.Sprintf("bench_cluster%d", n)
		in := influxDB(t, env.influx, db)
		url := pg.Database(t, db)
		devs := both(gasDevicesAt("bench-n-", "s1", sz.Devices/2), gasDevicesAt("bench-s-", "s2", sz.Devices/2))
		var cts []*benchCaretaker
		var pids []int
		for i := range n {
			ct := startCaretaker(t, caretakerOptions{Broker: "tcp://" + broker.Addr, Influx: env.influx.URL, Bucket: db,
				ClientID: "caretaker-bench", Devices: devs, StoreURL: url, Env: []string{"CARETAKER_MQTT_CLUSTER_KEY=bench-cluster-key-0123456789"},
				Extra: fmt.Sprintf("cluster: {instance: ct-%d, lease: 3s, partitions: [{name: north, sites: [s1]}, {name: south, sites: [s2]}]}\n%s", i, clusterBenchRules)})
			cts = append(cts, ct)
			pids = append(pids, ct.PID())
		}
		if !testkit.WithinEvery(time.Minute, 100*time.Millisecond, func() bool {
			for _, ct := range cts {
				if ct.metric("caretaker_cluster_leader") != float64(2/n) {
					return false
				}
			}
			return true
		}) {
			t.Fatalf("cluster of %d: the partitions did not spread, one instance each", n)
		}
		// The leaders' sessions are new: a probe per site, taken, says
		// both are subscribed before the load starts.
		probe := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + broker.Addr).SetClientID("bench-probe"))
		if tok := probe.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("probe: %v", tok.Error())
		}
		probeTS := time.Now().Add(-20 * time.Minute).UnixMilli()
		taken := func() float64 {
			sum := 0.0
			for _, ct := range cts {
				sum += ct.metric("caretaker_ingest_readings_total")
			}
			return sum
		}
		if !testkit.WithinEvery(time.Minute, 200*time.Millisecond, func() bool {
			for _, site := range []string{"s1", "s2"} {
				dev := map[string]string{"s1": "bench-n-000000", "s2": "bench-s-000000"}[site]
				probe.Publish("sites/"+site+"/devices/"+dev+"/telemetry", 1, false,
					fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 1, "co_ppm": 0}}`, probeTS)).Wait()
			}
			return taken() >= 2
		}) {
			t.Fatalf("cluster of %d: the probes were not taken", n)
		}
		probe.Disconnect(100)
		cpu := startCPU(pids...)
		base := time.Now().Add(-10 * time.Minute).UnixMilli()
		load := func(site, prefix string) pubConfig {
			return pubConfig{Broker: "tcp://" + broker.Addr, Count: sz.Readings / 2, Devices: sz.Devices / 2, Prefix: prefix,
				Conns: sz.Conns, InFlight: sz.InFlight, Base: base, ClientID: "bench-pub-" + site, Site: site}
		}
		pubN, pubS := startPublisher(t, load("s1", "bench-n-")), startPublisher(t, load("s2", "bench-s-"))
		resN, resS := pubN.Wait(t, 10*time.Minute), pubS.Wait(t, 10*time.Minute)
		want := 2 * (sz.Readings / 2)
		// The probes are two more points (each the same one, written again).
		got, end, complete := waitStored(want+2, func() int { return countPoints(t, in, "gas", "lel_pct") })
		got -= 2
		var used time.Duration
		for _, u := range cpu.used() {
			used += u
		}
		if !complete {
			t.Errorf("cluster of %d: %d of %d readings in InfluxDB", n, got, want)
		}
		start := resN.Start
		if resS.Start.Before(start) {
			start = resS.Start
		}
		rate := float64(want) / end.Sub(start).Seconds()
		figure := map[int]string{1: "one instance leads both partitions", 2: "two instances, one partition each"}[n]
		env.tb.add(row{Part: "7 cluster", Figure: figure + ": readings/s", Value: fmt.Sprintf("%.0f", rate)})
		env.tb.add(row{Part: "7 cluster", Figure: figure + ": Caretaker CPU per reading (all instances)", Value: usPer(used, want)})
		for _, ct := range cts {
			ct.Stop()
		}
		broker.Stop()
	}
}

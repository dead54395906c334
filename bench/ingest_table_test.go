package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

func numCPU() int { return runtime.NumCPU() }

// ingestLoad is the load of the ingest parts: Readings QoS 1 readings from
// Devices gas detectors, as fast as the broker takes them, each with its
// own timestamp.
func ingestLoad(sz sizes, broker, clientID string) pubConfig {
	return pubConfig{Broker: broker, Count: sz.Readings, Devices: sz.Devices, Prefix: "bench-gas-",
		Conns: sz.Conns, InFlight: sz.InFlight, Base: time.Now().Add(-10 * time.Minute).UnixMilli(), ClientID: clientID}
}

// benchCeiling: a subscriber that only counts (QoS 1, in this process),
// same broker, same load: the most any ingester could take on this machine.
func benchCeiling(t *testing.T, env *benchEnv) float64 {
	sz := env.sz
	progress("1. broker ceiling: %d readings from %d devices through mosquitto to a counting subscriber", sz.Readings, sz.Devices)
	broker := testserver.Mosquitto(t)
	defer broker.Stop()
	var n atomic.Int64
	var last atomic.Int64
	opts := paho.NewClientOptions().AddBroker("tcp://" + broker.Addr).SetClientID("bench-counter").SetCleanSession(true)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("counter: %v", tok.Error())
	}
	defer c.Disconnect(100)
	if tok := c.Subscribe("sites/+/devices/+/telemetry", 1, func(paho.Client, paho.Message) {
		n.Add(1)
		last.Store(time.Now().UnixNano())
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("counter subscribe: %v", tok.Error())
	}
	cpu := startCPU(broker.PID())
	self := selfCPU()
	pub := startPublisher(t, ingestLoad(sz, "tcp://"+broker.Addr, "bench-pub"))
	res := pub.Wait(t, 10*time.Minute)
	if !testkit.WithinEvery(2*time.Minute, 10*time.Millisecond, func() bool { return n.Load() >= int64(sz.Readings) }) {
		t.Fatalf("the counting subscriber got %d of %d", n.Load(), sz.Readings)
	}
	el := time.Unix(0, last.Load()).Sub(res.Start)
	rate := float64(sz.Readings) / el.Seconds()
	brokerCPU, subCPU := cpu.used()[0], selfCPU()-self
	env.tb.add(row{Part: "1 ceiling", Figure: "bare subscriber (mosquitto)", Value: fmt.Sprintf("%.0f readings/s", rate), Ratio: "1.00",
		Target: "the physical limit", Verdict: "-"})
	env.tb.add(row{Part: "1 ceiling", Figure: "mosquitto CPU per reading", Value: usPer(brokerCPU, sz.Readings)})
	env.tb.add(row{Part: "1 ceiling", Figure: "counting subscriber CPU per reading", Value: usPer(subCPU, sz.Readings)})
	return rate
}

// ingestResult is one end-to-end ingest run.
type ingestResult struct {
	Rate         float64
	CaretakerCPU time.Duration
	BrokerCPU    time.Duration // mosquitto; 0 with the embedded broker
	Peak         int64         // peak RSS, bytes
}

// SystemCPU is broker + pipeline.
func (r ingestResult) SystemCPU() time.Duration { return r.CaretakerCPU + r.BrokerCPU }

// benchIngest: the same load from MQTT to points queryable in InfluxDB,
// through mosquitto and Caretaker (embedded false) or Caretaker's own
// broker, with the default rule pack running.
func benchIngest(t *testing.T, env *benchEnv, embedded bool) ingestResult {
	sz := env.sz
	name, part, db := "mosquitto + Caretaker", "2 ingest", "bench_ext"
	if embedded {
		name, part, db = "embedded broker", "2 embedded", "bench_emb"
	}
	progress("2. end-to-end ingest, %s: %d readings until all are in InfluxDB", name, sz.Readings)
	in := influxDB(t, env.influx, db)
	var broker *testserver.Process
	o := caretakerOptions{Influx: env.influx.URL, Bucket: db, ClientID: "caretaker-bench", Devices: gasDevices("bench-gas-", 0, sz.Devices)}
	if !embedded {
		broker = testserver.Mosquitto(t)
		defer broker.Stop()
		o.Broker = "tcp://" + broker.Addr
	}
	ct := startCaretaker(t, o)
	defer ct.Stop()
	target := o.Broker
	if embedded {
		target = "tcp://" + ct.MQTT
	}
	pids := []int{ct.PID()}
	if broker != nil {
		pids = append(pids, broker.PID())
	}
	cpu := startCPU(pids...)
	pub := startPublisher(t, ingestLoad(sz, target, "bench-pub"))
	var prof chan error
	if *profileOut != "" && !embedded {
		secs := int(float64(sz.Readings)/env.ceiling*0.9) + 1
		prof = make(chan error, 1)
		go func() { prof <- fetchProfile(ct.PProf, secs, *profileOut) }()
	}
	res := pub.Wait(t, 10*time.Minute)
	got, end, complete := waitStored(sz.Readings, func() int { return countPoints(t, in, "gas", "lel_pct") })
	used := cpu.used()
	_, peak, _ := procMem(ct.PID())
	if !complete {
		t.Errorf("%s: %d of %d readings in InfluxDB", name, got, sz.Readings)
	}
	progress("  InfluxDB writer: %s", ct.writeStats())
	if lost := ct.metric("caretaker_influx_points_lost_total"); lost != 0 {
		t.Errorf("%s: caretaker_influx_points_lost_total = %g", name, lost)
	}
	r := ingestResult{Rate: float64(sz.Readings) / end.Sub(res.Start).Seconds(), CaretakerCPU: used[0], Peak: peak}
	if broker != nil {
		r.BrokerCPU = used[1]
	}
	ratio := r.Rate / env.ceiling
	cpuUS := float64(r.CaretakerCPU.Microseconds()) / float64(sz.Readings)
	if !embedded {
		env.tb.add(row{Part: part, Figure: "readings/s, publish to queryable", Value: fmt.Sprintf("%.0f", r.Rate),
			Ratio: fmt.Sprintf("%.2f of ceiling", ratio), Target: ">= 0.95 of ceiling", Verdict: verdict(ratio >= 0.95)})
		env.tb.add(row{Part: part, Figure: "completeness", Value: fmt.Sprintf("%.2f%%", 100*float64(got)/float64(sz.Readings)),
			Target: "100%", Verdict: verdict(got >= sz.Readings)})
		env.tb.add(row{Part: part, Figure: "Caretaker CPU per reading", Value: fmt.Sprintf("%.1f us", cpuUS),
			Target: "<= 33 us", Verdict: verdict(cpuUS <= 33)})
		env.tb.add(row{Part: part, Figure: "mosquitto CPU per reading", Value: usPer(r.BrokerCPU, sz.Readings)})
		env.tb.add(row{Part: part, Figure: "system CPU per reading (broker+Caretaker)", Value: usPer(r.SystemCPU(), sz.Readings)})
		env.tb.add(row{Part: part, Figure: "Caretaker peak RSS", Value: mib(peak)})
	} else {
		ext := env.external
		rr := r.Rate / ext.Rate
		cr := float64(r.SystemCPU()) / float64(ext.SystemCPU())
		env.tb.add(row{Part: part, Figure: "readings/s, publish to queryable", Value: fmt.Sprintf("%.0f", r.Rate),
			Ratio: fmt.Sprintf("%.2f of ceiling, %.2fx mosquitto+Caretaker", ratio, rr), Target: "2x mosquitto+Caretaker", Verdict: verdict(rr >= 2)})
		env.tb.add(row{Part: part, Figure: "completeness", Value: fmt.Sprintf("%.2f%%", 100*float64(got)/float64(sz.Readings)),
			Target: "100%", Verdict: verdict(got >= sz.Readings)})
		env.tb.add(row{Part: part, Figure: "system CPU per reading (= Caretaker)", Value: usPer(r.SystemCPU(), sz.Readings),
			Ratio: fmt.Sprintf("%.2f of mosquitto+Caretaker", cr), Target: "half of mosquitto+Caretaker", Verdict: verdict(cr <= 0.5)})
		env.tb.add(row{Part: part, Figure: "Caretaker peak RSS", Value: mib(peak)})
	}
	if prof != nil {
		if err := <-prof; err != nil {
			t.Errorf("profile: %v", err)
		} else {
			progress("CPU profile of Caretaker written to %s; top:\n%s", *profileOut, pprofTop(caretakerBinary(t), *profileOut))
		}
	}
	return r
}

func usPer(d time.Duration, n int) string {
	return fmt.Sprintf("%.1f us", float64(d.Microseconds())/float64(n))
}

// influxDB creates database db on the server and returns a handle on it.
func influxDB(t testing.TB, srv *testserver.Influx, db string) *testserver.Influx {
	t.Helper()
	if _, err := srv.Query("CREATE DATABASE " + db); err != nil {
		t.Fatal(err)
	}
	in := *srv
	in.Database = db
	return &in
}

// countPoints asks InfluxDB how many values of field a measurement holds.
func countPoints(t testing.TB, in *testserver.Influx, measurement, field string) int {
	return countPointsWhere(t, in, measurement, field, "")
}

// countPointsWhere is countPoints of the points a WHERE clause selects.
func countPointsWhere(t testing.TB, in *testserver.Influx, measurement, field, where string) int {
	q := fmt.Sprintf(`SELECT count(%q) FROM %q`, field, measurement)
	if where != "" {
		q += " WHERE " + where
	}
	raw, err := in.Query(q)
	if err != nil {
		t.Logf("count: %v", err)
		return 0
	}
	n, err := countOf(raw)
	if err != nil {
		t.Logf("count: %v", err)
		return 0
	}
	return n
}

// fetchProfile takes a CPU profile of seconds from a pprof listener.
func fetchProfile(addr string, seconds int, path string) error {
	return fetchPprof(addr, fmt.Sprintf("profile?seconds=%d", seconds), path)
}

// fetchPprof saves one /debug/pprof/ endpoint's answer to path.
func fetchPprof(addr, what, path string) error {
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/%s", addr, what))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pprofTop is `go tool pprof -top` of a profile, cut short.
func pprofTop(bin, path string) string {
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=30", bin, path).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(go tool pprof: %v)", err)
	}
	return testkit.Tail(string(out), 4000)
}

// countOf reads the first value of the answer raw to an InfluxQL count
// query: 0 when it holds no series.
func countOf(raw string) (int, error) {
	var res struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(raw), &res); err != nil {
		return 0, fmt.Errorf("count answer: %w", err)
	}
	if len(res.Results) == 0 || len(res.Results[0].Series) == 0 || len(res.Results[0].Series[0].Values) == 0 {
		return 0, nil
	}
	n, _ := res.Results[0].Series[0].Values[0][1].(float64)
	return int(n), nil
}

// waitStored polls count (5 minutes at most) until it reaches want: the
// last count, when it was taken, and whether it reached want.
func waitStored(want int, count func() int) (got int, at time.Time, complete bool) {
	complete = testkit.WithinEvery(5*time.Minute, 50*time.Millisecond, func() bool {
		got = count()
		at = time.Now()
		return got >= want
	})
	return got, at, complete
}

package bench

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

var (
	telegraf           = flag.Bool("telegraf", true, "with -full, run Telegraf (built with go install) beside Caretaker in the ingest part")
	telegrafPersistent = flag.Bool("telegraf-persistent", false, "run Telegraf with a persistent session (it acknowledges only what its output wrote) instead of its default (paho acknowledges on receipt)")
)

// telegrafVersion is the Telegraf the ingest part compares Caretaker with,
// built with only the plugins the comparison needs.
const (
	telegrafVersion = "v1.39.3"
	telegrafTags    = "custom,inputs.mqtt_consumer,outputs.influxdb_v2,parsers.json_v2,parsers.json"
)

// telegrafBinary builds Telegraf once (go install into the user's cache
// directory, about 20 s the first time) and returns its path.
func telegrafBinary(t testing.TB) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "caretaker-bench", "telegraf-"+telegrafVersion)
	bin := filepath.Join(dir, "telegraf")
	if st, err := os.Stat(bin); err == nil && !st.IsDir() {
		return bin
	}
	progress("building Telegraf %s (go install, tags %s)", telegrafVersion, telegrafTags)
	cmd := exec.Command("go", "install", "-tags", telegrafTags, "github.com/influxdata/telegraf/cmd/telegraf@"+telegrafVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install telegraf %s: %v\n%s", telegrafVersion, err, out)
	}
	return bin
}

// telegrafConfig is Telegraf as its users set it up for this load: the
// MQTT consumer at QoS 1 (its defaults otherwise), json_v2 taking the time
// from ts (milliseconds) and the fields from metrics, site and device tags
// from the topic, InfluxDB 1.8 through its /api/v2/write compatibility
// endpoint (bucket = database; InfluxDB 1.8 without auth takes an empty
// token), batches of 5 000 and a flush every second like Caretaker's.
// persistent: a persistent session, with which Telegraf acknowledges a
// message only once the output has written it (without, paho acknowledges
// on receipt). max_undelivered_messages is raised to twice the batch (see
// the comment in the configuration).
func telegrafConfig(broker, influxURL, bucket string, persistent bool) string {
	return fmt.Sprintf(`[agent]
  interval = "10s"
  flush_interval = "1s"
  metric_batch_size = 5000
  omit_hostname = true
  quiet = true

[[inputs.mqtt_consumer]]
  servers = [%q]
  topics = ["sites/+/devices/+/telemetry"]
  qos = 1
  client_id = "telegraf-bench"
  persistent_session = %t
  ## At most this many messages are read and not yet written; the
  ## default of 1 000, under a batch of 5 000, sends a batch only every
  ## flush_interval (about 1 000 readings/s). Its documentation says to
  ## pick it with metric_batch_size in mind: twice the batch.
  max_undelivered_messages = 10000
  topic_tag = ""
  data_format = "json_v2"
  [[inputs.mqtt_consumer.topic_parsing]]
    topic = "sites/+/devices/+/telemetry"
    tags = "_/site/_/device/_"
  [[inputs.mqtt_consumer.json_v2]]
    measurement_name = "gas"
    timestamp_path = "ts"
    timestamp_format = "unix_ms"
    [[inputs.mqtt_consumer.json_v2.object]]
      path = "metrics"

[[outputs.influxdb_v2]]
  urls = [%q]
  token = ""
  organization = ""
  bucket = %q
`, broker, persistent, influxURL, bucket)
}

// benchTelegraf: the ingest load of benchIngest through mosquitto into
// Telegraf (no rules) into InfluxDB, measured the same way: first publish
// until InfluxDB counts every reading, Telegraf's CPU and peak RSS from
// /proc. It returns the result for the ratios of Caretaker's rows.
func benchTelegraf(t *testing.T, env *benchEnv, persistent bool) ingestResult {
	sz := env.sz
	bin := telegrafBinary(t)
	name, db := "Telegraf", "bench_tg"
	if persistent {
		name, db = "Telegraf, persistent session", "bench_tgp"
	}
	progress("2. end-to-end ingest, mosquitto + %s %s: %d readings until all are in InfluxDB", name, telegrafVersion, sz.Readings)
	in := influxDB(t, env.influx, db)
	broker := testserver.Mosquitto(t)
	defer broker.Stop()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(cfg, []byte(telegrafConfig("tcp://"+broker.Addr, env.influx.URL, db, persistent)), 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "telegraf.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(os.Interrupt)
			_ = cmd.Wait()
		}
	}
	defer stop()
	// Telegraf has subscribed once a probe reading lands: publish one
	// (another device) every half second until one does. Only the load's
	// devices are counted afterwards.
	probe := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + broker.Addr).SetClientID("bench-tgprobe"))
	if tok := probe.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("probe: %v", tok.Error())
	}
	landed := testkit.WithinEvery(60*time.Second, 500*time.Millisecond, func() bool {
		probe.Publish("sites/s1/devices/bench-tgprobe/telemetry", 1, false,
			fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 1, "co_ppm": 1}}`, time.Now().UnixMilli())).Wait()
		return countPoints(t, in, "gas", "lel_pct") > 0
	})
	probe.Disconnect(100)
	if !landed {
		b, _ := os.ReadFile(log.Name())
		t.Fatalf("%s: no probe reading reached InfluxDB within 60 s; log:\n%s", name, b)
	}
	count := func() int { return countPointsWhere(t, in, "gas", "lel_pct", `device =~ /^bench-gas-/`) }
	want := sz.Readings
	cpu := startCPU(cmd.Process.Pid)
	pub := startPublisher(t, ingestLoad(sz, "tcp://"+broker.Addr, "bench-pub"))
	res := pub.Wait(t, 10*time.Minute)
	got, end, complete := waitStored(want, count)
	used := cpu.used()
	_, peak, _ := procMem(cmd.Process.Pid)
	stop()
	if !complete {
		b, _ := os.ReadFile(log.Name())
		t.Logf("%s: %d of %d readings in InfluxDB; log tail:\n%s", name, got, sz.Readings, tailString(string(b), 3000))
	}
	r := ingestResult{Rate: float64(sz.Readings) / end.Sub(res.Start).Seconds(), CaretakerCPU: used[0], Peak: peak}
	part := "2 telegraf"
	env.tb.add(row{Part: part, Figure: name + " readings/s, publish to queryable", Value: fmt.Sprintf("%.0f", r.Rate),
		Ratio: fmt.Sprintf("%.2f of ceiling", r.Rate/env.ceiling)})
	env.tb.add(row{Part: part, Figure: name + " completeness", Value: fmt.Sprintf("%.2f%%", 100*float64(got)/float64(sz.Readings))})
	env.tb.add(row{Part: part, Figure: name + " CPU per reading", Value: usPer(r.CaretakerCPU, sz.Readings)})
	env.tb.add(row{Part: part, Figure: name + " peak RSS", Value: mib(peak)})
	return r
}

// compareTelegraf adds Caretaker's ratios to Telegraf's (same run).
func compareTelegraf(env *benchEnv, ct, tg ingestResult) {
	ctPeak, tgPeak := ct.Peak, tg.Peak
	part := "2 vs telegraf"
	rr := ct.Rate / tg.Rate
	cr := float64(ct.CaretakerCPU) / float64(tg.CaretakerCPU)
	env.tb.add(row{Part: part, Figure: "Caretaker rate / Telegraf's", Value: fmt.Sprintf("%.0f / %.0f", ct.Rate, tg.Rate),
		Ratio: fmt.Sprintf("%.2f", rr), Target: ">= 1", Verdict: verdict(rr >= 1)})
	env.tb.add(row{Part: part, Figure: "Caretaker CPU per reading / Telegraf's", Value: fmt.Sprintf("%s / %s",
		usPer(ct.CaretakerCPU, env.sz.Readings), usPer(tg.CaretakerCPU, env.sz.Readings)),
		Ratio: fmt.Sprintf("%.2f", cr), Target: "<= 0.7", Verdict: verdict(cr <= 0.7)})
	env.tb.add(row{Part: part, Figure: "Caretaker peak RSS / Telegraf's", Value: fmt.Sprintf("%s / %s", mib(ctPeak), mib(tgPeak)),
		Ratio: fmt.Sprintf("%.2f", float64(ctPeak)/float64(tgPeak)), Target: "Caretaker <= 100 MB", Verdict: verdict(ctPeak <= 100e6)})
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return strings.TrimSpace(s)
}

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	paho "github.com/eclipse/paho.mqtt.golang"
)

const (
	envBroker  = "CARETAKER_BENCH_BROKER"
	envCount   = "CARETAKER_BENCH_COUNT"
	envDevices = "CARETAKER_BENCH_DEVICES"
	envBase    = "CARETAKER_BENCH_BASE_MS"
)

// TestMain runs a publisher when the benchmark starts this binary as its
// helper process (envPublish: the table's loads; envBroker: the loads of
// BenchmarkMQTTToInflux), so the publisher's CPU is not counted as
// Caretaker's.
func TestMain(m *testing.M) {
	if spec := os.Getenv(envPublish); spec != "" {
		var cfg pubConfig
		if err := json.Unmarshal([]byte(spec), &cfg); err != nil {
			fmt.Fprintln(os.Stderr, "publisher:", err)
			os.Exit(2)
		}
		if err := publisher(cfg); err != nil {
			fmt.Fprintln(os.Stderr, "publisher:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(envBroker) != "" {
		if err := publish(); err != nil {
			fmt.Fprintln(os.Stderr, "publisher:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// publish sends COUNT gas readings at QoS 1 round-robin over DEVICES
// devices, each with its own timestamp, keeping up to 1000 in flight.
func publish() error {
	n, _ := strconv.Atoi(os.Getenv(envCount))
	nd, _ := strconv.Atoi(os.Getenv(envDevices))
	base, _ := strconv.ParseInt(os.Getenv(envBase), 10, 64)
	opts := paho.NewClientOptions().AddBroker(os.Getenv(envBroker)).SetClientID("bench-publisher").
		SetMaxResumePubInFlight(1000).SetWriteTimeout(10 * time.Second).SetUsername(benchMQTTUser).SetPassword(benchMQTTPassword)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return fmt.Errorf("connect: %v", tok.Error())
	}
	defer c.Disconnect(1000)
	window := make([]paho.Token, 0, 1000)
	for i := 0; i < n; i++ {
		d := i % nd
		payload := fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": %d.5, "co_ppm": %d}}`, base+int64(i), i%100, i%50)
		window = append(window, c.Publish(fmt.Sprintf("sites/s1/devices/gas-%04d/telemetry", d), 1, false, payload))
		if len(window) == cap(window) || i == n-1 {
			for _, tok := range window {
				if tok.Wait(); tok.Error() != nil {
					return tok.Error()
				}
			}
			window = window[:0]
		}
	}
	return nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkMQTTToInflux: b.N readings from MQTT publish to points
// queryable in InfluxDB. Run with a fixed count, e.g. -benchtime=200000x.
// Reports readings/s (sustained, publish start to the last point counted
// by InfluxDB) and Caretaker's CPU seconds per 100k readings (this process:
// gateway, pipeline, writer; not the publisher, mosquitto or influxd).
func BenchmarkMQTTToInflux(b *testing.B) {
	const nDevices = 200
	broker := testserver.Mosquitto(b)
	srv := testserver.InfluxDB(b, "bench")
	cat := devices.Catalog{}
	for d := 0; d < nDevices; d++ {
		cat.Devices = append(cat.Devices, devices.Device{ID: fmt.Sprintf("gas-%04d", d), Kind: devices.KindGas, Site: "s1", Building: "B1"})
	}
	reg, err := devices.NewRegistry(cat)
	if err != nil {
		b.Fatal(err)
	}
	writer, err := influx.Open(influx.Config{URL: srv.URL, Bucket: "bench", BatchSize: 5000,
		FlushInterval: time.Second, SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer writer.Close()
	p := ingest.NewPipeline(ingest.PipelineConfig{Registry: reg, Writer: writer})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = writer.Run(ctx) }()
	go func() { _ = p.Run(ctx) }()
	gw := mqtt.NewGateway(mqtt.Config{Broker: "tcp://" + broker.Addr, ClientID: "caretaker-bench", QoS: 1}, p)
	go func() { _ = gw.Run(ctx) }()
	select {
	case <-gw.Ready():
	case <-time.After(10 * time.Second):
		b.Fatal("gateway not ready")
	}

	base := time.Now().Add(-time.Hour).UnixMilli()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envBroker+"=tcp://"+broker.Addr, envCount+"="+strconv.Itoa(b.N),
		envDevices+"="+strconv.Itoa(nDevices), envBase+"="+strconv.FormatInt(base, 10))
	cmd.Stderr = os.Stderr
	b.ResetTimer()
	cpu0, t0 := cpuSeconds(), time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	pubDone := make(chan error, 1)
	go func() { pubDone <- cmd.Wait() }()
	deadline := time.Now().Add(time.Duration(b.N/500+60) * time.Second)
	for {
		if n := count(b, srv); n >= b.N {
			break
		}
		select {
		case err := <-pubDone:
			if err != nil {
				b.Fatalf("publisher: %v", err)
			}
			pubDone = nil
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d readings in InfluxDB by the deadline", count(b, srv), b.N)
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed, cpu := time.Since(t0), cpuSeconds()-cpu0
	b.StopTimer()
	if pubDone != nil {
		<-pubDone
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "readings/s")
	b.ReportMetric(cpu/float64(b.N)*100000, "cpu-s/100k")
	if writer.Lost() != 0 {
		b.Errorf("%d points lost", writer.Lost())
	}
}

// count asks InfluxDB how many gas points it holds.
func count(b *testing.B, in *testserver.Influx) int {
	raw, err := in.Query(`SELECT count(lel_pct) FROM gas`)
	if err != nil {
		b.Fatal(err)
	}
	n, err := countOf(raw)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

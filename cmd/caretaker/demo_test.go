package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestDemoSimulatorLogsIn runs `caretaker demo`: the simulated estate logs
// in to the embedded broker with the credential the demo made for it and
// its readings come in; a client without credentials may publish a
// device's reading (demo only, with a warning in the log) but reads no
// events, and the simulator's client ids are not its to take.
func TestDemoSimulatorLogsIn(t *testing.T) {
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &logBuffer{}, &logBuffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"demo", "--http", httpAddr, "--mqtt", mqttAddr, "--rate", "5"}, stdout, stderr, nil)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-exit; code != 0 {
			t.Errorf("demo exited %d: %s", code, stderr.String())
		}
		if t.Failed() {
			t.Logf("demo log:\n%s", stderr.String())
		}
	})
	base := "http://" + httpAddr
	waitReady(t, base)
	waitFor(t, 30*time.Second, "the simulator's readings", func() bool {
		return drillScrape(t, base, "caretaker_ingest_readings_total") >= 8
	})
	if !strings.Contains(stderr.String(), "lets clients in without credentials (demo only)") {
		t.Error("no warning about anonymous clients in the demo's log")
	}
	if n := drillScrape(t, base, "caretaker_mqtt_refused_total"); n != 0 {
		t.Fatalf("the broker refused the simulator %v times", n)
	}
	token := regexp.MustCompile(`#token=([0-9a-f]+)`).FindStringSubmatch(stdout.String())
	if token == nil {
		t.Fatalf("no token printed: %s", stdout.String())
	}

	anon, err := mqttClient(t, mqttAddr, "visitor", "", nil)
	if err != nil {
		t.Fatalf("anonymous client in the demo: %v", err)
	}
	tok := anon.Subscribe("caretaker/events/#", 1, func(paho.Client, paho.Message) {})
	if !tok.WaitTimeout(5*time.Second) || tok.(*paho.SubscribeToken).Result()["caretaker/events/#"] != 0x80 {
		t.Fatalf("anonymous subscription to caretaker/events/#: %v", tok.(*paho.SubscribeToken).Result())
	}
	before := drillScrape(t, base, "caretaker_ingest_readings_total")
	if tok := anon.Publish("sites/s1/devices/gas-b2-01/telemetry", 1, false, `{"metrics": {"lel_pct": 1}}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("anonymous publish in the demo: %v", tok.Error())
	}
	waitFor(t, 10*time.Second, "the visitor's reading", func() bool { return drillScrape(t, base, "caretaker_ingest_readings_total") > before })
	if _, err := mqttClient(t, mqttAddr, "sim-gas-b2-01", "", nil); err == nil {
		t.Fatal("an anonymous client took a simulated device's client id")
	}
}

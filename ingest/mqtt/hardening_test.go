package mqtt_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestMQTTGatewayTLSAndPassword: the gateway reaches a broker that wants
// TLS (certificate from a private CA) and a password; without the CA file
// or with a wrong password it fails and says why.
func TestMQTTGatewayTLSAndPassword(t *testing.T) {
	broker := testserver.MosquittoWith(t, testserver.MosquittoOptions{TLS: true, Username: "caretaker", Password: "s3cret-pass"})
	p, sink, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{})
	startGateway(t, p, mqtt.Config{Broker: broker.URL, ClientID: "caretaker-tls", QoS: 1,
		Username: "caretaker", Password: "s3cret-pass", CAFile: broker.CAFile}, "gateway over TLS")

	dev := ingesttest.PahoClient(t, broker.Addr, "gas-b2-07", func(o *paho.ClientOptions) {
		o.Servers = nil
		o.AddBroker(broker.URL)
		o.SetUsername("caretaker").SetPassword("s3cret-pass")
		tlsCfg, err := mqtt.TLSConfig(broker.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		o.SetTLSConfig(tlsCfg)
	})
	ingesttest.Publish(t, dev, "sites/s1/devices/gas-b2-07/telemetry", `{"metrics": {"lel_pct": 7}}`)
	if r := sink.Wait(t, 1)[0]; r.Values["lel_pct"].Number != 7 {
		t.Errorf("reading over TLS = %+v", r)
	}

	for name, cfg := range map[string]mqtt.Config{
		"wrong password": {Broker: broker.URL, CAFile: broker.CAFile, Username: "caretaker", Password: "wrong"},
		"no CA file":     {Broker: broker.URL, Username: "caretaker", Password: "s3cret-pass"},
	} {
		cfg.ClientID, cfg.ConnectTimeout = "caretaker-bad", 3*time.Second
		err := mqtt.NewGateway(cfg, p).Run(context.Background())
		if err == nil {
			t.Errorf("%s: Run connected", name)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "wrong") || strings.Contains(msg, "s3cret") {
			t.Errorf("%s: error shows the password: %s", name, msg)
		}
	}
	if _, err := mqtt.TLSConfig(broker.CAFile + ".missing"); err == nil {
		t.Error("TLSConfig accepted a file that is not there")
	}
}

// TestMQTTBrokerRestartUnderLoadLosesNothing: a device publishes QoS 1
// messages throughout while mosquitto (persistence on) stops and starts
// again; every message reaches the pipeline at least once.
func TestMQTTBrokerRestartUnderLoadLosesNothing(t *testing.T) {
	broker := testserver.Mosquitto(t)
	p, sink, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{})
	startGateway(t, p, mqtt.Config{Broker: "tcp://" + broker.Addr, ClientID: "caretaker-restart", QoS: 1}, "gateway")

	dev := ingesttest.PahoClient(t, broker.Addr, "gas-b2-07", func(o *paho.ClientOptions) {
		o.SetCleanSession(false).SetAutoReconnect(true).SetMaxReconnectInterval(500 * time.Millisecond).
			SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond)
	})
	const total = 1500
	var sent atomic.Int64
	pubDone := make(chan error, 1)
	go func() {
		for i := 0; i < total; i++ {
			payload := fmt.Sprintf(`{"metrics": {"lel_pct": %d}}`, i)
			// A device keeps a message until the broker has taken it.
			for {
				tok := dev.Publish("sites/s1/devices/gas-b2-07/telemetry", 1, false, payload)
				if tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			sent.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
		pubDone <- nil
	}()

	testkit.Eventually(t, 20*time.Second, "a third published", func() bool { return sent.Load() > total/3 })
	broker.Stop()
	time.Sleep(time.Second) // the broker stays away while the device keeps trying
	if err := broker.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pubDone:
	case <-time.After(60 * time.Second):
		t.Fatalf("publisher stuck after %d messages", sent.Load())
	}
	seen := map[float64]bool{}
	testkit.Eventually(t, 30*time.Second, "every message delivered", func() bool {
		for _, r := range sink.Readings() {
			seen[r.Values["lel_pct"].Number] = true
		}
		return len(seen) == total
	})
	t.Logf("%d distinct messages, %d deliveries (duplicates are allowed at least once)", len(seen), len(sink.Readings()))
}

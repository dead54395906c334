package mqtt_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/ingesttest"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestGatewayAsksBeforeDialling: a gateway with MayConnect, kicked off
// by another client taking its id, dials again only while MayConnect
// allows it. Allowed, it takes the session back; refused (a leader that
// lost its lease), it leaves the session to the other client.
func TestGatewayAsksBeforeDialling(t *testing.T) {
	broker := testserver.Mosquitto(t).Addr
	p, _, _ := ingesttest.RunPipeline(t, ingest.PipelineConfig{})
	var allowed atomic.Bool
	allowed.Store(true)
	var asked, refused atomic.Int64
	ups := make(chan bool, 16)
	cfg := mqtt.Config{Broker: "tcp://" + broker, ClientID: "caretaker-north", QoS: 1,
		MayConnect: func(ctx context.Context) error {
			asked.Add(1)
			if !allowed.Load() {
				refused.Add(1)
				return errors.New("lease lost")
			}
			return nil
		},
		OnConnection: func(up bool, _ string) { ups <- up },
	}
	startGateway(t, p, cfg, "gateway")
	if asked.Load() != 1 {
		t.Fatalf("MayConnect asked %d times before the first dial, want 1", asked.Load())
	}
	want := func(up bool, what string) {
		t.Helper()
		select {
		case got := <-ups:
			if got != up {
				t.Fatalf("%s: connection up = %v, want %v", what, got, up)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no connection change", what)
		}
	}
	want(true, "first dial")

	// Allowed: kicked off, the gateway takes its session back, and with it
	// the other client is kicked off in turn.
	lost := make(chan struct{}, 1)
	intruder := ingesttest.PahoClient(t, broker, "caretaker-north", func(o *paho.ClientOptions) {
		o.SetCleanSession(false).SetAutoReconnect(false)
		o.SetConnectionLostHandler(func(paho.Client, error) { lost <- struct{}{} })
	})
	want(false, "kicked off by the intruder")
	want(true, "dialled again")
	select {
	case <-lost:
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway dialled again but the intruder kept the session")
	}
	if intruder.IsConnectionOpen() {
		t.Fatal("the intruder still connected")
	}

	// Refused: the new holder keeps the session.
	allowed.Store(false)
	successor := ingesttest.PahoClient(t, broker, "caretaker-north", func(o *paho.ClientOptions) {
		o.SetCleanSession(false).SetAutoReconnect(false)
	})
	want(false, "kicked off by the successor")
	deadline := time.Now().Add(60 * time.Second)
	for refused.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if refused.Load() < 2 {
		t.Fatalf("MayConnect refused %d dials, want the gateway to have asked at least twice", refused.Load())
	}
	if !successor.IsConnectionOpen() {
		t.Fatal("the successor lost the session though every dial was refused")
	}
	select {
	case up := <-ups:
		t.Fatalf("connection change %v after every dial was refused", up)
	default:
	}
}

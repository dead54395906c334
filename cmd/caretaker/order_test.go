package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestBurstSpikeRaisesEveryTime: a detector sends a burst of readings as
// fast as mosquitto takes them, one of them a spike above the alarm level
// amid harmless ones. Every burst raises the alarm: the spike is never
// handed to the rules after a later reading (which would make it old
// news, ignored).
func TestBurstSpikeRaisesEveryTime(t *testing.T) {
	broker := testserver.Mosquitto(t)
	const rounds, burst = 8, 300
	var devs strings.Builder
	for i := 0; i < rounds; i++ {
		fmt.Fprintf(&devs, "  - {id: gas-%d, kind: gas, site: s1, building: B2}\n", i)
	}
	ct := newCaretakerDir(t, operatorConfig(broker.Addr, "caretaker-order", devs.String()))
	startCaretaker(t, ct.Config)
	waitReady(t, ct.Base)
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker.Addr).SetClientID("burst-sensor"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	defer c.Disconnect(100)

	for round := 0; round < rounds; round++ {
		dev := fmt.Sprintf("gas-%d", round)
		start := time.Now().UnixMilli()
		toks := make([]mqtt.Token, 0, burst)
		for i := 0; i < burst; i++ {
			lel := 3
			if i == burst/2 {
				lel = 35
			}
			toks = append(toks, c.Publish("sites/s1/devices/"+dev+"/telemetry", 1, false,
				fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": %d}}`, start+int64(i), lel)))
		}
		for _, tok := range toks {
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
		waitFor(t, 15*time.Second, "round "+fmt.Sprint(round)+": the spike on "+dev+" raised gas-lel-critical", func() bool {
			var got struct {
				Alarms []struct {
					RuleID string `json:"rule_id"`
					Device string `json:"device_id"`
					Peak   float64
				} `json:"alarms"`
			}
			getJSON(t, ct.Base+"/api/alarms", operatorToken, &got)
			for _, a := range got.Alarms {
				if a.RuleID == "gas-lel-critical" && a.Device == dev && a.Peak == 35 {
					return true
				}
			}
			return false
		})
	}
}

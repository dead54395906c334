package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// Reliability drill of the embedded broker: devices publish to Caretaker
// itself, so what it acknowledges is all a device will not send again.
//
// Timeline, the caretaker binary built for the test, embedded broker and
// embedded store, on one data folder:
//
//	+0      20 detectors publish QoS 1 readings as fast as Caretaker
//	        acknowledges them; the publisher records each PUBACK
//	kill    SIGKILL once 3 000 readings are acknowledged, publishing on
//	restart same configuration, same data folder; the publisher reconnects
//	end     every reading Caretaker acknowledged, before the kill or after,
//	        is in the store
func TestDrillSIGKILLEmbeddedBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the drill builds the binary and runs it twice")
	}
	bin := testkit.CaretakerBinary(t)
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	const nDevices = 20
	var devs strings.Builder
	for i := 0; i < nDevices; i++ {
		fmt.Fprintf(&devs, "  - {id: %s, kind: gas, site: s1, building: B1, location: \"B1 plant room %d\"}\n", gasID(i), i)
	}
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {embedded: true, embedded_listen: "%s", username: `+testMQTTUser+`, password: `+testMQTTPassword+`}
store: {path: "%[3]s/caretaker.db", readings_path: "%[3]s/readings.db", photos_dir: "%[3]s/photos"}
auth:
  tokens:
    - {name: ops1, role: operator, token: %[4]s}
devices:
%[5]s`, httpAddr, mqttAddr, dir, operatorToken, devs.String())
	})
	proc := ct.startProcess(t, bin)
	base := ct.Base

	load := startLoad(t, mqttAddr, nDevices, func(int) bool { return false })
	defer load.stop()
	waitFor(t, 60*time.Second, "3 000 readings acknowledged", func() bool { return load.sent.Load() >= 3000 })
	proc.Kill()
	ackedAtKill := load.sent.Load()

	proc.Start()
	proc.WaitReady(base, 30*time.Second)
	waitFor(t, 60*time.Second, "1 000 more readings acknowledged after the restart", func() bool {
		return load.sent.Load() >= ackedAtKill+1000
	})
	load.stop()

	// Acknowledged means stored: no waiting for anything to arrive.
	if lost, examples := load.unstored(t, base, nDevices); lost > 0 {
		t.Errorf("%d of %d readings the embedded broker acknowledged are not in the store, e.g. %v", lost, load.sent.Load(), examples)
	}
	t.Logf("readings acknowledged: %d before the kill, %d in all", ackedAtKill, load.sent.Load())
}

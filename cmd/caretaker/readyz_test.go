package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestReadyzThroughInfluxOutage: /readyz on a running caretaker while a
// real InfluxDB is stopped. While the spool takes the readings Caretaker
// stays ready (200) and says it is degraded and why; once the spool is
// full and readings are being lost it is not ready (503); InfluxDB back
// and the spool drained, ready again.
func TestReadyzThroughInfluxOutage(t *testing.T) {
	influx := testserver.InfluxDB(t, "caretaker")
	mqttAddr := fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {embedded: true, embedded_listen: "%s", username: `+testMQTTUser+`, password: `+testMQTTPassword+`}
influx: {url: "%s", bucket: caretaker, batch_size: 50, flush_interval: 100ms, spool_dir: "%s/spool", spool_max_bytes: 8000}
store: {path: "%[4]s/caretaker.db"}
auth: {tokens: [{name: ops1, role: operator, token: %s}]}
devices:
  - {id: gas-1, kind: gas, site: s1, building: B2}
`, httpAddr, mqttAddr, influx.URL, dir, operatorToken)
	})
	startCaretaker(t, ct.Config)
	base := ct.Base
	type answer struct {
		code   int
		status string
		text   string
	}
	readyz := func() answer {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return answer{}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var body struct{ Status string }
		_ = json.Unmarshal(b, &body)
		return answer{resp.StatusCode, body.Status, string(b)}
	}
	var last answer
	waitReadyz := func(what string, ok func(answer) bool) answer {
		t.Helper()
		waitFor(t, 30*time.Second, what, func() bool { last = readyz(); return ok(last) })
		return last
	}
	waitReadyz("ready with InfluxDB up", func(a answer) bool { return a.code == 200 && a.status == "ready" })

	influx.Stop()
	a := waitReadyz("degraded with InfluxDB down", func(a answer) bool { return a.code != 0 && a.status != "ready" })
	if a.code != 200 || a.status != "degraded" || !strings.Contains(a.text, "influx") || !strings.Contains(a.text, "spool") {
		t.Fatalf("readyz with InfluxDB down and room in the spool: %d %s; want 200, degraded, naming InfluxDB and the spool", a.code, a.text)
	}

	// Readings come in until the 8 000-byte spool refuses them.
	dev := drillMQTT(t, mqttAddr, "gas-1")
	ts := time.Now().Add(-time.Hour).UnixMilli()
	for i := 0; drillScrape(t, base, `caretaker_influx_points_lost_total{reason="spool_full"}`) == 0; i++ {
		if i > 5000 {
			t.Fatal("the spool never filled")
		}
		tok := dev.Publish("sites/s1/devices/gas-1/telemetry", 1, false, fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 1.5}}`, ts+int64(i)))
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	a = readyz()
	if a.code != 503 || !strings.Contains(a.text, "spool full") {
		t.Fatalf("readyz with the spool full: %d %s; want 503 saying the spool is full", a.code, a.text)
	}

	if err := influx.Start(); err != nil {
		t.Fatal(err)
	}
	influx.WaitReady(t)
	waitReadyz("ready again once InfluxDB is back", func(a answer) bool { return a.code == 200 && a.status == "ready" })
}

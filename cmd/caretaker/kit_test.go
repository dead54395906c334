package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// What the tests of cmd/caretaker share to run Caretaker, built on
// internal/testkit. In-process: startCaretaker and runCaretaker
// (serve_test.go). As a process: testkit.NewCaretaker with
// testkit.CaretakerBinary. Either way over a fresh data folder: see
// newCaretakerDir, serveConfig and startProcess.

// The embedded broker's shared device credential in the tests
// (mqtt.username and password): it publishes for any device. Publishers to
// mosquitto send it too (mosquitto without a password file takes it).
const (
	testMQTTUser     = "test-devices"
	testMQTTPassword = "test-devices-password"
)

// waitFor waits on state: cond is polled until it holds, the test fails
// after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, d, what, cond)
}

// waitReady waits until the caretaker at base (http://host:port) answers
// /readyz with 200.
func waitReady(t *testing.T, base string) {
	t.Helper()
	testkit.WaitReady(t, base, 30*time.Second)
}

// drillScrape reads one series from base's /metrics: an exact name with
// labels, or a bare name whose samples (every label set) are summed. The
// test fails when /metrics cannot be read.
func drillScrape(t *testing.T, base, series string) float64 {
	t.Helper()
	return testkit.Metric(t, base+"/metrics", series)
}

// caretakerDir is a fresh data folder holding caretaker.yaml, for a
// caretaker that serves HTTP on a free 127.0.0.1 port.
type caretakerDir struct {
	Addr   string // http.listen, host:port
	Base   string // http://Addr
	Dir    string // the data folder
	Config string // Dir/caretaker.yaml
}

// newCaretakerDir picks the port and the folder and writes as
// caretaker.yaml what config returns for them.
func newCaretakerDir(t *testing.T, config func(httpAddr, dir string) string) caretakerDir {
	t.Helper()
	c := caretakerDir{Addr: fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t)), Dir: t.TempDir()}
	c.Base = "http://" + c.Addr
	c.Config = filepath.Join(c.Dir, "caretaker.yaml")
	writeFile(t, c.Config, config(c.Addr, c.Dir))
	return c
}

// receiverURL serves h on a real HTTP server on 127.0.0.1 until the test
// ends (after a caretaker started later has stopped) and returns its URL.
func receiverURL(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// operatorConfig is the configuration of a caretaker over the mosquitto
// at brokerAddr (as clientID), its stores in the data folder, with one
// operator token (ops1) and devices (YAML list items, one a line).
func operatorConfig(brokerAddr, clientID, devices string) func(httpAddr, dir string) string {
	return func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: %s}
store: {path: "%[4]s/caretaker.db", readings_path: "%[4]s/readings.db", photos_dir: "%[4]s/photos"}
auth: {tokens: [{name: ops1, role: operator, token: %[5]s}]}
devices:
%[6]s`, httpAddr, brokerAddr, clientID, dir, operatorToken, devices)
	}
}

// serveConfig is newCaretakerDir, then caretaker started in-process on
// it (startCaretaker) and ready; it hands back the folder and the log.
func serveConfig(t *testing.T, config func(httpAddr, dir string) string) (caretakerDir, *logBuffer) {
	t.Helper()
	c := newCaretakerDir(t, config)
	logs := startCaretaker(t, c.Config)
	waitReady(t, c.Base)
	return c, logs
}

// startProcess runs bin as a child process over c (its log in
// Dir/caretaker.log) and waits until it is ready.
func (c caretakerDir) startProcess(t *testing.T, bin string) *testkit.Caretaker {
	t.Helper()
	proc := testkit.NewCaretaker(t, bin, c.Config, filepath.Join(c.Dir, "caretaker.log"))
	proc.Start()
	proc.WaitReady(c.Base, 30*time.Second)
	return proc
}

// publishGasL1 publishes an L1 gas reading (35.5 %LEL, now) of gas-b2-07
// over the broker at brokerAddr.
func publishGasL1(t *testing.T, brokerAddr string) {
	t.Helper()
	publish(t, brokerAddr, "sites/s1/devices/gas-b2-07/telemetry",
		fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 35.5, "co_ppm": 3, "fault": false}}`, time.Now().UnixMilli()))
}

// waitOneTicket waits until base lists exactly one ticket and returns it.
func waitOneTicket(t *testing.T, base, what string) ticketing.Ticket {
	t.Helper()
	var tk ticketing.Ticket
	waitFor(t, 15*time.Second, what, func() bool {
		var list struct{ Tickets []ticketing.Ticket }
		getJSON(t, base+"/api/tickets", operatorToken, &list)
		if len(list.Tickets) == 1 {
			tk = list.Tickets[0]
		}
		return len(list.Tickets) == 1
	})
	return tk
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/caretaker-iot/caretaker/devices"
	firmwaresim "github.com/caretaker-iot/caretaker/firmware-sim"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestBrowser runs the web UI's browser tests (e2e/*.test.js: headless
// Debian Chromium driven by playwright-core, node's own test runner)
// against a real caretaker on a real mosquitto. The page must show what
// arrives over MQTT within seconds, without a reload; so the node tests
// publish device messages through a small helper endpoint of this test,
// which hands them to mosquitto.
//
// Screenshots of every page land in e2e/artifacts/. Outside CI the test
// is skipped when Chromium, node or e2e/node_modules are missing
// (./scripts/test installs them); in CI it fails instead.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	e2e, err := filepath.Abs(filepath.Join("..", "..", "e2e"))
	if err != nil {
		t.Fatal(err)
	}
	chromium := needTool(t, "chromium", "/usr/bin/chromium")
	node := needTool(t, "node", "")
	if _, err := os.Stat(filepath.Join(e2e, "node_modules", "playwright-core")); err != nil {
		skipOrFail(t, "e2e/node_modules/playwright-core missing: run (cd e2e && npm ci)")
	}
	// E2E_FILES (a glob such as "x7-*") runs some of the files, while
	// working on them; CI runs them all.
	only := os.Getenv("E2E_FILES")
	if only == "" || os.Getenv("CI") != "" {
		only = "*"
	}
	files, _ := filepath.Glob(filepath.Join(e2e, only+".test.js"))
	if len(files) == 0 {
		t.Fatalf("no e2e/%s.test.js", only)
	}

	broker := testserver.Mosquitto(t)
	// The webhook receiver of pages; the node tests read what it got
	// (GET /pages: the bodies, oldest first).
	recv := &hookReceiver{}
	hookURL := receiverURL(t, recv)
	// The SMS gateway that tells reporters (GET /sms on the helper: what
	// it was asked to send, oldest first).
	gw := &smsGateway{}
	smsURL := receiverURL(t, gw)
	tokens := map[string]string{
		"operator":   "op-e2e-0123456789abcdef",
		"patrol":     "pa-e2e-0123456789abcdef",
		"technician": "te-e2e-0123456789abcdef",
		"engineer":   "en-e2e-0123456789abcdef",
		"manager":    "ma-e2e-0123456789abcdef",
		"admin":      "ad-e2e-0123456789abcdef",
	}
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-browser}
store: {path: "%s/caretaker.db", readings_path: "%[3]s/readings.db", photos_dir: "%[3]s/photos"}
auth:
  tokens:
    - {name: ops1, role: operator, token: %s}
    - {name: pat1, role: patrol, token: %s}
    - {name: tech1, role: technician, token: %s}
    - {name: eng1, role: engineer, token: %s}
    - {name: pm1, role: manager, token: %[12]s}
    - {name: root, role: admin, token: %[13]s}
time_zone: Asia/Shanghai
sites: [{id: s1, name: 北区, name_en: North estate},
  {id: s10, name: 东区, name_en: East estate, buildings: [{id: 10号楼, name_en: Building 10, units: ["1", "2"], floors: 12, rooms: ["01", "02"]}, {id: 会所, name_en: Clubhouse}]}]
technicians: [{name: tech1, skills: [gas, plumbing, electrical], zones: [z1], on_duty: true},
  {name: tech2, skills: [electrical], zones: [z2], on_duty: true}]
people: [{name: tech1, lang: en}, {name: desk, roles: [control_room]}]
rosters: [{zones: [z1], people: [tech1], shifts: ["mon-sun 00:00-24:00"]}]
channels:
  - {name: screen, type: log}
  - {name: hook, type: webhook, url: "%[8]s/hook", secret: "%[9]s", timeout: 2s}
  - {name: sms, type: sms_http, url: "%[11]s/send", body: '{"id":"{{id}}","phone":"{{phone}}","text":"{{text}}"}'}
notify:
  ack_secret: "%[10]s"
  retry_min: 100ms
  retry_max: 300ms
  policies: [{level: 1, steps: [{after: 0s, to: [on_duty, control_room], via: [screen, hook]}, {after: 4s, to: [desk], via: [hook]}]},
    {level: 2, steps: [{after: 0s, to: [reporter], via: [sms]}]}, {level: 3, steps: [{after: 0s, to: [reporter], via: [sms]}]}]
devices:
  - {id: gas-b4-01, kind: gas, site: s1, building: B4, location: "B4 laundry", zone: z1}
  - {id: gas-b5-01, kind: gas, site: s1, building: B5, location: "B5 plant room", zone: z1}
  - {id: gas-b6-01, kind: gas, site: s1, building: B6, location: "B6 boiler house", zone: z1}
  - {id: gas-b2-07, kind: gas, site: s1, building: B2, location: "B2 boiler room", zone: z1}
  - {id: gas-b3-01, kind: gas, site: s1, building: B3, location: "B3 kitchen riser", zone: z1}
  - {id: gas-b8-01, kind: gas, site: s1, building: B8, location: "B8 kitchen riser", zone: z1}
  - {id: gas-b9-01, kind: gas, site: s1, building: B9, location: "B9 plant room", zone: z1}
  - {id: wl-b1-01, kind: water_leak, site: s1, building: B1, location: "B1 pump room", zone: z1, place_type: pump_room}
  - {id: el-e3, kind: elevator, site: s1, building: B1, location: "Lift E3", zone: z1, machine_class: I}
  - {id: el-x9, kind: elevator, site: s1, building: X9, location: "X9 lift L2", zone: z1, machine_class: I}
  - {id: gas-c1-01, kind: gas, site: s1, building: C1, location: "C1 canteen kitchen", zone: z1}
  - {id: gas-c2-01, kind: gas, site: s1, building: C2, location: "C2 boiler room", zone: z1}
  - {id: gas-t7-01, kind: gas, site: s1, building: T7, location: "T7 laundry", zone: z1}
  - {id: gas-t7-02, kind: gas, site: s1, building: T7, location: "T7 drying room", zone: z1}
  - {id: gas-t7-03, kind: gas, site: s1, building: T7, location: "T7 store room", zone: z1}
  - {id: wl-b7-01, kind: water_leak, site: s7, building: B7, floor: "-1", location: "B7 水泵房 pump room", zone: z1}
  - {id: wl-b8-01, kind: water_leak, site: s8, building: B8, location: "B8 pump room", zone: z8}
  - {id: wv-b8, kind: actuator, actuator: water_valve, site: s8, building: B8, location: "B8 water main valve", zone: z8}
  - {id: gas-x10-01, kind: gas, site: s11, building: F1, floor: "3", location: "F1 3F kitchen", zone: z1}
  - {id: wl-x10-02, kind: water_leak, site: s11, building: F1, floor: B1, location: "F1 pump room", zone: z1}
  - {id: gas-x10-03, kind: gas, site: s11, building: F2, floor: "1", location: "F2 canteen kitchen", zone: z1}
  - {id: gas-x8-01, kind: gas, site: s10, building: 10号楼, location: "10号楼 boiler room", zone: z1}
actions: {read_back: 3s, attempts: 3}
qr:
  secret: "%[10]s-qr"
  reports_per_code: 2
  places: [{site: s7, building: B7, floor: "1", location: "B7 大堂 lobby"}]
`, httpAddr, broker.Addr, dir, tokens["operator"], tokens["patrol"], tokens["technician"], tokens["engineer"],
			hookURL, hookSecret, ackSecret, smsURL, tokens["manager"], tokens["admin"])
	})

	startCaretaker(t, ct.Config)
	base := ct.Base
	waitReady(t, base)

	// The B8 water valve is firmware-sim's: it honours the commands and
	// reports its state.
	sim, err := firmwaresim.New(firmwaresim.Config{Broker: "tcp://" + broker.Addr, Interval: time.Hour, QoS: 1,
		Devices: []devices.Device{{ID: "wv-b8", Kind: devices.KindActuator, Actuator: "water_valve", Site: "s8", Building: "B8", Zone: "z8"}}})
	if err != nil {
		t.Fatal(err)
	}
	simCtx, stopSim := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(simCtx) }()
	t.Cleanup(func() { stopSim(); <-simDone })
	// A second caretaker whose claim limit is 3 s and which has no
	// technicians (every ticket waits in the pool), so that a missed
	// claim and its escalation happen within a browser test
	// (E2E_CLOCKS_URL, the same tokens).
	clocks := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-browser-clocks}
store: {path: "%s/caretaker.db", readings_path: "%[3]s/readings.db", photos_dir: "%[3]s/photos"}
auth:
  tokens:
    - {name: ops1, role: operator, token: %s}
    - {name: pat1, role: patrol, token: %s}
sla: {claim_timeout: 3s}
devices:
  - {id: gas-d1-01, kind: gas, site: s2, building: D1, location: "D1 kitchen", zone: z9}
`, httpAddr, broker.Addr, dir, tokens["operator"], tokens["patrol"])
	})
	startCaretaker(t, clocks.Config)
	waitReady(t, clocks.Base)

	pub := newPublisher(t, broker.Addr)
	mux := http.NewServeMux()
	mux.Handle("/publish", pub)
	mux.HandleFunc("GET /pages", func(w http.ResponseWriter, r *http.Request) {
		var bodies []any
		for _, c := range recv.snapshot() {
			bodies = append(bodies, map[string]any{"delivery": c.ID, "answer": c.Answer, "body": c.Body})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(bodies)
	})
	mux.HandleFunc("GET /sms", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(append([]smsMessage{}, gw.snapshot()...))
	})
	// POST /hook-down?down=1 makes the receiver refuse pages, =0 take them.
	mux.HandleFunc("POST /hook-down", func(w http.ResponseWriter, r *http.Request) {
		recv.setDown(r.URL.Query().Get("down") == "1")
		w.WriteHeader(http.StatusNoContent)
	})
	helper := httptest.NewServer(mux)
	t.Cleanup(helper.Close)

	tokJSON, _ := json.Marshal(tokens)
	artifacts := filepath.Join(e2e, "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	// A bound for a hung browser, not a speed check: the whole suite
	// takes several minutes on two shared cores under -race.
	nctx, ncancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer ncancel()
	args := append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(nctx, node, args...)
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(),
		"CARETAKER_URL="+base,
		"E2E_CLOCKS_URL="+clocks.Base,
		"E2E_TOKENS="+string(tokJSON),
		"E2E_PUBLISH_URL="+helper.URL+"/publish",
		"E2E_PAGES_URL="+helper.URL+"/pages",
		"E2E_SMS_URL="+helper.URL+"/sms",
		"E2E_CHROMIUM="+chromium,
		"E2E_ARTIFACTS="+artifacts,
		"NO_COLOR=1",
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test e2e:\n%s", out)
	if err != nil {
		t.Fatalf("browser tests failed: %v (screenshots in %s)", err, artifacts)
	}
	if err := checkNodeSummary(string(out)); err != nil {
		t.Fatalf("browser tests: %v", err)
	}
}

// checkNodeSummary reads the totals node's test runner prints last
// ("ℹ tests 12", "ℹ pass 12", ...; "# tests 12" with the TAP reporter)
// and accepts only a run in which every test ran and passed: none failed,
// cancelled, skipped or left todo, and at least one passed.
func checkNodeSummary(out string) error {
	want := []string{"tests", "pass", "fail", "cancelled", "skipped", "todo"}
	n := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || (f[0] != "ℹ" && f[0] != "#") {
			continue
		}
		v, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		n[f[1]] = v // the summary comes last: a later total wins
	}
	for _, k := range want {
		if _, ok := n[k]; !ok {
			return fmt.Errorf("node printed no %q total: not a test runner summary", k)
		}
	}
	switch {
	case n["fail"] > 0 || n["cancelled"] > 0:
		return fmt.Errorf("%d failed, %d cancelled of %d", n["fail"], n["cancelled"], n["tests"])
	case n["skipped"] > 0 || n["todo"] > 0:
		return fmt.Errorf("%d skipped, %d todo of %d: every browser test must run", n["skipped"], n["todo"], n["tests"])
	case n["pass"] == 0:
		return fmt.Errorf("no test passed (%d tests)", n["tests"])
	case n["pass"] != n["tests"]:
		return fmt.Errorf("%d of %d tests passed", n["pass"], n["tests"])
	}
	return nil
}

// publisher hands the node tests' device messages to mosquitto:
// POST /publish {"topic": "...", "payload": "..."}.
type publisher struct {
	c mqtt.Client
}

func newPublisher(t *testing.T, addr string) *publisher {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("e2e-devices"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return &publisher{c: c}
}

func (p *publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m struct {
		Topic   string `json:"topic"`
		Payload string `json:"payload"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&m) != nil || m.Topic == "" {
		http.Error(w, `want POST {"topic", "payload"}`, http.StatusBadRequest)
		return
	}
	tok := p.c.Publish(m.Topic, 1, false, m.Payload)
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		http.Error(w, fmt.Sprintf("publish: %v", tok.Error()), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// needTool finds a program, or skips (fails in CI) without it.
func needTool(t *testing.T, name, fallback string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if fallback != "" {
		if _, err := os.Stat(fallback); err == nil {
			return fallback
		}
	}
	skipOrFail(t, name+" not installed: ./scripts/test installs it")
	return ""
}

func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why) // only outside CI: a missing browser or node is installed by ./scripts/test
}

func TestNodeSummary(t *testing.T) {
	summary := func(tests, pass, fail, cancelled, skipped, todo int) string {
		return fmt.Sprintf("✔ a test (1.2ms)\nℹ tests %d\nℹ suites 0\nℹ pass %d\nℹ fail %d\nℹ cancelled %d\nℹ skipped %d\nℹ todo %d\nℹ duration_ms 395.5\n",
			tests, pass, fail, cancelled, skipped, todo)
	}
	tests := []struct {
		name string
		out  string
		ok   bool
	}{
		{"all passed", summary(12, 12, 0, 0, 0, 0), true},
		{"TAP reporter", "ok 1 - a\n1..1\n# tests 1\n# suites 0\n# pass 1\n# fail 0\n# cancelled 0\n# skipped 0\n# todo 0\n", true},
		{"none ran", summary(0, 0, 0, 0, 0, 0), false},
		{"one skipped", summary(12, 11, 0, 0, 1, 0), false},
		{"one todo", summary(12, 11, 0, 0, 0, 1), false},
		{"one failed", summary(12, 11, 1, 0, 0, 0), false},
		{"one cancelled", summary(12, 11, 0, 1, 0, 0), false},
		{"pass 0 of 3", summary(3, 0, 0, 0, 0, 0), false},
		{"no summary", "✔ a test (1.2ms)\nℹ pass\n", false},
		{"summary cut short", "ℹ tests 3\nℹ pass 3\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkNodeSummary(tc.out)
			if (err == nil) != tc.ok {
				t.Fatalf("checkNodeSummary = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
	sv "github.com/simonvetter/modbus"

	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// Reliability drills of issue 8 on the whole of `caretaker serve` with
// real servers. The other drills live beside the code they exercise:
// InfluxDB stopped for 30 s under load (ingest:
// TestInfluxOutageUnderLoadLosesNothing), broker restarted under load
// (ingest: TestMQTTBrokerRestartUnderLoadLosesNothing).

// TestDrillSpoolFull: InfluxDB goes away and the spool fills up. The
// readings that no longer fit are lost, and the loss is counted on
// /metrics, logged, and shown on the dashboard (device.status of
// store:influx offline, with the count); when InfluxDB is back the spool
// drains, new readings land again, store:influx is online again, and
// InfluxDB holds exactly what was published minus what was counted lost.
func TestDrillSpoolFull(t *testing.T) {
	broker := testserver.Mosquitto(t)
	influx := testserver.InfluxDB(t, "caretaker")
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {broker: "tcp://%s", client_id: caretaker-drill-spool}
influx: {url: "%s", bucket: caretaker, batch_size: 50, flush_interval: 100ms, spool_dir: "%s/spool", spool_max_bytes: 8000}
store: {path: "%[4]s/caretaker.db"}
auth: {tokens: [{name: ops1, role: operator, token: %s}]}
devices:
  - {id: gas-1, kind: gas, site: s1, building: B2}
  - {id: gas-2, kind: gas, site: s1, building: B2}
`, httpAddr, broker.Addr, influx.URL, dir, operatorToken)
	})
	httpAddr := ct.Addr
	logs := startCaretaker(t, ct.Config)
	base := ct.Base
	waitReady(t, base)
	events := drillEvents(t, httpAddr, "")

	dev := drillMQTT(t, broker.Addr, "drill-gas")
	ts := time.Now().Add(-time.Hour).UnixMilli()
	sent := 0
	send := func(n int) {
		for i := 0; i < n; i++ {
			payload := fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 1.5, "co_ppm": 3}}`, ts+int64(sent))
			tok := dev.Publish(fmt.Sprintf("sites/s1/devices/gas-%d/telemetry", sent%2+1), 1, false, payload)
			if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatalf("publish %d: %v", sent, tok.Error())
			}
			sent++
		}
	}
	inInflux := func() int {
		raw, err := influx.Query(`SELECT count("lel_pct") FROM "gas"`)
		if err != nil {
			return -1
		}
		var res struct {
			Results []struct {
				Series []struct{ Values [][]any } `json:"series"`
			} `json:"results"`
		}
		if json.Unmarshal([]byte(raw), &res) != nil || len(res.Results) == 0 || len(res.Results[0].Series) == 0 {
			return 0
		}
		n, _ := res.Results[0].Series[0].Values[0][1].(float64)
		return int(n)
	}

	send(20)
	waitFor(t, 10*time.Second, "the first 20 readings in InfluxDB", func() bool { return inInflux() == 20 })

	// InfluxDB goes away; 400 readings come in: the 8000-byte spool holds
	// about a hundred, the rest are lost.
	influx.Stop()
	send(400)
	waitFor(t, 20*time.Second, "the loss counted on /metrics", func() bool {
		return drillScrape(t, base, `caretaker_influx_points_lost_total{reason="spool_full"}`) > 0
	})
	down := drillWaitStatus(t, events, InfluxStatusID, false, 15*time.Second)
	if !strings.Contains(down.Reason, "lost") {
		t.Errorf("store:influx offline reason %q does not tell of the loss", down.Reason)
	}
	if !strings.Contains(logs.String(), "influx points lost") {
		t.Error("the loss is not in the log")
	}

	// InfluxDB returns: the spool drains, store:influx is back, new
	// readings land.
	if err := influx.Start(); err != nil {
		t.Fatal(err)
	}
	influx.WaitReady(t)
	drillWaitStatus(t, events, InfluxStatusID, true, 90*time.Second)
	send(50)
	lost := int(drillScrape(t, base, "caretaker_influx_points_lost_total"))
	want := sent - lost
	waitFor(t, 30*time.Second, fmt.Sprintf("%d readings (%d sent, %d counted lost) in InfluxDB", want, sent, lost), func() bool {
		return inInflux() == want
	})
	if lost == 0 || lost >= 400 {
		t.Errorf("lost %d of the 400 sent during the outage; want some, not all", lost)
	}
	if l := int(drillScrape(t, base, "caretaker_influx_points_lost_total")); l != lost {
		t.Errorf("lost grew from %d to %d after InfluxDB came back", lost, l)
	}
	t.Logf("%d readings sent, %d lost and counted (spool full), %d in InfluxDB", sent, lost, inInflux())
}

// flapHandler serves three power meters on one Modbus TCP address: unit 1
// does what mode says, units 2 and 3 always answer 230 V.
type flapHandler struct {
	mode atomic.Int32
	n    atomic.Int64
}

const (
	modeAnswer = iota
	modeException
	modeSilent
	modeAlternate // answer and exception by turns
)

func (h *flapHandler) HandleCoils(*sv.CoilsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}
func (h *flapHandler) HandleDiscreteInputs(*sv.DiscreteInputsRequest) ([]bool, error) {
	return nil, sv.ErrIllegalFunction
}
func (h *flapHandler) HandleInputRegisters(*sv.InputRegistersRequest) ([]uint16, error) {
	return nil, sv.ErrIllegalFunction
}
func (h *flapHandler) HandleHoldingRegisters(req *sv.HoldingRegistersRequest) ([]uint16, error) {
	if req.UnitId == 1 {
		switch h.mode.Load() {
		case modeException:
			return nil, sv.ErrServerDeviceFailure
		case modeSilent:
			time.Sleep(1500 * time.Millisecond) // well past the 300 ms timeout: no answer
			return nil, sv.ErrServerDeviceFailure
		case modeAlternate:
			if h.n.Add(1)%2 == 0 {
				return nil, sv.ErrServerDeviceFailure
			}
		}
	}
	out := make([]uint16, req.Quantity)
	for i := range out {
		out[i] = 2300
	}
	return out, nil
}

// TestDrillModbusFlapping: one meter of three on the same Modbus address
// flaps for about 25 s between answering, exceptions and silence. Short
// spells without data (under the 3 s offline rule) raise nothing; each of
// the two outages raises exactly one offline alarm, even the one that
// mixes silence and exceptions, and clears when the meter answers again.
// The two other meters on the line keep delivering: no alarm, no offline
// status, and never a gap near the offline limit.
func TestDrillModbusFlapping(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a 25 s drill")
	}
	h := &flapHandler{}
	port := testserver.FreePort(t)
	srv, err := sv.NewServer(&sv.ServerConfiguration{URL: fmt.Sprintf("tcp://127.0.0.1:%d", port), MaxClients: 32,
		Timeout: time.Minute, Logger: log.New(io.Discard, "", 0)}, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })

	line := fmt.Sprintf(`address: "tcp://127.0.0.1:%d", interval: 200ms, timeout: 300ms`, port)
	ct := newCaretakerDir(t, func(httpAddr, dir string) string {
		return fmt.Sprintf(`http: {listen: "%s"}
mqtt: {embedded: true, embedded_listen: "127.0.0.1:%d", client_id: caretaker-drill-modbus, username: `+testMQTTUser+`, password: `+testMQTTPassword+`}
store: {path: "%s/caretaker.db", readings_path: "%[3]s/readings.db"}
auth: {tokens: [{name: ops1, role: operator, token: %s}]}
modbus: {offline_after: 3, max_backoff: 400ms}
models:
  drill-meter: {registers: [{metric: voltage_v, table: holding, address: 0, type: uint16, scale: 0.1}]}
devices:
  - {id: pm-flappy, kind: power, site: s1, building: B1, model: drill-meter, modbus: {unit: 1, %[5]s}}
  - {id: pm-steady-2, kind: power, site: s1, building: B1, model: drill-meter, modbus: {unit: 2, %[5]s}}
  - {id: pm-steady-3, kind: power, site: s1, building: B1, model: drill-meter, modbus: {unit: 3, %[5]s}}
rules:
  define:
    - {id: power-offline, name: Power meter offline, kind: power, condition: {op: stale, after: 3s}, severity: major}
`, httpAddr, testserver.FreePort(t), dir, operatorToken, line)
	})
	httpAddr := ct.Addr
	startCaretaker(t, ct.Config)
	waitReady(t, ct.Base)
	events := drillEvents(t, httpAddr, `{"type": "subscribe", "readings": ["pm-steady-2", "pm-steady-3"]}`)

	// Record everything the screen gets while the meter flaps.
	type seen struct {
		typ, device, rule string
		online            *bool
		at                time.Time
	}
	var (
		mu  sync.Mutex
		log []seen
	)
	stop := make(chan struct{})
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		for {
			select {
			case <-stop:
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				var d struct {
					Device string `json:"device_id"`
					Rule   string `json:"rule_id"`
					Online *bool  `json:"online"`
				}
				_ = json.Unmarshal(ev.Data, &d)
				mu.Lock()
				log = append(log, seen{ev.Type, d.Device, d.Rule, d.Online, time.Now()})
				mu.Unlock()
			}
		}
	}()

	phases := []struct {
		mode int32
		for_ time.Duration
	}{
		{modeAnswer, 3 * time.Second},
		{modeAlternate, 3 * time.Second},         // data every other poll: no outage
		{modeException, 1500 * time.Millisecond}, // a short spell: no outage
		{modeSilent, 6 * time.Second},            // outage 1
		{modeAnswer, 3 * time.Second},            // back
		{modeSilent, 2 * time.Second},            // outage 2: silence,
		{modeException, 2 * time.Second},         // exceptions,
		{modeSilent, 2 * time.Second},            // silence again
		{modeAnswer, 4 * time.Second},            // back
	}
	for _, p := range phases {
		h.mode.Store(p.mode)
		time.Sleep(p.for_) // the drill's timeline: the device misbehaves for this long
	}
	offlineAlarms := func() (raised, cleared int) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range log {
			if s.device == "pm-flappy" && s.rule == "power-offline" {
				switch s.typ {
				case "alarm.raised":
					raised++
				case "alarm.cleared":
					cleared++
				}
			}
		}
		return raised, cleared
	}
	waitFor(t, 10*time.Second, "both offline alarms cleared", func() bool { _, c := offlineAlarms(); return c >= 2 })
	close(stop)
	<-recorded

	raised, cleared := offlineAlarms()
	t.Logf("pm-flappy: %d offline alarms raised, %d cleared", raised, cleared)
	if raised != 2 || cleared != 2 {
		t.Errorf("pm-flappy: %d offline alarms raised and %d cleared, want one of each per outage (2)", raised, cleared)
	}
	mu.Lock()
	defer mu.Unlock()
	last := map[string]time.Time{}
	gap := map[string]time.Duration{}
	for _, s := range log {
		if !strings.HasPrefix(s.device, "pm-steady") {
			continue
		}
		switch {
		case s.typ == "alarm.raised":
			t.Errorf("%s: alarm %s raised while its neighbour flapped", s.device, s.rule)
		case s.typ == "device.status" && s.online != nil && !*s.online:
			t.Errorf("%s went offline while its neighbour flapped", s.device)
		case s.typ == "reading":
			if l, ok := last[s.device]; ok {
				gap[s.device] = max(gap[s.device], s.at.Sub(l))
			}
			last[s.device] = s.at
		}
	}
	for _, id := range []string{"pm-steady-2", "pm-steady-3"} {
		if _, ok := last[id]; !ok {
			t.Errorf("%s: no readings on the screen", id)
		}
		if gap[id] > 2500*time.Millisecond {
			t.Errorf("%s: %s without a reading, close to the 3 s offline limit", id, gap[id])
		}
	}
	t.Logf("longest gap between readings of the steady meters: %v", gap)
}

// --- drill helpers -------------------------------------------------------

// drillEvents opens the operator's WebSocket, sends subscribe if given, and
// returns its events after the snapshot.
func drillEvents(t *testing.T, httpAddr, subscribe string) <-chan wsEvent {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+httpAddr+"/ws?token="+operatorToken, nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	events := readEvents(t, ws)
	waitEvent(t, events, "snapshot", 5*time.Second)
	if subscribe != "" {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(subscribe)); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
	}
	return events
}

// drillStatusData is the data of a device.status event.
type drillStatusData struct {
	Device string `json:"device_id"`
	Online bool   `json:"online"`
	Reason string `json:"reason"`
}

// drillWaitStatus waits for a device.status of device with the given online.
func drillWaitStatus(t *testing.T, events <-chan wsEvent, device string, online bool, d time.Duration) drillStatusData {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("websocket closed before %s online=%v", device, online)
			}
			var s drillStatusData
			if ev.Type == "device.status" && json.Unmarshal(ev.Data, &s) == nil && s.Device == device && s.Online == online {
				return s
			}
		case <-deadline:
			t.Fatalf("no device.status %s online=%v within %s", device, online, d)
		}
	}
}

func drillMQTT(t *testing.T, addr, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetUsername(testMQTTUser).SetPassword(testMQTTPassword))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

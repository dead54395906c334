package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// pageSizes is the load of the page part: registered devices (all online),
// open L1 tickets (gas alarms), MQTT messages a second and for how long.
type pageSizes struct {
	Devices, Tickets int
	Rate             int
	For              time.Duration
}

func pageSizesFor(full bool) pageSizes {
	if full {
		return pageSizes{Devices: 5000, Tickets: 500, Rate: 100, For: 30 * time.Second}
	}
	return pageSizes{Devices: 300, Tickets: 30, Rate: 20, For: 3 * time.Second}
}

// pageFigures is the JSON line e2e/bench/board.bench.js prints.
type pageFigures struct {
	FCP         float64  `json:"fcp_ms"`
	Board       float64  `json:"board_ms"`
	RowsAtLoad  int      `json:"rows_at_load"`
	ChipsAtLoad int      `json:"chips_at_load"`
	Seconds     float64  `json:"seconds"`
	IdleBusy    float64  `json:"idle_busy"`
	Busy        float64  `json:"busy"`
	Script      float64  `json:"script"`
	Layout      float64  `json:"layout"`
	Style       float64  `json:"style"`
	LongTasks   int      `json:"longtasks"`
	LongShare   float64  `json:"longtask_share"`
	MaxLong     float64  `json:"longest_task_ms"`
	RowsAtEnd   int      `json:"rows_at_end"`
	ChipsAtEnd  int      `json:"chips_at_end"`
	NodesAtEnd  int      `json:"nodes_at_end"`
	Errors      []string `json:"errors"`
	AnswerLag   float64  `json:"answer_lag_ms"`
}

// benchPage: the control room's page (headless Chromium, the operator's
// board) with Devices devices online and Tickets open L1 tickets while
// Rate MQTT messages a second arrive for For: a tenth gas readings that
// raise or clear an alarm of a ticket, six tenths status messages that
// take a device offline or online again, the rest plain readings. The
// figures are e2e/bench/board.bench.js's: first paint, the snapshot on
// screen, and the main thread's busy share (Chrome's TaskDuration) with
// nothing arriving (the anchor) and under the load.
func benchPage(t *testing.T, env *benchEnv) {
	sz := pageSizesFor(*full)
	e2e, err := filepath.Abs(filepath.Join("..", "e2e"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := exec.LookPath("node")
	chromium := os.Getenv("E2E_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	_, cerr := os.Stat(chromium)
	_, perr := os.Stat(filepath.Join(e2e, "node_modules", "playwright-core"))
	if err != nil || cerr != nil || perr != nil {
		progress("9. page: skipped (needs node, %s and e2e/node_modules: (cd e2e && npm ci))", chromium)
		env.tb.add(row{Part: "9 page", Figure: "skipped", Value: "no node, Chromium or e2e/node_modules"})
		return
	}
	progress("9. page: control room with %d devices and %d open tickets, %d messages/s for %s", sz.Devices, sz.Tickets, sz.Rate, sz.For)
	broker := testserver.Mosquitto(t)
	defer broker.Stop()
	influxDB(t, env.influx, "bench_pg")
	ct := startCaretaker(t, caretakerOptions{Broker: "tcp://" + broker.Addr, Influx: env.influx.URL, Bucket: "bench_pg",
		ClientID: "caretaker-bench-pg", Devices: gasDevices("pg-", 0, sz.Devices)})
	defer ct.Stop()

	pub := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + broker.Addr).SetClientID("bench-page-pub").
		SetCleanSession(true).SetAutoReconnect(false).SetMaxResumePubInFlight(1000))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", broker.Addr, tok.Error())
	}
	defer pub.Disconnect(100)
	var toks []paho.Token
	send := func(topic, payload string) { toks = append(toks, pub.Publish(topic, 1, false, payload)) }
	gas := func(i int, lel float64) {
		send(fmt.Sprintf("sites/s1/devices/pg-%06d/telemetry", i), fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": %.1f, "co_ppm": 2}}`, time.Now().UnixMilli(), lel))
	}
	flush := func() {
		for _, tok := range toks {
			if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
				t.Fatalf("publish: %v", tok.Error())
			}
		}
		toks = toks[:0]
	}
	// Every device reads once (online); the first Tickets cross the gas
	// alarm level: an L1 alarm and its ticket each.
	for i := 0; i < sz.Devices; i++ {
		lel := 1.0
		if i < sz.Tickets {
			lel = 35.5
		}
		gas(i, lel)
		if len(toks) >= 500 {
			flush()
		}
	}
	flush()
	var snap struct {
		Data struct {
			Tickets []json.RawMessage `json:"tickets"`
			Devices []struct {
				Online bool `json:"online"`
			} `json:"devices"`
		} `json:"data"`
	}
	ready := testkit.WithinEvery(120*time.Second, time.Second, func() bool {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+ct.HTTP+"/ws?token="+benchToken, nil)
		if err != nil {
			return false
		}
		defer ws.Close()
		if err := ws.ReadJSON(&snap); err != nil {
			return false
		}
		online := 0
		for _, d := range snap.Data.Devices {
			if d.Online {
				online++
			}
		}
		return len(snap.Data.Tickets) >= sz.Tickets && online >= sz.Devices
	})
	if !ready {
		t.Fatalf("page: the snapshot has %d tickets and %d devices, want %d and %d online", len(snap.Data.Tickets), len(snap.Data.Devices), sz.Tickets, sz.Devices)
	}

	cmd := exec.Command(node, filepath.Join(e2e, "bench", "board.bench.js"))
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "CARETAKER_URL=http://"+ct.HTTP, "BENCH_TOKEN="+benchToken,
		fmt.Sprintf("BENCH_SECONDS=%g", sz.For.Seconds()), fmt.Sprintf("BENCH_DEVICES=%d", sz.Devices), "E2E_CHROMIUM="+chromium)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	var figs pageFigures
	got := false
	events := 0
	for lines.Scan() {
		line := lines.Text()
		switch {
		case line == "READY":
			progress("   page loaded; publishing")
			// What a screen is sent in the window: a client of the
			// harness's own beside the page counts it (the page's own
			// count waits on its main thread).
			counter := countEvents(t, ct.HTTP)
			io.WriteString(stdin, "go\n")
			publishPageLoad(t, pub, sz)
			events = counter()
		case strings.HasPrefix(line, "{"):
			if err := json.Unmarshal([]byte(line), &figs); err != nil {
				t.Fatalf("page figures %q: %v", line, err)
			}
			got = true
		default:
			progress("   node: %s", line)
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !got {
		t.Fatalf("page: node e2e/bench/board.bench.js: %v (figures read: %v)", err, got)
	}
	if len(figs.Errors) > 0 {
		t.Errorf("page: errors on the page: %v", figs.Errors)
	}
	load := fmt.Sprintf("%d devices, %d tickets", sz.Devices, sz.Tickets)
	env.tb.add(row{Part: "9 page", Figure: "first contentful paint (" + load + ")", Value: fmt.Sprintf("%.0f ms", figs.FCP),
		Target: "< 1 s", Verdict: verdict(figs.FCP >= 0 && figs.FCP < 1000)})
	env.tb.add(row{Part: "9 page", Figure: "snapshot on the board (navigation to rows and chips)", Value: fmt.Sprintf("%.0f ms", figs.Board),
		Ratio: fmt.Sprintf("%d rows, %d chips", figs.RowsAtLoad, figs.ChipsAtLoad)})
	env.tb.add(row{Part: "9 page", Figure: "main thread busy, nothing arriving (anchor)", Value: fmt.Sprintf("%.1f %%", figs.IdleBusy*100)})
	env.tb.add(row{Part: "9 page", Figure: fmt.Sprintf("main thread busy, %d msgs/s (%.0f events/s to a screen)", sz.Rate, float64(events)/sz.For.Seconds()),
		Value: fmt.Sprintf("%.1f %%", figs.Busy*100), Ratio: fmt.Sprintf("%+.1f points over anchor", (figs.Busy-figs.IdleBusy)*100),
		Target: "< 50 %", Verdict: verdict(figs.Busy < 0.5)})
	env.tb.add(row{Part: "9 page", Figure: "page's next answer after the window (its backlog)", Value: fmt.Sprintf("%.0f ms", figs.AnswerLag)})
	env.tb.add(row{Part: "9 page", Figure: "  of which script / style / layout", Value: fmt.Sprintf("%.1f / %.1f / %.1f %%", figs.Script*100, figs.Style*100, figs.Layout*100)})
	env.tb.add(row{Part: "9 page", Figure: "long tasks (> 50 ms) under load", Value: fmt.Sprintf("%d, %.1f %% of the time", figs.LongTasks, figs.LongShare*100),
		Ratio: fmt.Sprintf("longest %.0f ms", figs.MaxLong)})
	env.tb.add(row{Part: "9 page", Figure: "DOM at the end", Value: fmt.Sprintf("%d elements", figs.NodesAtEnd),
		Ratio: fmt.Sprintf("%d rows, %d chips", figs.RowsAtEnd, figs.ChipsAtEnd)})
}

// publishPageLoad sends sz.Rate messages a second for sz.For: i%10 == 0 a
// gas reading of an alarm device (raise and clear in turn), 1..6 a status
// message of a plain device (offline and online in turn), the rest plain
// readings.
func publishPageLoad(t *testing.T, pub paho.Client, sz pageSizes) {
	start := time.Now()
	tick := time.Second / time.Duration(sz.Rate)
	var toks []paho.Token
	plain := sz.Devices - sz.Tickets
	for i := 0; time.Since(start) < sz.For; i++ {
		if d := start.Add(time.Duration(i) * tick); time.Until(d) > 0 {
			time.Sleep(time.Until(d))
		}
		now := time.Now().UnixMilli()
		var topic, payload string
		switch k := i % 10; {
		case k == 0:
			n := i / 10
			dev := n % sz.Tickets
			lel := 35.5
			if (n/sz.Tickets)%2 == 0 {
				lel = 2
			}
			topic, payload = fmt.Sprintf("sites/s1/devices/pg-%06d/telemetry", dev), fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": %.1f, "co_ppm": 2}}`, now, lel)
		case k <= 6:
			n := i/10*6 + k - 1
			dev := sz.Tickets + n%plain
			state := "offline"
			if (n/plain)%2 == 1 {
				state = "online"
			}
			topic, payload = fmt.Sprintf("sites/s1/devices/pg-%06d/status", dev), state
		default:
			dev := sz.Tickets + i%plain
			topic, payload = fmt.Sprintf("sites/s1/devices/pg-%06d/telemetry", dev), fmt.Sprintf(`{"ts": %d, "metrics": {"lel_pct": 1.0, "co_ppm": 2}}`, now)
		}
		toks = append(toks, pub.Publish(topic, 1, false, payload))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Errorf("page load publish: %v", tok.Error())
			return
		}
	}
}

// countEvents connects a WebSocket client that reads the snapshot, then
// counts the events it gets until the returned function is called.
func countEvents(t *testing.T, addr string) func() int {
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?token="+benchToken, nil)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		t.Fatalf("websocket snapshot: %v", err)
	}
	n := make(chan int, 1)
	stop := make(chan struct{})
	go func() {
		count := 0
		defer func() { n <- count }()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
			select {
			case <-stop:
				return
			default:
				count++
			}
		}
	}()
	return func() int {
		close(stop)
		ws.Close()
		return <-n
	}
}

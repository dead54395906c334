package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/devices"
	firmwaresim "github.com/caretaker-iot/caretaker/firmware-sim"
	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// scaleRules is the default pack with gas-offline after an hour instead
// of 90 s: each device sends one reading, and on a loaded machine the
// publisher may take longer than 90 s over 100 000 of them, so the first
// devices would go offline (100 000 alarms and tickets) before the last
// had read; the figure is the state of devices that read once.
const scaleRules = "rules: {define: [{id: gas-offline, name: Gas detector offline, kind: gas, condition: {op: stale, after: 1h}, severity: major}]}"

// benchDevices: resident memory with ScaleDevices registered devices,
// after start and after one reading from each.
func benchDevices(t *testing.T, env *benchEnv) {
	n := env.sz.ScaleDevices
	progress("4a. scale: %d registered devices, then one reading each", n)
	broker := testserver.Mosquitto(t)
	defer broker.Stop()
	influxDB(t, env.influx, "bench_scale")
	ct := startCaretaker(t, caretakerOptions{Broker: "tcp://" + broker.Addr, Influx: env.influx.URL, Bucket: "bench_scale",
		ClientID: "caretaker-bench", Devices: gasDevices("bench-dev-", 0, n), Extra: scaleRules})
	defer ct.Stop()
	time.Sleep(2 * time.Second) // start-up settles
	rss0, _, _ := procMem(ct.PID())
	load := pubConfig{Broker: "tcp://" + broker.Addr, Count: n, Devices: n, Prefix: "bench-dev-", Conns: env.sz.Conns,
		InFlight: env.sz.InFlight, Base: time.Now().Add(-10 * time.Minute).UnixMilli(), ClientID: "bench-pub"}
	cpu := startCPU(ct.PID())
	t0 := time.Now()
	var cpuProf sync.WaitGroup
	if ct.PProf != "" { // a CPU profile of the first 10 s of readings
		cpuProf.Add(1)
		go func() {
			defer cpuProf.Done()
			if err := fetchPprof(ct.PProf, "profile?seconds=10", *profileOut+".readings"); err != nil {
				t.Errorf("CPU profile: %v", err)
			}
		}()
	}
	pub := startPublisher(t, load)
	pub.Wait(t, 10*time.Minute)
	if !testkit.WithinEvery(2*time.Minute, 100*time.Millisecond, func() bool { return ct.metric("caretaker_ingest_readings_total") >= float64(n) }) {
		t.Errorf("devices: caretaker took %g of %d readings", ct.metric("caretaker_ingest_readings_total"), n)
	}
	// What the first reading of every device costs (the collector's
	// work included): what a memory limit would trade for resident memory.
	took, used := time.Since(t0), cpu.used()[0]
	// Past one rules.snapshot_interval (10 s): the rule state has been
	// saved at least once with every device's state in it, and RSS and
	// its peak include that save.
	time.Sleep(12 * time.Second)
	rss1, peak, _ := procMem(ct.PID())
	cpuProf.Wait()
	// Where the resident memory is, as the Go runtime counts it.
	progress("devices: RSS %s; Go heap in use %.0f MB (objects %.0f MB, next collection at %.0f MB), idle %.0f MB of which %.0f MB returned, stacks %.0f MB, runtime %.0f MB of %.0f MB obtained",
		mib(rss1), ct.metric("go_memstats_heap_inuse_bytes")/1e6, ct.metric("go_memstats_heap_alloc_bytes")/1e6, ct.metric("go_memstats_next_gc_bytes")/1e6,
		ct.metric("go_memstats_heap_idle_bytes")/1e6, ct.metric("go_memstats_heap_released_bytes")/1e6, ct.metric("go_memstats_stack_inuse_bytes")/1e6,
		(ct.metric("go_memstats_mspan_inuse_bytes")+ct.metric("go_memstats_mcache_inuse_bytes")+ct.metric("go_memstats_buck_hash_sys_bytes")+ct.metric("go_memstats_gc_sys_bytes")+ct.metric("go_memstats_other_sys_bytes"))/1e6,
		ct.metric("go_memstats_sys_bytes")/1e6)
	if ct.PProf != "" {
		heap := *profileOut + ".heap"
		if err := fetchPprof(ct.PProf, "heap", heap); err != nil {
			t.Errorf("heap profile: %v", err)
		} else {
			progress("heap profile of Caretaker with %d devices written to %s (go tool pprof -sample_index=inuse_space)", n, heap)
		}
	}
	env.tb.add(row{Part: "4 scale", Figure: fmt.Sprintf("start-up, %d devices (process start to /readyz)", n),
		Value: fmt.Sprintf("%.1f s", ct.Startup.Seconds()), Target: "< 5 s", Verdict: verdict(ct.Startup < 5*time.Second)})
	env.tb.add(row{Part: "4 scale", Figure: fmt.Sprintf("%d devices: their first reading each, taken in", n), Value: fmt.Sprintf("%.1f s", took.Seconds()),
		Ratio: fmt.Sprintf("%.0f/s, CPU %.1f µs per reading", float64(n)/took.Seconds(), float64(used.Microseconds())/float64(n))})
	env.tb.add(row{Part: "4 scale", Figure: fmt.Sprintf("RSS, %d devices, after start", n), Value: mib(rss0),
		Target: "< 1 GiB", Verdict: verdict(rss0 < 1<<30)})
	env.tb.add(row{Part: "4 scale", Figure: fmt.Sprintf("RSS, %d devices, after a reading each", n), Value: mib(rss1),
		Ratio: "peak " + mib(peak), Target: "< 200 MiB", Verdict: verdict(rss1 < 200<<20 && peak < 200<<20)})
	per, grew := float64(rss1)/float64(n)/1024, float64(rss1-min(rss0, rss1))/float64(n)/1024
	env.tb.add(row{Part: "4 scale", Figure: "RSS per device after a reading each (all of it / devices)", Value: fmt.Sprintf("%.1f KiB", per),
		Ratio: fmt.Sprintf("%.1f KiB more than after start", grew), Target: "<= 1 KiB", Verdict: verdict(per <= 1)})
}

// benchWebSockets: WSClients dashboard clients subscribed to the readings
// of WSDevices devices while those send WSRate readings a second in all,
// so each client should receive WSRate reading events a second. One more
// client subscribes and never reads: the hub must drop it, not wait for it.
// The screens ask for batches (/ws?batch=true), as the web UI does: each
// message is a JSON array of the events that waited.
func benchWebSockets(t *testing.T, env *benchEnv) {
	sz := env.sz
	progress("4b. scale: %d WebSocket clients x %.0f events/s for %s, one client stalled", sz.WSClients, sz.WSRate, sz.WSFor)
	broker := testserver.Mosquitto(t)
	defer broker.Stop()
	influxDB(t, env.influx, "bench_ws")
	ct := startCaretaker(t, caretakerOptions{Broker: "tcp://" + broker.Addr, Influx: env.influx.URL, Bucket: "bench_ws",
		ClientID: "caretaker-bench", Devices: gasDevices("bench-ws-", 0, sz.WSDevices)})
	defer ct.Stop()
	ids := make([]string, sz.WSDevices)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-ws-%06d", i)
	}
	// First, on the fresh process: memory the screens' part left behind
	// would otherwise take in the idle clients for free.
	benchIdleClients(t, env, ct)
	sub, _ := json.Marshal(map[string]any{"type": "subscribe", "readings": ids})
	dial := func() *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+ct.HTTP+"/ws?batch=true&token="+benchToken, nil)
		if err != nil {
			t.Fatalf("websocket: %v", err)
		}
		if err := c.WriteMessage(websocket.TextMessage, sub); err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		return c
	}
	stalled := dial()
	defer stalled.Close()

	const sampled = 10 // clients that also measure latency
	var (
		received = make([]atomic.Int64, sz.WSClients)
		mu       sync.Mutex
		lat      []time.Duration
		wg       sync.WaitGroup
	)
	conns := make([]*websocket.Conn, sz.WSClients)
	for i := range conns {
		conns[i] = dial()
	}
	marker := []byte(`"type":"reading"`)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() { mu.Lock(); lat = append(lat, mine...); mu.Unlock() }()
			for {
				_, r, err := c.NextReader()
				if err != nil {
					return
				}
				b, err := io.ReadAll(r)
				if err != nil {
					return
				}
				k := bytes.Count(b, marker)
				if k == 0 {
					continue
				}
				received[i].Add(int64(k))
				if i < sampled {
					at := time.Now()
					var evs []struct {
						Type string `json:"type"`
						Data struct {
							TS time.Time `json:"ts"`
						} `json:"data"`
					}
					if json.Unmarshal(b, &evs) == nil {
						for _, ev := range evs {
							if ev.Type == "reading" {
								mine = append(mine, at.Sub(ev.Data.TS))
							}
						}
					}
				}
			}
		}()
	}
	time.Sleep(time.Second) // subscriptions are in place
	dropped0 := ct.metric("caretaker_ws_clients_dropped_total")
	load := pubConfig{Broker: "tcp://" + broker.Addr, Rate: sz.WSRate, Duration: sz.WSFor, Devices: sz.WSDevices,
		Prefix: "bench-ws-", Conns: 1, InFlight: 100, ClientID: "bench-pub"}
	cpu := startCPU(ct.PID())
	pub := startPublisher(t, load)
	var prof chan error
	if *profileOut != "" {
		prof = make(chan error, 1)
		go func() { prof <- fetchProfile(ct.PProf, int(sz.WSFor.Seconds()), *profileOut+".ws") }()
	}
	res := pub.Wait(t, sz.WSFor+time.Minute)
	used := cpu.used()[0]
	want := res.Acked
	// A client that fell behind gets the latest reading of each device,
	// not every one: wait until deliveries stop, then count.
	var last int64 = -1
	stable := 0
	testkit.WithinEvery(30*time.Second, 200*time.Millisecond, func() bool {
		var n int64
		for i := range received {
			n += received[i].Load()
		}
		if n == last {
			stable++
		} else {
			stable = 0
		}
		last = n
		return stable >= 5
	})
	var total, minGot int64 = 0, want
	for i := range received {
		got := received[i].Load()
		total += got
		minGot = min(minGot, got)
	}
	dropped := ct.metric("caretaker_ws_clients_dropped_total") - dropped0
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	el := res.Elapsed.Seconds()
	perClient := float64(total) / float64(len(conns)) / el
	perDevice := float64(minGot) / float64(sz.WSDevices) / el
	p99 := percentile(lat, 99)
	env.tb.add(row{Part: "4 scale", Figure: fmt.Sprintf("WebSocket: %d clients, events/s each", sz.WSClients),
		Value: fmt.Sprintf("%.0f (%.0f msgs/s in all)", perClient, float64(total)/el), Ratio: fmt.Sprintf("%.2f of %.0f sent/s", perClient/(float64(want)/el), float64(want)/el)})
	env.tb.add(row{Part: "4 scale", Figure: "WebSocket: slowest client, readings per device per second", Value: fmt.Sprintf("%.1f", perDevice),
		Target: ">= 10", Verdict: verdict(perDevice >= 10)})
	env.tb.add(row{Part: "4 scale", Figure: "WebSocket: publish -> client latency", Value: fmt.Sprintf("p50 %s, p99 %s", ms(percentile(lat, 50)), ms(p99)),
		Ratio: fmt.Sprintf("%d samples", len(lat)), Target: "p99 < 1 s", Verdict: verdict(p99 < time.Second)})
	env.tb.add(row{Part: "4 scale", Figure: "WebSocket: clients cut off (one stalled, under the stall timeout)", Value: fmt.Sprintf("%g", dropped),
		Target: "none", Verdict: verdict(dropped == 0)})
	env.tb.add(row{Part: "4 scale", Figure: "WebSocket: Caretaker's CPU while the readings are sent", Value: fmt.Sprintf("%.0f %% of one core", 100*used.Seconds()/el)})
	if dropped > 0 {
		t.Errorf("%g WebSocket clients cut off", dropped)
	}
	if prof != nil {
		if err := <-prof; err != nil {
			t.Errorf("profile: %v", err)
		} else {
			progress("CPU profile of Caretaker (screens) written to %s.ws; top:\n%s", *profileOut, pprofTop(caretakerBinary(t), *profileOut+".ws"))
		}
	}
}

// benchIdleClients: IdleClients WebSockets open and quiet (the phones of
// patrols and technicians with a page open), each past its snapshot; what
// they cost the process in resident memory, measured on a process that
// has served no screens yet.
func benchIdleClients(t *testing.T, env *benchEnv, ct *benchCaretaker) {
	n := env.sz.IdleClients
	progress("4b. scale: %d idle WebSocket clients", n)
	clients := func() float64 { return ct.metric("caretaker_ws_clients") }
	rss := func() int64 {
		v, _, err := procMem(ct.PID())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Wait until the count holds still (a client of the caretaker's own
	// start-up checks may still be leaving).
	base, stable := -1.0, 0
	testkit.WithinEvery(30*time.Second, 200*time.Millisecond, func() bool {
		n := clients()
		if n == base {
			stable++
		} else {
			base, stable = n, 0
		}
		return stable >= 5
	})
	rss0 := rss()
	var wg sync.WaitGroup
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+ct.HTTP+"/ws?token="+benchToken, nil)
		if err != nil {
			t.Fatalf("idle websocket %d: %v", i, err)
		}
		if _, _, err := c.ReadMessage(); err != nil { // the snapshot
			t.Fatalf("idle websocket %d: snapshot: %v", i, err)
		}
		conns[i] = c
		wg.Add(1)
		go func() { // reads on, so the server's pings are answered
			defer wg.Done()
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
			}
		}()
	}
	if !testkit.WithinEvery(30*time.Second, 100*time.Millisecond, func() bool { return clients() == base+float64(n) }) {
		t.Fatalf("caretaker_ws_clients = %g, want %g", clients(), base+float64(n))
	}
	rss1 := rss()
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	delta := float64(rss1-rss0) / (1 << 20)
	env.tb.add(row{Part: "4 scale", Figure: fmt.Sprintf("WebSocket: %d idle clients, resident memory they cost", n),
		Value: fmt.Sprintf("%.1f MiB (%.1f KiB each)", delta, delta*1024/float64(n)), Ratio: fmt.Sprintf("RSS %.0f -> %.0f MiB", float64(rss0)/(1<<20), float64(rss1)/(1<<20)),
		Target: fmt.Sprintf("< %.0f MB", 50*float64(n)/1000), Verdict: verdict(float64(rss1-rss0) < 50e6*float64(n)/1000)})
}

// benchModbus: ModbusDevices simulated Modbus devices (firmware-sim, in
// this process) polled at 1 Hz; Caretaker's CPU share.
func benchModbus(t *testing.T, env *benchEnv) {
	n := env.sz.ModbusDevices
	progress("4c. scale: %d Modbus devices polled at 1 Hz for %s", n, env.sz.ModbusFor)
	estate := firmwaresim.GenerateEstate(n)
	addrs := make([]string, (n+firmwaresim.MaxUnits-1)/firmwaresim.MaxUnits)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", testserver.FreePort(t))
	}
	for i := range estate {
		d := &estate[i]
		d.Model = devices.BuiltinModelFor(d.Kind)
		d.Modbus = &devices.Modbus{Address: "tcp://" + addrs[i/firmwaresim.MaxUnits], Unit: byte(i%firmwaresim.MaxUnits + 1),
			Interval: devices.Duration(time.Second)}
	}
	sim, err := firmwaresim.NewModbusServer(firmwaresim.ModbusConfig{Devices: estate, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(ctx) }()
	<-sim.Ready()
	influxDB(t, env.influx, "bench_modbus")
	ct := startCaretaker(t, caretakerOptions{Broker: "", Influx: env.influx.URL, Bucket: "bench_modbus", ClientID: "caretaker-bench",
		Devices: func(w io.Writer) {
			for _, d := range estate {
				fmt.Fprintf(w, "  - {id: %s, kind: %s, site: %s, building: %s, model: %s, modbus: {address: %q, unit: %d, interval: 1s}}\n",
					d.ID, d.Kind, d.Site, d.Building, d.Model, d.Modbus.Address, d.Modbus.Unit)
			}
		}})
	defer ct.Stop()
	time.Sleep(3 * time.Second) // every line connected and polling
	polls0, readings0 := ct.metric("caretaker_modbus_polls_total"), ct.metric("caretaker_ingest_readings_total")
	failures0 := ct.metric("caretaker_modbus_poll_failures_total")
	cpu := startCPU(ct.PID())
	t0 := time.Now()
	time.Sleep(env.sz.ModbusFor)
	used, el := cpu.used()[0], time.Since(t0)
	polls := (ct.metric("caretaker_modbus_polls_total") - polls0) / el.Seconds()
	readings := (ct.metric("caretaker_ingest_readings_total") - readings0) / el.Seconds()
	failures := ct.metric("caretaker_modbus_poll_failures_total") - failures0
	cores := used.Seconds() / el.Seconds()
	ct.Stop()
	cancel()
	<-simDone
	if failures > 0 {
		t.Logf("modbus: %g failed requests", failures)
	}
	env.tb.add(row{Part: "4 scale", Figure: fmt.Sprintf("Modbus: %d devices at 1 Hz, CPU", n), Value: fmt.Sprintf("%.2f cores", cores),
		Ratio: fmt.Sprintf("%.0f polls/s, %.0f readings/s, %g failed", polls, readings, failures), Target: "< 1 core", Verdict: verdict(cores < 1)})
}

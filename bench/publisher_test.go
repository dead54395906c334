package bench

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// envPublish carries a pubConfig (JSON) to the publisher process.
const envPublish = "CARETAKER_BENCH_PUBLISH"

// pubConfig is one load the publisher process sends.
type pubConfig struct {
	Broker   string  // tcp://host:port
	Count    int     // readings in all (as fast as the broker takes them); with Rate, 0 = until Duration
	Rate     float64 // readings per second in all; 0 = as fast as the broker takes them
	Duration time.Duration
	Devices  int    // readings go round-robin over Devices devices
	Prefix   string // device id: Prefix + 6 digits
	Conns    int    // MQTT connections, devices split between them
	InFlight int    // QoS 1 publishes awaiting PUBACK per connection
	Base     int64  // ts of reading i is Base+i ms; 0: the publish time
	ClientID string
	Site     string // the devices' site; default s1
}

// pubResult is what the publisher reports on its last line.
type pubResult struct {
	Start   time.Time // first publish
	End     time.Time // last PUBACK
	Acked   int64
	Failed  int64
	Elapsed time.Duration
}

// publisher runs in its own process, started by runPublisher, so its CPU
// is neither Caretaker's nor the harness's.
func publisher(cfg pubConfig) error {
	if cfg.Conns <= 0 {
		cfg.Conns = 1
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 500
	}
	clients := make([]paho.Client, cfg.Conns)
	for i := range clients {
		opts := paho.NewClientOptions().AddBroker(cfg.Broker).SetClientID(fmt.Sprintf("%s-%d", cfg.ClientID, i)).
			SetCleanSession(true).SetAutoReconnect(false).SetWriteTimeout(30 * time.Second).
			SetMaxResumePubInFlight(cfg.InFlight).SetUsername(benchMQTTUser).SetPassword(benchMQTTPassword)
		c := paho.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return fmt.Errorf("connect %s: %v", cfg.Broker, tok.Error())
		}
		clients[i] = c
	}
	var acked, failed atomic.Int64
	start := time.Now()
	fmt.Printf("start %d\n", start.UnixNano())
	var wg sync.WaitGroup
	for ci, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			publishConn(cfg, ci, c, start, &acked, &failed)
		}()
	}
	wg.Wait()
	end := time.Now()
	for _, c := range clients {
		c.Disconnect(100)
	}
	b, _ := json.Marshal(pubResult{Start: start, End: end, Acked: acked.Load(), Failed: failed.Load(), Elapsed: end.Sub(start)})
	fmt.Printf("result %s\n", b)
	return nil
}

// publishConn sends connection ci's share: readings i with i%Conns == ci.
func publishConn(cfg pubConfig, ci int, c paho.Client, start time.Time, acked, failed *atomic.Int64) {
	pending := make(chan paho.Token, cfg.InFlight)
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		for tok := range pending {
			if tok.WaitTimeout(60*time.Second) && tok.Error() == nil {
				acked.Add(1)
			} else {
				failed.Add(1)
			}
		}
	}()
	rate := cfg.Rate / float64(cfg.Conns)
	var sent int64
	buf := make([]byte, 0, 128)
	for i := ci; cfg.Count == 0 || i < cfg.Count; i += cfg.Conns {
		if cfg.Rate > 0 {
			el := time.Since(start)
			if cfg.Duration > 0 && el >= cfg.Duration {
				break
			}
			if due := int64(el.Seconds() * rate); sent >= due {
				time.Sleep(time.Duration(float64(sent-due+1) / rate * float64(time.Second)))
			}
		}
		d := i % cfg.Devices
		ts := cfg.Base + int64(i)
		if cfg.Base == 0 {
			ts = time.Now().UnixMilli()
		}
		// Values stay below every gas threshold: the rules evaluate each
		// reading without raising anything.
		buf = append(buf[:0], `{"ts": `...)
		buf = strconv.AppendInt(buf, ts, 10)
		buf = append(buf, `, "metrics": {"lel_pct": `...)
		buf = strconv.AppendFloat(buf, float64(i%40)/10, 'f', 1, 64)
		buf = append(buf, `, "co_ppm": `...)
		buf = strconv.AppendInt(buf, int64(i%20), 10)
		buf = append(buf, `}}`...)
		topic := fmt.Sprintf("sites/%s/devices/%s%06d/telemetry", cmp.Or(cfg.Site, "s1"), cfg.Prefix, d)
		pending <- c.Publish(topic, 1, false, append([]byte(nil), buf...))
		sent++
	}
	close(pending)
	<-waited
}

// runningPublisher is a publisher process started by startPublisher.
type runningPublisher struct {
	cmd    *exec.Cmd
	start  chan time.Time
	result chan pubResult
	errc   chan error
}

// startPublisher runs the load in a child process (this test binary again)
// and returns once it has connected and started publishing.
func startPublisher(t testing.TB, cfg pubConfig) *runningPublisher {
	t.Helper()
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), envPublish+"="+string(b))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &runningPublisher{cmd: cmd, start: make(chan time.Time, 1), result: make(chan pubResult, 1), errc: make(chan error, 1)}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "start "):
				ns, _ := strconv.ParseInt(strings.TrimPrefix(line, "start "), 10, 64)
				p.start <- time.Unix(0, ns)
			case strings.HasPrefix(line, "result "):
				var r pubResult
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "result ")), &r)
				p.result <- r
			}
		}
		p.errc <- cmd.Wait()
	}()
	select {
	case <-p.start:
	case err := <-p.errc:
		t.Fatalf("publisher exited before it started: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("publisher did not start within 30s")
	}
	return p
}

// Wait waits for the publisher's result.
func (p *runningPublisher) Wait(t testing.TB, d time.Duration) pubResult {
	t.Helper()
	select {
	case r := <-p.result:
		if err := <-p.errc; err != nil {
			t.Fatalf("publisher: %v", err)
		}
		if r.Failed > 0 {
			t.Errorf("publisher: %d publishes not acknowledged", r.Failed)
		}
		return r
	case err := <-p.errc:
		// The result line is read before the process is waited for: both
		// may be ready at once.
		select {
		case r := <-p.result:
			if err != nil {
				t.Fatalf("publisher: %v", err)
			}
			if r.Failed > 0 {
				t.Errorf("publisher: %d publishes not acknowledged", r.Failed)
			}
			return r
		default:
		}
		t.Fatalf("publisher ended without a result: %v", err)
	case <-time.After(d):
		t.Fatalf("publisher not done within %s", d)
	}
	return pubResult{}
}

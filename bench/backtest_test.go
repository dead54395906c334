package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
	"github.com/caretaker-iot/caretaker/rules"
)

var (
	backtestDevices = flag.Int("backtest-devices", 0, "detectors of the backtest part (default 1000 with -full, 20 without)")
	backtestDays    = flag.Int("backtest-days", 0, "days of one-minute readings per detector in the backtest part (default 30 with -full, 2 without)")
	backtestStored  = flag.Int("backtest-stored", 0, "detectors loaded into InfluxDB and the embedded store for the backtest part (default 100 with -full: loading 43.2 million readings into both takes some 20 minutes on two cores; all without)")
	backtestBefore  = flag.String("backtest-before", "", "also run `caretaker backtest` of this binary (an earlier build) on the same data, for before and after figures")
)

// backtestStart is where the backtest part's history begins.
var backtestStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// backtestValue is detector dev's lel_pct at minute i: quiet at 2-4%,
// with a rise to 12-30% for a quarter of an hour every eight hours or so
// (each detector at its own times), so the rules raise and clear.
func backtestValue(dev, i int) float64 {
	h := uint32(dev*2654435761) ^ uint32(i*40503)
	if (i+dev*97)%480 < 15 {
		return 12 + float64(h%19)
	}
	return 2 + float64(h%3)
}

func backtestID(dev int) string { return fmt.Sprintf("bt-gas-%06d", dev) }

// memHistory is the same history made as it is read: the replay alone,
// with nothing to fetch.
type memHistory struct{}

func (m memHistory) ReadingsFunc(_ context.Context, q devices.Query, fn func(devices.Point) error) error {
	var dev int
	if _, err := fmt.Sscanf(q.Device, "bt-gas-%d", &dev); err != nil {
		return err
	}
	first := max(int((q.From.Sub(backtestStart)+time.Minute-1)/time.Minute), 0)
	last := int((q.To.Sub(backtestStart) + time.Minute - 1) / time.Minute)
	for i := first; i < last; i++ {
		if err := fn(devices.Point{Time: backtestStart.Add(time.Duration(i) * time.Minute), Metric: "lel_pct", Value: backtestValue(dev, i)}); err != nil {
			return err
		}
	}
	return nil
}

func (m memHistory) Readings(ctx context.Context, q devices.Query) ([]devices.Point, error) {
	var out []devices.Point
	err := m.ReadingsFunc(ctx, q, func(p devices.Point) error { out = append(out, p); return nil })
	return out, err
}

type btDevices []devices.Device

func (d btDevices) Devices() []devices.Device { return d }

// backtestRun is one `caretaker backtest`.
type backtestRun struct {
	Readings, Count, CurrentCount int
	Elapsed                       time.Duration
	PeakRSS                       int64
	CPU, StoreCPU                 time.Duration // of caretaker backtest, and of influxd meanwhile
}

func (r backtestRun) rate() float64 { return float64(r.Readings) / r.Elapsed.Seconds() }

// benchBacktest: a month of one-minute lel_pct readings of 1 000 gas
// detectors (43.2 million) replayed from memory, and the month of
// -backtest-stored of them (100 with -full) loaded into InfluxDB and into
// the embedded store, then replayed by `caretaker backtest` (its own process: peak RSS
// from /proc) through gas-lel-warning as it is and with
// condition.value=12. The anchor is the replay alone, in this process,
// from a history made as it is read. Memory is flat when the peak RSS of
// the whole period is that of a tenth of it.
func benchBacktest(t *testing.T, env *benchEnv) {
	nDev, days := 20, 2
	if *full {
		nDev, days = 1000, 30
	}
	if *backtestDevices > 0 {
		nDev = *backtestDevices
	}
	if *backtestDays > 0 {
		days = *backtestDays
	}
	minutes := days * 24 * 60
	total := nDev * minutes
	nStored := nDev
	if *full {
		nStored = min(100, nDev)
	}
	if *backtestStored > 0 {
		nStored = min(*backtestStored, nDev)
	}
	stored := nStored * minutes
	from, to := backtestStart, backtestStart.Add(time.Duration(minutes)*time.Minute)
	short := backtestStart.Add(time.Duration(minutes/10) * time.Minute)
	part := "8 backtest"
	progress("8. backtest: %d detectors x %d days of one-minute readings = %d readings", nDev, days, total)

	// The anchor: the replay alone, from memory, GOMAXPROCS devices at once.
	pack, err := rules.DefaultPack()
	if err != nil {
		t.Fatal(err)
	}
	var rule rules.Rule
	for _, r := range pack {
		if r.ID == "gas-lel-warning" {
			rule = r
		}
	}
	var devs btDevices
	for i := range nDev {
		devs = append(devs, devices.Device{ID: backtestID(i), Kind: devices.KindGas, Site: "s1", Building: fmt.Sprintf("B%d", i%8+1)})
	}
	replay := func(devs btDevices) (rules.BacktestResult, float64, uint64) {
		stop, peak := watchHeap()
		start := time.Now()
		res, err := (&rules.Backtester{History: memHistory{}, Devices: devs}).Run(context.Background(), rule,
			rules.BacktestRequest{From: from, To: to, Set: map[string]any{"condition.value": 12.0}})
		if err != nil {
			t.Fatal(err)
		}
		rate := float64(res.Readings) / time.Since(start).Seconds()
		stop()
		progress("  replay alone, %d detectors: %d readings (%.0f/s), peak heap %s", len(devs), res.Readings, rate, mib(int64(*peak)))
		return res, rate, *peak
	}
	all, allRate, allHeap := replay(devs)
	if all.Readings != total || all.Count == 0 {
		t.Errorf("%s: the replay from memory read %d readings (want %d), %d alarms", part, all.Readings, total, all.Count)
	}
	env.tb.add(row{Part: part, Figure: fmt.Sprintf("readings/s, replay alone (%d x %d days)", nDev, days), Value: fmt.Sprintf("%.0f", allRate),
		Ratio: fmt.Sprintf("%d CPUs", runtime.GOMAXPROCS(0)), Target: ">= 1 000 000", Verdict: verdict(allRate >= 1e6)})
	env.tb.add(row{Part: part, Figure: "peak heap, replay alone", Value: mib(int64(allHeap))})
	devs = devs[:nStored]
	mem, anchor := all, allRate
	if nStored < nDev {
		mem, anchor, _ = replay(devs)
	}
	total = stored

	dir := t.TempDir()
	devFile := filepath.Join(dir, "devices.yaml")
	var df bytes.Buffer
	fmt.Fprintln(&df, "devices:")
	for _, d := range devs {
		fmt.Fprintf(&df, "  - {id: %s, kind: gas, site: %s, building: %s}\n", d.ID, d.Site, d.Building)
	}
	if err := os.WriteFile(devFile, df.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	bins := [][2]string{{"", caretakerBinary(t)}}
	if *backtestBefore != "" {
		bins = append(bins, [2]string{" (before)", *backtestBefore})
	}

	for _, store := range []string{"InfluxDB", "embedded store"} {
		var cfg string
		loadStart := time.Now()
		if store == "InfluxDB" {
			loadInflux(t, env, nStored, minutes)
			cfg = fmt.Sprintf("influx: {url: %q, bucket: backtest}\nstore: {path: %q}\ndevices_file: %q\n",
				env.influx.URL, filepath.Join(dir, "none.db"), devFile)
		} else {
			path := filepath.Join(dir, "readings.db")
			loadEmbedded(t, path, devs, minutes)
			cfg = fmt.Sprintf("store: {path: %q, readings_path: %q}\ndevices_file: %q\n", filepath.Join(dir, "none.db"), path, devFile)
		}
		load := time.Since(loadStart)
		progress("  %s loaded: %d readings of %d detectors in %s (%.0f/s)", store, total, nStored, load.Round(time.Second), float64(total)/load.Seconds())
		cfgPath := filepath.Join(dir, "caretaker-"+store+".yaml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, b := range bins {
			s0, _ := procCPU(env.influx.PID())
			whole := runBacktest(t, b[1], cfgPath, from, to)
			if s1, err := procCPU(env.influx.PID()); err == nil && store == "InfluxDB" {
				whole.StoreCPU = s1 - s0
			}
			tenth := runBacktest(t, b[1], cfgPath, from, short)
			if whole.Readings != total || whole.Count != mem.Count || whole.CurrentCount != mem.CurrentCount {
				t.Errorf("%s%s: %d readings, %d and %d alarms; the replay from memory: %d, %d and %d", store, b[0],
					whole.Readings, whole.Count, whole.CurrentCount, total, mem.Count, mem.CurrentCount)
			}
			r := whole.rate()
			env.tb.add(row{Part: part, Figure: fmt.Sprintf("readings/s, %s%s (%d x %d days)", store, b[0], nStored, days), Value: fmt.Sprintf("%.0f", r),
				Ratio: fmt.Sprintf("%.2f of replay alone", r/anchor), Target: ">= 1 000 000", Verdict: verdict(r >= 1e6)})
			env.tb.add(row{Part: part, Figure: "peak RSS, " + store + b[0], Value: mib(whole.PeakRSS),
				Ratio: fmt.Sprintf("%s for a tenth of the period", mib(tenth.PeakRSS)), Target: "flat",
				Verdict: verdict(float64(whole.PeakRSS) <= 1.25*float64(tenth.PeakRSS)+16<<20)})
			perReading := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(whole.Readings) }
			cpu := fmt.Sprintf("%.2f us", perReading(whole.CPU+whole.StoreCPU))
			if whole.StoreCPU > 0 {
				cpu += fmt.Sprintf(" (caretaker %.2f + influxd %.2f)", perReading(whole.CPU), perReading(whole.StoreCPU))
			}
			env.tb.add(row{Part: part, Figure: "CPU per reading, " + store + b[0], Value: cpu,
				Ratio: "user + system"})
		}
	}
}

// watchHeap samples the live heap objects every 10 ms until stop
// (runtime/metrics: no stop of the world).
func watchHeap() (stop func(), peak *uint64) {
	peak = new(uint64)
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			*peak = max(*peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() { close(done); <-finished }, peak
}

// runBacktest runs `caretaker backtest --json` and reads its result and
// its peak RSS (VmHWM, read every 20 ms while it runs).
func runBacktest(t *testing.T, bin, cfgPath string, from, to time.Time) backtestRun {
	t.Helper()
	cmd := exec.Command(bin, "backtest", "--config", cfgPath, "--rule", "gas-lel-warning",
		"--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--set", "condition.value=12", "--json")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s backtest: %v", bin, err)
	}
	// VmHWM while it runs: the rusage of a child started with vfork
	// counts the parent's memory at the fork.
	var peak int64
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for {
		select {
		case err = <-exited:
			break wait
		case <-tick.C:
			if _, p, perr := procMem(cmd.Process.Pid); perr == nil {
				peak = max(peak, p)
			}
		}
	}
	if err != nil {
		t.Fatalf("%s backtest: %v\n%s", bin, err, errb.String())
	}
	run := backtestRun{Elapsed: time.Since(start), PeakRSS: peak, CPU: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	var res struct {
		Readings     int `json:"readings"`
		Count        int `json:"count"`
		CurrentCount int `json:"current_count"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("backtest output: %v\n%s", err, out.String())
	}
	run.Readings, run.Count, run.CurrentCount = res.Readings, res.Count, res.CurrentCount
	progress("  backtest %s .. %s: %d readings in %s (%.0f/s), peak RSS %s", from.Format("01-02"), to.Format("01-02"),
		run.Readings, run.Elapsed.Round(time.Millisecond), run.rate(), mib(run.PeakRSS))
	return run
}

// loadInflux writes the history into database backtest through the 1.x
// /write endpoint, two requests of 100 000 lines at a time.
func loadInflux(t *testing.T, env *benchEnv, nDev, minutes int) {
	t.Helper()
	if _, err := env.influx.Query("CREATE DATABASE backtest"); err != nil {
		t.Fatal(err)
	}
	u := env.influx.URL + "/write?db=backtest&precision=s"
	batches := make(chan []byte, 2)
	var wg sync.WaitGroup
	var failed error
	var once sync.Once
	for range 2 {
		wg.Go(func() {
			for b := range batches {
				resp, err := http.Post(u, "text/plain", bytes.NewReader(b))
				if err == nil {
					msg, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusNoContent {
						err = fmt.Errorf("write: %s: %s", resp.Status, msg)
					}
				}
				if err != nil {
					once.Do(func() { failed = err })
				}
			}
		})
	}
	var buf bytes.Buffer
	lines := 0
	for dev := range nDev {
		prefix := fmt.Sprintf("gas,building=B%d,device=%s,site=s1 lel_pct=", dev%8+1, url.PathEscape(backtestID(dev)))
		for i := range minutes {
			fmt.Fprintf(&buf, "%s%g %d\n", prefix, backtestValue(dev, i), backtestStart.Add(time.Duration(i)*time.Minute).Unix())
			if lines++; lines == 100000 {
				batches <- bytes.Clone(buf.Bytes())
				buf.Reset()
				lines = 0
			}
		}
	}
	if buf.Len() > 0 {
		batches <- bytes.Clone(buf.Bytes())
	}
	close(batches)
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
}

// loadEmbedded writes the history into the embedded store through its
// own writes, minute by minute across the detectors as they would come.
func loadEmbedded(t *testing.T, path string, devs btDevices, minutes int) {
	t.Helper()
	st, err := tsdb.Open(path, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range minutes {
		at := backtestStart.Add(time.Duration(i) * time.Minute)
		for dev, d := range devs {
			r := devices.Reading{Device: d.ID, Kind: devices.KindGas, Site: d.Site, Building: d.Building, Time: at,
				Values: map[string]devices.Value{"lel_pct": devices.Num(backtestValue(dev, i))}}
			if err := st.WriteReading(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

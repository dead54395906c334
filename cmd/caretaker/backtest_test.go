package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
	"github.com/caretaker-iot/caretaker/rules"
)

// TestBacktestCommand replays the embedded store through the default gas
// rule, as it is and with a higher threshold.
func TestBacktestCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "caretaker.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`store: {path: "%[1]s/caretaker.db", readings_path: "%[1]s/readings.db"}
devices:
  - {id: gas-b2-07, kind: gas, site: s1, building: B2}
`, dir))
	st, err := tsdb.Open(filepath.Join(dir, "readings.db"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	for i, lel := range []float64{5, 22, 26, 10, 5} {
		r := devices.Reading{Device: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2",
			Time: t0.Add(time.Duration(i*10) * time.Second), Values: map[string]devices.Value{"lel_pct": devices.Num(lel)}}
		if err := st.WriteReading(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var out, errb bytes.Buffer
	code := run(ctx, []string{"backtest", "--config", cfgPath, "--rule", "gas-lel-critical",
		"--from", "2026-11-20", "--to", "2026-11-21T00:00:00Z", "--set", "condition.value=25"}, &out, &errb, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := []string{
		"would have raised 1 alarms (current values: 1, difference +0)",
		"gas-b2-07  2026-11-20T03:00:20Z  2026-11-20T03:00:40Z  26", // clear_for 10s: below 15 from +30 s
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if errb.Len() != 0 {
		t.Errorf("a progress bar was drawn on a non-terminal: %q", errb.String())
	}

	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"backtest", "--config", cfgPath, "--from", "24h"}, "--rule"},
		{[]string{"backtest", "--config", cfgPath, "--rule", "gas-lel-critical"}, "--from"},
		{[]string{"backtest", "--config", cfgPath, "--rule", "nope", "--from", "24h"}, "no rule"},
		{[]string{"backtest", "--config", cfgPath, "--rule", "gas-lel-critical", "--from", "yesterday"}, "--from"},
		{[]string{"backtest", "--config", cfgPath, "--rule", "gas-lel-critical", "--from", "24h", "--set", "condition.nope=1"}, "unknown key"},
	} {
		var out, errb bytes.Buffer
		if code := run(ctx, tc.args, &out, &errb, nil); code != 2 || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, errb.String(), tc.msg)
		}
	}
}

func TestRenderBar(t *testing.T) {
	for _, tc := range []struct {
		done, total int
		want        string
	}{
		{0, 4, "[>         ] 0/4 devices"},
		{2, 4, "[=====>    ] 2/4 devices"},
		{4, 4, "[==========] 4/4 devices"},
	} {
		if got := renderBar(tc.done, tc.total, 10); got != tc.want {
			t.Errorf("renderBar(%d, %d) = %q, want %q", tc.done, tc.total, got, tc.want)
		}
	}
}

func TestRenderProgress(t *testing.T) {
	for _, tc := range []struct {
		p    rules.BacktestProgress
		want string
	}{
		{rules.BacktestProgress{Total: 4}, "[>         ] 0/4 devices, 0 values"},
		{rules.BacktestProgress{Total: 4, Readings: 40000, Done: 0.18}, "[=>        ] 0/4 devices, 40000 values"},
		{rules.BacktestProgress{Devices: 2, Total: 4, Readings: 86400, Done: 0.5}, "[=====>    ] 2/4 devices, 86400 values"},
		{rules.BacktestProgress{Devices: 4, Total: 4, Readings: 172800, Done: 1}, "[==========] 4/4 devices, 172800 values"},
	} {
		if got := renderProgress(tc.p, 10); got != tc.want {
			t.Errorf("renderProgress(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

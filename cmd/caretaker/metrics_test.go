package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/caretaker-iot/caretaker/internal/testkit"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// TestMetricsForOperators: after one L1 gas reading through a real
// mosquitto, /metrics of the real service carries what an operator
// watches: the reading -> alarm -> ticket latencies, the store's write
// time, the pipeline queue and the in-flight window, active alarms and
// open tickets by level, SLA breaches by clock; with the values this
// alarm implies, and promlint (promtool check metrics) finds nothing.
func TestMetricsForOperators(t *testing.T) {
	broker := testserver.Mosquitto(t)
	c, _ := serveConfig(t, operatorConfig(broker.Addr, "caretaker-metrics",
		"  - {id: gas-b2-07, kind: gas, site: s1, building: B2}\n"))
	publishGasL1(t, broker.Addr)
	waitOneTicket(t, c.Base, "the L1 ticket")
	var m testkit.Metrics
	waitFor(t, 15*time.Second, "the reading stored and its alarm counted", func() bool {
		var err error
		if m, err = testkit.Scrape(c.Base + "/metrics"); err != nil {
			t.Fatal(err)
		}
		return m.Sum("caretaker_embedded_store_commit_duration_seconds") >= 1 && m.Sum("caretaker_ticket_create_seconds") >= 1
	})
	for _, tc := range []struct {
		series string
		want   func(float64) bool
		says   string
	}{
		{"caretaker_alarm_decision_seconds", func(v float64) bool { return v >= 1 }, "one raise at least observed"},
		{"caretaker_ticket_create_seconds", func(v float64) bool { return v >= 1 }, "one ticket creation observed"},
		{"caretaker_alarm_handoff_seconds", func(v float64) bool { return v >= 1 }, "one alarm change handed on observed"},
		{"caretaker_embedded_store_commit_duration_seconds", func(v float64) bool { return v >= 1 }, "a commit observed"},
		{`caretaker_alarms_active{level="1"}`, func(v float64) bool { return v == 1 }, "the L1 alarm active"},
		{`caretaker_alarms_active{level="3"}`, func(v float64) bool { return v == 0 }, "no L3 alarm"},
		{`caretaker_tickets_open{level="1"}`, func(v float64) bool { return v == 1 }, "one open L1 ticket"},
		{`caretaker_tickets_open{level="2"}`, func(v float64) bool { return v == 0 }, "no L2 ticket"},
		{`caretaker_sla_breaches_total{clock="claim"}`, func(v float64) bool { return v == 0 }, "no breach yet"},
		{"caretaker_ingest_queue_capacity", func(v float64) bool { return v > 0 }, "the queue's size"},
		{"caretaker_mqtt_inflight_limit", func(v float64) bool { return v == 1000 }, "the default window"},
	} {
		if !m.Has(metricName(tc.series)) {
			t.Errorf("%s missing from /metrics", tc.series)
			continue
		}
		if v := m.Sum(tc.series); !tc.want(v) {
			t.Errorf("%s = %g, want %s", tc.series, v, tc.says)
		}
	}
	for _, name := range []string{"caretaker_ingest_queue_depth", "caretaker_mqtt_inflight_messages", "caretaker_page_delivery_seconds"} {
		if !m.Has(name) {
			t.Errorf("%s missing from /metrics", name)
		}
	}

	resp, err := http.Get(c.Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.New(bytes.NewReader(raw)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// metricName is the name of a selector: what comes before its labels.
func metricName(sel string) string {
	if i := bytes.IndexByte([]byte(sel), '{'); i >= 0 {
		return sel[:i]
	}
	return sel
}

// TestGrafanaDashboardSeriesAreDocumented: every Caretaker series the
// shipped dashboard queries is one docs/operations.md lists (so a renamed
// series cannot leave the dashboard silently empty).
func TestGrafanaDashboardSeriesAreDocumented(t *testing.T) {
	dash, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`caretaker_[a-z_]+`)
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, s := range name.FindAllString(tg.Expr, -1) {
				s = strings.TrimSuffix(s, "_bucket")
				n++
				if !bytes.Contains(ops, []byte("`"+s+"`")) && !bytes.Contains(ops, []byte("`"+s+"{")) {
					t.Errorf("the dashboard queries %s, which docs/operations.md does not list", s)
				}
			}
		}
	}
	if n < 10 {
		t.Errorf("the dashboard queries %d Caretaker series; expected the operator's set", n)
	}
}

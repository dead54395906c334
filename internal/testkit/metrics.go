package testkit

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics are Prometheus metric families by name, as scraped from a
// /metrics page or gathered from a registry.
type Metrics map[string]*dto.MetricFamily

// ParseMetrics reads the Prometheus text exposition format.
func ParseMetrics(r io.Reader) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return mfs, nil
}

// Scrape reads url (a /metrics page).
func Scrape(url string) (Metrics, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// Gather reads a registry, failing the test when it cannot.
func Gather(t testing.TB, g prometheus.Gatherer) Metrics {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	m := make(Metrics, len(mfs))
	for _, mf := range mfs {
		m[mf.GetName()] = mf
	}
	return m
}

// Has tells whether a family of that name is there.
func (m Metrics) Has(name string) bool { _, ok := m[name]; return ok }

// Sum adds the values of the samples a selector picks: a bare name picks
// every label set, `name{k="v",...}` those that carry all of the given
// labels. Counters, gauges and untyped samples have values; a histogram or
// summary counts its observations.
func (m Metrics) Sum(selector string) float64 {
	name, want, err := parseSelector(selector)
	if err != nil {
		panic(err) // a selector is written in the test: a typo is the test's bug
	}
	sum := 0.0
	for _, s := range m[name].GetMetric() {
		if matches(s, want) {
			sum += value(s)
		}
	}
	return sum
}

// ByLabel adds the values of the samples a selector picks, per value of
// one more label (e.g. the reasons of one device's failures).
func (m Metrics) ByLabel(selector, label string) map[string]float64 {
	name, want, err := parseSelector(selector)
	if err != nil {
		panic(err)
	}
	out := map[string]float64{}
	for _, s := range m[name].GetMetric() {
		if !matches(s, want) {
			continue
		}
		for _, l := range s.GetLabel() {
			if l.GetName() == label {
				out[l.GetValue()] += value(s)
			}
		}
	}
	return out
}

// Metric scrapes url and sums a selector (see Metrics.Sum), failing the
// test when the page cannot be read.
func Metric(t testing.TB, url, selector string) float64 {
	t.Helper()
	m, err := Scrape(url)
	if err != nil {
		t.Fatal(err)
	}
	return m.Sum(selector)
}

func value(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Untyped != nil:
		return s.Untyped.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	case s.Summary != nil:
		return float64(s.Summary.GetSampleCount())
	}
	return 0
}

func matches(s *dto.Metric, want map[string]string) bool {
	have := 0
	for _, l := range s.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			have++
		}
	}
	return have == len(want)
}

// parseSelector splits `name{k="v",...}` into the name and its labels.
func parseSelector(sel string) (string, map[string]string, error) {
	name, rest, ok := strings.Cut(sel, "{")
	want := map[string]string{}
	if !ok {
		return sel, want, nil
	}
	rest, ok = strings.CutSuffix(rest, "}")
	if !ok {
		return "", nil, fmt.Errorf("selector %q: no closing brace", sel)
	}
	for rest != "" {
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			return "", nil, fmt.Errorf("selector %q: label without value", sel)
		}
		q, err := strconv.QuotedPrefix(v)
		if err != nil {
			return "", nil, fmt.Errorf("selector %q: %w", sel, err)
		}
		want[strings.TrimSpace(k)], _ = strconv.Unquote(q)
		rest = strings.TrimPrefix(strings.TrimSpace(v[len(q):]), ",")
	}
	return name, want, nil
}

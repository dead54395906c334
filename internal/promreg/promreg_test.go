package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRegisterReusesTheExistingCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "caretaker_test_total", Help: "test"}
	first := Register(reg, prometheus.NewCounter(opts))
	second := Register(reg, prometheus.NewCounter(opts))
	first.Inc()
	second.Inc()
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].Metric[0].Counter.GetValue() != 2 {
		t.Fatalf("gathered %v, %v: want one counter at 2", mfs, err)
	}
	if c := Register(nil, prometheus.NewCounter(opts)); c == nil {
		t.Fatal("no registry: the collector itself must come back")
	}
}

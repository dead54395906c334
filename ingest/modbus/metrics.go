package modbus

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/internal/promreg"
)

// metrics are the gateway's Prometheus series, labelled per device.
type metrics struct {
	polls       *prometheus.CounterVec
	failures    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	implausible *prometheus.CounterVec
	online      *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caretaker_modbus_polls_total",
			Help: "Polls of a Modbus device (all its requests), by device.",
		}, []string{"device"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caretaker_modbus_poll_failures_total",
			Help: "Failed Modbus requests, by device and reason (timeout, exception, connection, decode).",
		}, []string{"device", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "caretaker_modbus_poll_duration_seconds",
			Help:    "Time one poll of a Modbus device took, answered or not.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"device"}),
		implausible: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caretaker_modbus_implausible_total",
			Help: "Register values outside the register's min/max, kept out of the readings.",
		}, []string{"device", "metric"}),
		online: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "caretaker_modbus_device_online",
			Help: "1 while a Modbus device answers, 0 once it is marked offline.",
		}, []string{"device"}),
	}
	m.polls = promreg.Register(reg, m.polls)
	m.failures = promreg.Register(reg, m.failures)
	m.latency = promreg.Register(reg, m.latency)
	m.implausible = promreg.Register(reg, m.implausible)
	m.online = promreg.Register(reg, m.online)
	return m
}

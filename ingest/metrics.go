package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/internal/promreg"
)

// pipelineMetrics are the pipeline's Prometheus counters.
type pipelineMetrics struct {
	messages    prometheus.Counter
	readings    prometheus.Counter
	rejected    *prometheus.CounterVec
	writeErrors prometheus.Counter
}

// registerQueueMetrics exposes how full the pipeline's queue is: messages
// waiting for the rules and the store, and how many it holds at most.
func registerQueueMetrics(reg prometheus.Registerer, depth func() float64, capacity int) {
	if reg == nil {
		return
	}
	promreg.Register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "caretaker_ingest_queue_depth",
		Help: "Messages waiting in the ingest pipeline's queue for the rules and the store.",
	}, depth))
	promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "caretaker_ingest_queue_capacity",
		Help: "Messages the ingest pipeline's queue holds at most; full, gateways wait.",
	})).Set(float64(capacity))
}

func newPipelineMetrics(reg prometheus.Registerer) *pipelineMetrics {
	m := &pipelineMetrics{
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caretaker_ingest_messages_total",
			Help: "Device messages taken into the ingest pipeline.",
		}),
		readings: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caretaker_ingest_readings_total",
			Help: "Readings accepted and handed on to the store and the sink.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caretaker_ingest_rejected_total",
			Help: "Messages, or single metrics of a message, refused, by reason.",
		}, []string{"reason"}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caretaker_ingest_write_errors_total",
			Help: "Readings and events the time-series store refused.",
		}),
	}
	m.messages = promreg.Register(reg, m.messages)
	m.readings = promreg.Register(reg, m.readings)
	m.rejected = promreg.Register(reg, m.rejected)
	m.writeErrors = promreg.Register(reg, m.writeErrors)
	return m
}

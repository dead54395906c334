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

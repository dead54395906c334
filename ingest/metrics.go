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

// influxMetrics are the InfluxDB writer's Prometheus series.
type influxMetrics struct {
	written     prometheus.Counter
	errors      prometheus.Counter
	lost        *prometheus.CounterVec
	latency     prometheus.Histogram
	batch       prometheus.Histogram
	spoolBytes  prometheus.Gauge
	spoolPoints prometheus.Gauge
}

func newInfluxMetrics(reg prometheus.Registerer) *influxMetrics {
	return &influxMetrics{
		written: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caretaker_influx_points_written_total",
			Help: "Points InfluxDB has taken.",
		})),
		errors: promreg.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caretaker_influx_write_errors_total",
			Help: "Write requests InfluxDB refused or could not be reached for.",
		})),
		lost: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caretaker_influx_points_lost_total",
			Help: "Points lost, by reason: spool_full, rejected (malformed, 400/413/422), no_spool.",
		}, []string{"reason"})),
		latency: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "caretaker_influx_write_duration_seconds",
			Help:    "Time one write request to InfluxDB took, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 13),
		})),
		batch: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "caretaker_influx_batch_points",
			Help:    "Points per successful write request.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		})),
		spoolBytes: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "caretaker_influx_spool_bytes",
			Help: "Bytes waiting in the on-disk spool for InfluxDB.",
		})),
		spoolPoints: promreg.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "caretaker_influx_spool_points",
			Help: "Points waiting in the on-disk spool for InfluxDB.",
		})),
	}
}

package influx

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/internal/promreg"
)

// influxMetrics are the InfluxDB writer's Prometheus series.
type influxMetrics struct {
	written     prometheus.Counter
	errors      prometheus.Counter
	lost        *prometheus.CounterVec
	latency     prometheus.Histogram
	batch       prometheus.Histogram
	spoolBytes  prometheus.Gauge
	spoolPoints prometheus.Gauge
	journalSync prometheus.Histogram
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
		journalSync: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "caretaker_influx_journal_sync_duration_seconds",
			Help:    "Time a sync of the local journal took: what an acknowledgement waits for.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		})),
	}
}

package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/modbus"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

// newModbusGateway polls the registry's Modbus devices into the pipeline.
func newModbusGateway(cfg Config, reg *devices.Registry, p *ingest.Pipeline, logger *slog.Logger, metrics prometheus.Registerer) *modbus.Gateway {
	mc := cfg.Modbus
	mc.Registry, mc.Submitter, mc.Logger, mc.Metrics = reg, p, logger, metrics
	return modbus.New(mc)
}

// openServeStore is openReadingStore for the serving process: InfluxDB
// with its on-disk spool, or the embedded store, with their metrics. Only serve may own the spool, so a
// backtest running beside it never replays the same batches.
func openServeStore(cfg Config, logger *slog.Logger, metrics prometheus.Registerer) (readingStore, error) {
	if cfg.Influx.URL == "" {
		if err := os.MkdirAll(filepath.Dir(cfg.Store.ReadingsPath), 0o700); err != nil {
			return nil, fmt.Errorf("store.readings_path: %w", err)
		}
		st, err := tsdb.OpenWith(tsdb.Config{Path: cfg.Store.ReadingsPath,
			Retention: cfg.Store.ReadingsRetention.Std(), Logger: logger, Metrics: metrics})
		if err != nil {
			return nil, fmt.Errorf("store.readings_path %s: %w", cfg.Store.ReadingsPath, err)
		}
		return st, nil
	}
	ic := cfg.Influx
	ic.Logger, ic.Metrics = logger, metrics
	in, err := influx.Open(ic)
	if err != nil {
		return nil, &ConfigError{Key: "influx.spool_dir", Msg: err.Error()}
	}
	return influxStore{in}, nil
}

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

// ModbusConfig tunes the Modbus gateway; zero values take the package
// defaults (docs/configuration.md).
type ModbusConfig struct {
	Interval     devices.Duration `yaml:"interval"`      // poll interval of a device that names none; 10s
	Timeout      devices.Duration `yaml:"timeout"`       // request timeout of a device that names none; 1s
	OfflineAfter int              `yaml:"offline_after"` // failed polls in a row before device.status offline; 3
	MaxBackoff   devices.Duration `yaml:"max_backoff"`   // longest pause between retries of a failing device; 1m
	MaxGap       int              `yaml:"max_gap"`       // unused registers read to join two blocks in one request; 0
	MaxRegisters int              `yaml:"max_registers"` // registers per request, for devices that take fewer than 125
}

// Validate checks the Modbus keys; the error names the key.
func (m ModbusConfig) Validate() error {
	switch {
	case m.Interval < 0:
		return &ConfigError{Key: "modbus.interval", Msg: "must not be negative"}
	case m.Timeout < 0:
		return &ConfigError{Key: "modbus.timeout", Msg: "must not be negative"}
	case m.OfflineAfter < 0:
		return &ConfigError{Key: "modbus.offline_after", Msg: "must not be negative"}
	case m.MaxBackoff < 0:
		return &ConfigError{Key: "modbus.max_backoff", Msg: "must not be negative"}
	case m.MaxGap < 0 || m.MaxGap > modbus.MaxRegisters:
		return &ConfigError{Key: "modbus.max_gap", Msg: fmt.Sprintf("%d is not between 0 and %d", m.MaxGap, modbus.MaxRegisters)}
	case m.MaxRegisters < 0 || m.MaxRegisters > modbus.MaxRegisters:
		return &ConfigError{Key: "modbus.max_registers", Msg: fmt.Sprintf("%d is not between 0 and %d", m.MaxRegisters, modbus.MaxRegisters)}
	}
	return nil
}

// newModbusGateway polls the registry's Modbus devices into the pipeline.
func newModbusGateway(cfg Config, reg *devices.Registry, p *ingest.Pipeline, logger *slog.Logger, metrics prometheus.Registerer) *modbus.Gateway {
	m := cfg.Modbus
	return modbus.New(modbus.Config{
		Registry: reg, Submitter: p, Logger: logger, Metrics: metrics,
		Interval: m.Interval.Std(), Timeout: m.Timeout.Std(), OfflineAfter: m.OfflineAfter, MaxBackoff: m.MaxBackoff.Std(),
		Plan: modbus.PlanOptions{MaxGap: m.MaxGap, MaxRegisters: m.MaxRegisters},
	})
}

// openServeStore is openReadingStore for the serving process: InfluxDB
// with its on-disk spool, or the embedded store, with their metrics. Only serve may own the spool, so a
// backtest running beside it never replays the same batches.
func openServeStore(cfg Config, logger *slog.Logger, metrics prometheus.Registerer) (readingStore, error) {
	if cfg.Influx.URL == "" {
		if err := os.MkdirAll(filepath.Dir(cfg.Store.ReadingsPath), 0o750); err != nil {
			return nil, fmt.Errorf("store.readings_path: %w", err)
		}
		st, err := tsdb.OpenWith(tsdb.Config{Path: cfg.Store.ReadingsPath,
			Retention: cfg.Store.ReadingsRetention.Std(), Logger: logger.With("component", "tsdb"), Metrics: metrics})
		if err != nil {
			return nil, fmt.Errorf("store.readings_path %s: %w", cfg.Store.ReadingsPath, err)
		}
		return st, nil
	}
	ic := cfg.Influx
	ic.Logger, ic.Metrics = logger.With("component", "influx"), metrics
	in, err := influx.Open(ic)
	if err != nil {
		return nil, &ConfigError{Key: "influx.spool_dir", Msg: err.Error()}
	}
	return influxStore{in}, nil
}

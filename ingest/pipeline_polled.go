package ingest

import (
	"context"
	"maps"

	"github.com/caretaker-iot/caretaker/devices"
)

// QualityWriter is a Writer that can also keep values flagged implausible
// (outside their register's min/max), apart from the metric's own series,
// so "implausible" stays distinct from "no answer" (nothing stored) and
// from a real value.
type QualityWriter interface {
	WriteImplausible(ctx context.Context, r devices.Reading, values map[string]float64) error
}

// handlePolled checks a reading a gateway decoded itself, then stores it
// and hands it on like a parsed telemetry message. Implausible values are
// counted and stored apart (QualityWriter), never handed to the Sink.
func (p *Pipeline) handlePolled(ctx context.Context, pr polled) {
	r := pr.r
	source := "modbus:" + r.Device
	d, ok := p.cfg.Registry.Lookup(r.Device)
	if !ok {
		p.rejected(source, reject(ReasonUnknownDevice, "device %q is not registered", r.Device))
		return
	}
	r.Kind, r.Site, r.Building = d.Kind, d.Site, d.Building
	if r.Received.IsZero() {
		r.Received = p.cfg.Now()
	}
	if r.Time.IsZero() {
		r.Time = r.Received
	}
	r.Values = maps.Clone(r.Values)
	p.checkValues(source, d, r.Values)
	for metric, v := range pr.implausible {
		p.rejected(source, reject(ReasonImplausible, "metric %q: %g is outside the register's min/max", metric, v))
	}
	if qw, ok := p.cfg.Writer.(QualityWriter); ok && len(pr.implausible) > 0 {
		if err := qw.WriteImplausible(ctx, r, pr.implausible); err != nil {
			p.writeFailed(d.ID, err)
		}
	}
	if len(r.Values) == 0 {
		return
	}
	if p.cfg.Writer != nil {
		if err := p.cfg.Writer.WriteReading(ctx, r); err != nil {
			p.writeFailed(d.ID, err)
		}
	}
	p.metrics.readings.Inc()
	p.count(func(s *Stats) { s.Accepted++ })
	if p.cfg.Sink != nil {
		p.cfg.Sink.Reading(ctx, r)
	}
}

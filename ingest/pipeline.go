package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/ratelog"
)

// ErrPipelineClosed is returned by Submit once Run has stopped taking
// messages.
var ErrPipelineClosed = errors.New("ingest pipeline closed")

// PipelineConfig configures a Pipeline. Registry is required; the rest has
// defaults (see withDefaults).
type PipelineConfig struct {
	Registry     *devices.Registry
	Writer       Writer                // nil: nothing is stored
	Sink         Sink                  // nil: nothing is handed on
	Logger       *slog.Logger          // nil: discard
	Metrics      prometheus.Registerer // may be nil
	QueueSize    int                   // default 10000
	MaxPayload   int                   // bytes; default 64 KiB
	AutoRegister bool                  // unknown devices are registered as kind unknown
	// Reserved tells the names no device may take: those the engine
	// keeps for its data sources ("ingest"). A message on such a
	// device's topics is rejected (ReasonReservedID), registered device
	// or not, and never auto-registered. Nil: none.
	Reserved    func(id string) bool
	Now         func() time.Time // default time.Now
	LogInterval time.Duration    // at most one rejection line per reason per interval; default 10s
}

func (c PipelineConfig) withDefaults() PipelineConfig {
	if c.Registry == nil {
		c.Registry, _ = devices.NewRegistry(devices.Catalog{})
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 10000
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 64 << 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.LogInterval <= 0 {
		c.LogInterval = 10 * time.Second
	}
	return c
}

// Stats are the pipeline's counts so far. Received counts messages once
// they have been handled, Accepted those that yielded a reading, event or
// status, Rejected refusals by reason (a dropped metric counts once on its
// own).
type Stats struct {
	Received    int
	Accepted    int
	Rejected    map[string]int
	WriteErrors int
}

// Pipeline takes raw device messages through a bounded queue, checks them
// against the registry and hands the results to the Writer and the Sink.
type Pipeline struct {
	cfg     PipelineConfig
	log     *slog.Logger
	rlog    *ratelog.Logger
	metrics *pipelineMetrics
	queue   chan item

	stopping   chan struct{}
	stopOnce   sync.Once
	submitting atomic.Int64
	draining   atomic.Bool   // set by drain before it closes stopping
	left       chan struct{} // while draining: the last submitter has left

	mu    sync.Mutex
	stats Stats
}

// NewPipeline builds a pipeline; call Run to start draining it.
func NewPipeline(cfg PipelineConfig) *Pipeline {
	cfg = cfg.withDefaults()
	log := cfg.Logger.With("component", "ingest")
	p := &Pipeline{
		cfg:      cfg,
		log:      log,
		rlog:     ratelog.New(log, cfg.LogInterval, cfg.Now),
		metrics:  newPipelineMetrics(cfg.Metrics),
		queue:    make(chan item, cfg.QueueSize),
		stopping: make(chan struct{}),
		left:     make(chan struct{}, 1),
		stats:    Stats{Rejected: map[string]int{}},
	}
	registerQueueMetrics(cfg.Metrics, func() float64 { return float64(len(p.queue)) }, cfg.QueueSize)
	return p
}

// item is one queued piece of work: a raw message (MQTT), or a reading or
// status a gateway decoded itself (Modbus).
type item struct {
	msg    Message
	polled *polled
	status *devices.Status
}

// polled is a decoded reading and the values kept out of it as implausible.
type polled struct {
	r           devices.Reading
	implausible map[string]float64
}

// Submit queues a message. When the queue is full it waits (backpressure
// on the gateway) until there is room or ctx ends.
func (p *Pipeline) Submit(ctx context.Context, m Message) error {
	return p.enqueue(ctx, item{msg: m})
}

// SubmitReading queues a reading a gateway decoded itself (Modbus). It goes
// through the same checks as a parsed message: registered device, metrics
// of its kind, right types. Implausible holds raw values outside their
// register's range: they are counted (reason "implausible"), logged and,
// when the Writer is a QualityWriter, stored apart from the metric's
// series; they never reach the Sink.
func (p *Pipeline) SubmitReading(ctx context.Context, r devices.Reading, implausible map[string]float64) error {
	return p.enqueue(ctx, item{polled: &polled{r: r, implausible: implausible}})
}

// SubmitStatus queues a device status a gateway established (Modbus
// online/offline) for the Sink.
func (p *Pipeline) SubmitStatus(ctx context.Context, s devices.Status) error {
	return p.enqueue(ctx, item{status: &s})
}

func (p *Pipeline) enqueue(ctx context.Context, m item) error {
	p.submitting.Add(1)
	defer func() {
		if p.submitting.Add(-1) == 0 && p.draining.Load() {
			select {
			case p.left <- struct{}{}:
			default:
			}
		}
	}()
	select {
	case <-p.stopping:
		return ErrPipelineClosed
	default:
	}
	select {
	case p.queue <- m:
		return nil
	case <-p.stopping:
		return ErrPipelineClosed
	case <-ctx.Done():
		return fmt.Errorf("ingest submit: %w", ctx.Err())
	}
}

// Run drains the queue until ctx ends, then handles what is still queued
// and returns nil. Handing on uses a context that is not cancelled, so the
// last messages still reach the store and the sink.
func (p *Pipeline) Run(ctx context.Context) error {
	work := context.WithoutCancel(ctx)
	for {
		select {
		case m := <-p.queue:
			p.handle(work, m)
		case <-ctx.Done():
			p.drain(work)
			return nil
		}
	}
}

// drain stops taking new messages and handles those already queued or
// being submitted right now. It waits on the queue and on the last
// submitter leaving, not on a timer.
func (p *Pipeline) drain(ctx context.Context) {
	p.draining.Store(true)
	p.stopOnce.Do(func() { close(p.stopping) })
	for {
		select {
		case m := <-p.queue:
			p.handle(ctx, m)
			continue
		default:
		}
		if p.submitting.Load() == 0 && len(p.queue) == 0 {
			return
		}
		select {
		case m := <-p.queue:
			p.handle(ctx, m)
		case <-p.left:
		}
	}
}

// Stats returns a copy of the counts so far.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Rejected = make(map[string]int, len(p.stats.Rejected))
	for k, v := range p.stats.Rejected {
		s.Rejected[k] = v
	}
	return s
}

func (p *Pipeline) handle(ctx context.Context, it item) {
	switch {
	case it.polled != nil:
		p.handlePolled(ctx, *it.polled)
		return
	case it.status != nil:
		if p.cfg.Sink != nil {
			p.cfg.Sink.Status(ctx, *it.status)
		}
		return
	}
	m := it.msg
	p.metrics.messages.Inc()
	if m.Received.IsZero() {
		m.Received = p.cfg.Now()
	}
	err := p.process(ctx, m)
	if err != nil {
		p.rejected(m.Topic, err)
	}
	p.settle(m.Done, err == nil)
	// Counted last, so a test that waits for Received sees the outcome too.
	p.count(func(s *Stats) {
		s.Received++
		if err == nil {
			s.Accepted++
		}
	})
}

// settle calls done once what the message carried is safe: at once when
// it was rejected (counted; nothing to keep) or nothing is made durable,
// else when the Writer says all it was given so far is durable and, a
// SettlingSink, the Sink says all it was given so far is settled (the
// alarms it raised handed on). The Sink has seen the message already: it
// is called before settle.
func (p *Pipeline) settle(done func(), accepted bool) {
	if done == nil {
		return
	}
	if !accepted {
		done()
		return
	}
	dw, durable := p.cfg.Writer.(DurableWriter)
	ss, settling := p.cfg.Sink.(SettlingSink)
	switch {
	case durable && settling:
		both := AfterAll(2, done)
		ss.AfterSettled(both)
		dw.AfterDurable(both)
	case durable:
		dw.AfterDurable(done)
	case settling:
		ss.AfterSettled(done)
	default:
		done()
	}
}

// AfterAll returns a callback that calls done once it has itself been
// called n times (from any goroutines): a message's acknowledgement that
// waits for several parties, each calling it once.
func AfterAll(n int32, done func()) func() {
	if n <= 1 {
		return done
	}
	left := &atomic.Int32{}
	left.Store(n)
	return func() {
		if left.Add(-1) == 0 {
			done()
		}
	}
}

func (p *Pipeline) process(ctx context.Context, m Message) error {
	if len(m.Payload) > p.cfg.MaxPayload {
		return reject(ReasonOversized, "payload of %d bytes is over the limit of %d", len(m.Payload), p.cfg.MaxPayload)
	}
	site, id, channel, err := ParseTopic(m.Topic)
	if err != nil {
		return err
	}
	d, err := p.device(site, id)
	if err != nil {
		return err
	}
	switch channel {
	case ChannelTelemetry:
		return p.telemetry(ctx, m, d)
	case ChannelEvent:
		return p.event(ctx, m, d)
	default:
		online, err := ParseStatus(m.Payload)
		if err != nil {
			return err
		}
		if p.cfg.Sink != nil {
			p.cfg.Sink.Status(ctx, devices.Status{Device: d.ID, Time: m.Received, Online: online})
		}
		return nil
	}
}

// device looks the topic's device up, registering it as kind unknown when
// auto-registration is on, and checks that it belongs to the topic's site.
func (p *Pipeline) device(site, id string) (devices.Device, error) {
	if p.cfg.Reserved != nil && p.cfg.Reserved(id) {
		return devices.Device{}, reject(ReasonReservedID, "%q is a name reserved for a data source, not a device", id)
	}
	d, ok := p.cfg.Registry.Lookup(id)
	if !ok {
		if !p.cfg.AutoRegister {
			return devices.Device{}, reject(ReasonUnknownDevice, "device %q is not registered", id)
		}
		nd := devices.Device{ID: id, Kind: devices.KindUnknown, Site: site}
		if err := p.cfg.Registry.Add(nd); err != nil {
			// Someone else may have added it meanwhile.
			if d, ok = p.cfg.Registry.Lookup(id); !ok {
				return devices.Device{}, reject(ReasonUnknownDevice, "auto-register device %q: %v", id, err)
			}
		} else {
			p.log.Info("device auto-registered", "device", id, "site", site)
			d = nd
		}
	}
	if d.Site != site {
		return devices.Device{}, reject(ReasonSiteMismatch, "device %q belongs to site %q, not %q", id, d.Site, site)
	}
	return d, nil
}

func (p *Pipeline) telemetry(ctx context.Context, m Message, d devices.Device) error {
	ts, values, err := ParseTelemetry(m.Payload, m.Received)
	if err != nil {
		return err
	}
	p.checkValues(m.Topic, d, values)
	if len(values) == 0 {
		return reject(ReasonNoMetrics, "no usable metrics left")
	}
	r := devices.Reading{
		Device: d.ID, Kind: d.Kind, Site: d.Site, Building: d.Building,
		Time: ts, Received: m.Received, Values: values,
	}
	if p.cfg.Writer != nil {
		if err := p.cfg.Writer.WriteReading(ctx, r); err != nil {
			p.writeFailed(d.ID, err)
		}
	}
	p.metrics.readings.Inc()
	if p.cfg.Sink != nil {
		p.cfg.Sink.Reading(ctx, r)
	}
	return nil
}

// checkValues drops (and counts) the metrics that are not of the device's
// kind or have the wrong type.
func (p *Pipeline) checkValues(topic string, d devices.Device, values map[string]devices.Value) {
	spec, known := devices.SpecOf(d.Kind)
	for name, v := range values {
		var bad *RejectError
		switch ms, ok := spec.Metric(name); {
		case !known && !devices.ValidID(name):
			bad = reject(ReasonUnknownMetric, "metric name %q is not a valid id", name)
		case !known:
		case !ok:
			bad = reject(ReasonUnknownMetric, "metric %q is not one of kind %s", name, d.Kind)
		case (ms.Type == devices.Flag) != v.IsFlag:
			bad = reject(ReasonBadType, "metric %q: %s is the wrong type for kind %s", name, v, d.Kind)
		}
		if bad != nil {
			delete(values, name)
			p.rejected(topic, bad)
		}
	}
}

func (p *Pipeline) event(ctx context.Context, m Message, d devices.Device) error {
	ts, name, active, err := ParseEvent(m.Payload, m.Received)
	if err != nil {
		return err
	}
	if spec, known := devices.SpecOf(d.Kind); known && !spec.HasEvent(name) {
		return reject(ReasonUnknownEvent, "event %q is not one of kind %s", name, d.Kind)
	}
	e := devices.Event{
		Device: d.ID, Kind: d.Kind, Site: d.Site, Building: d.Building,
		Time: ts, Received: m.Received, Name: name, Active: active,
	}
	if p.cfg.Writer != nil {
		if err := p.cfg.Writer.WriteEvent(ctx, e); err != nil {
			p.writeFailed(d.ID, err)
		}
	}
	if p.cfg.Sink != nil {
		p.cfg.Sink.Event(ctx, e)
	}
	return nil
}

func (p *Pipeline) rejected(topic string, err error) {
	reason := "other"
	var re *RejectError
	if errors.As(err, &re) {
		reason = re.Reason
	}
	p.metrics.rejected.WithLabelValues(reason).Inc()
	p.count(func(s *Stats) { s.Rejected[reason]++ })
	p.rlog.Warn("reject:"+reason, "device message rejected", "topic", topic, "reason", reason, "error", err)
}

func (p *Pipeline) writeFailed(device string, err error) {
	p.metrics.writeErrors.Inc()
	p.count(func(s *Stats) { s.WriteErrors++ })
	p.rlog.Warn("write", "time-series write failed", "device", device, "error", err)
}

func (p *Pipeline) count(f func(*Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
}

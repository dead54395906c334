package modbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/goburrow/serial"

	"github.com/caretaker-iot/caretaker/devices"
)

// line is one connection (a TCP address or a serial port) and the units
// polled through it. One goroutine owns it, so its requests never overlap.
type line struct {
	g     *Gateway
	addr  Address
	units []*unit
	conn  conn
	// writes are the device actions to carry out between two polls
	// (Gateway.Write): the connection stays this goroutine's alone.
	writes chan writeReq
}

// unit is one device behind a line and its poll state.
type unit struct {
	dev      devices.Device
	plan     []Request
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger

	next        time.Time
	failures    int             // failed polls in a row
	state       int             // stateUnknown, stateOnline, stateOffline
	implausible map[string]bool // metrics implausible at the last poll
}

const (
	stateUnknown = iota
	stateOnline
	stateOffline
)

// run polls the line's units, each when it is due, earliest first, until
// ctx ends.
func (l *line) run(ctx context.Context) error {
	defer func() {
		if l.conn != nil {
			_ = l.conn.close()
		}
	}()
	now := l.g.cfg.Now()
	for _, u := range l.units {
		u.next = now
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		u := l.units[0]
		for _, c := range l.units[1:] {
			if c.next.Before(u.next) {
				u = c
			}
		}
		if wait := u.next.Sub(l.g.cfg.Now()); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case w := <-l.writes:
				timer.Stop() // go 1.23+: no stale tick after Stop
				l.serveWrite(w)
				continue
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return nil
		}
		select { // a write waiting while polls are behind goes first
		case w := <-l.writes:
			l.serveWrite(w)
		default:
		}
		l.poll(ctx, u)
	}
}

// poll reads all of a unit's requests and hands on what it got.
func (l *line) poll(ctx context.Context, u *unit) {
	m := l.g.metrics
	start := l.g.cfg.Now()
	values := map[string]devices.Value{}
	implausible := map[string]float64{}
	var lastErr error
	answered := false
	for _, req := range u.plan {
		raw, err := l.read(u, req)
		if err != nil {
			lastErr = err
			reason := failureReason(err)
			m.failures.WithLabelValues(u.dev.ID, reason).Inc()
			if code, ok := isException(err); ok && code != exGatewayPathUnavailable && code != exGatewayTargetNoAnswer {
				answered = true // the unit is there; only this block failed
				continue
			}
			break // no answer: the rest would only cost the others more time
		}
		answered = true
		l.decode(u, req, raw, values, implausible)
	}
	took := l.g.cfg.Now().Sub(start)
	m.polls.WithLabelValues(u.dev.ID).Inc()
	m.latency.WithLabelValues(u.dev.ID).Observe(took.Seconds())

	if len(values) > 0 || len(implausible) > 0 {
		r := devices.Reading{Device: u.dev.ID, Kind: u.dev.Kind, Site: u.dev.Site, Building: u.dev.Building,
			Time: start.Truncate(time.Millisecond), Received: start, Values: values}
		if err := l.g.cfg.Submitter.SubmitReading(ctx, r, implausible); err != nil && ctx.Err() == nil {
			u.log.Warn("modbus reading not taken", "error", err)
		}
	}
	if answered && lastErr == nil || len(values) > 0 || len(implausible) > 0 {
		l.succeeded(ctx, u, start)
		return
	}
	if lastErr == nil {
		lastErr = errors.New("no register answered")
	}
	l.failed(ctx, u, start, lastErr)
}

// read sends one request, opening the connection when needed and dropping
// it after an error that leaves the stream in doubt (a late answer to a
// timed-out request would otherwise be taken for the next one's).
func (l *line) read(u *unit, req Request) ([]byte, error) {
	if l.conn == nil {
		c, err := l.g.cfg.dial(l.addr)
		if err != nil {
			return nil, err
		}
		l.conn = c
	}
	raw, err := l.conn.read(u.dev.Modbus.Unit, u.timeout, req)
	if err != nil {
		if _, ok := isException(err); !ok {
			l.conn.reset()
		}
		return nil, fmt.Errorf("read %d %s at %d: %w", req.Count, req.Table, req.Start, err)
	}
	return raw, nil
}

// decode splits one answer into the request's fields and sorts each value
// into plausible or not.
func (l *line) decode(u *unit, req Request, raw []byte, values map[string]devices.Value, implausible map[string]float64) {
	for _, f := range req.Fields {
		var (
			v   devices.Value
			err error
		)
		if req.Table == "coil" || req.Table == "discrete" {
			v, err = Decode(f.Register, raw, f.Offset)
		} else {
			end := 2 * (f.Offset + devices.RegisterWidth(f.Register.Type))
			if end > len(raw) { // never read past the answer into the buffer behind it
				err = fmt.Errorf("%s: registers %d-%d outside the answer's %d", f.Register.Metric, f.Offset, end/2-1, len(raw)/2)
			} else {
				v, err = Decode(f.Register, raw[2*f.Offset:end], 0)
			}
		}
		if err != nil {
			l.g.metrics.failures.WithLabelValues(u.dev.ID, "decode").Inc()
			u.log.Debug("modbus register not decoded", "metric", f.Register.Metric, "error", err)
			continue
		}
		if !v.IsFlag && !plausible(f.Register, v.Number) {
			implausible[f.Register.Metric] = v.Number
			l.g.metrics.implausible.WithLabelValues(u.dev.ID, f.Register.Metric).Inc()
			if !u.implausible[f.Register.Metric] {
				u.log.Warn("modbus value implausible; check byte order and scale", "metric", f.Register.Metric,
					"value", v.Number, "min", f.Register.Min, "max", f.Register.Max)
			}
			continue
		}
		values[f.Register.Metric] = v
	}
	u.implausible = make(map[string]bool, len(implausible))
	for k := range implausible {
		u.implausible[k] = true
	}
}

// Exceptions a TCP-to-serial gateway answers for a unit behind it that is
// not there: they mean "no answer", like a timeout.
const (
	exGatewayPathUnavailable = 0x0A
	exGatewayTargetNoAnswer  = 0x0B
)

func plausible(r devices.Register, v float64) bool {
	return (r.Min == nil || v >= *r.Min) && (r.Max == nil || v <= *r.Max)
}

// succeeded schedules the next poll and marks the unit online if it was not.
func (l *line) succeeded(ctx context.Context, u *unit, at time.Time) {
	u.failures = 0
	u.next = nextTick(u.next, u.interval, l.g.cfg.Now())
	if u.state != stateOnline {
		if u.state == stateOffline {
			u.log.Info("modbus device answers again")
		}
		u.state = stateOnline
		l.g.metrics.online.WithLabelValues(u.dev.ID).Set(1)
		l.status(ctx, u, at, true, "")
	}
}

// failed backs the unit off and marks it offline after OfflineAfter
// failures in a row.
func (l *line) failed(ctx context.Context, u *unit, at time.Time, err error) {
	u.failures++
	delay := u.interval << min(u.failures-1, 16)
	if ceiling := max(l.g.cfg.MaxBackoff, u.interval); delay > ceiling || delay <= 0 {
		delay = ceiling
	}
	u.next = l.g.cfg.Now().Add(delay)
	if u.failures == 1 {
		u.log.Warn("modbus poll failed; retrying", "error", err, "retry_in", delay)
	} else {
		u.log.Debug("modbus poll failed", "failures", u.failures, "error", err, "retry_in", delay)
	}
	if u.failures >= l.g.cfg.OfflineAfter && u.state != stateOffline {
		u.state = stateOffline
		l.g.metrics.online.WithLabelValues(u.dev.ID).Set(0)
		u.log.Warn("modbus device offline", "failures", u.failures, "error", err)
		l.status(ctx, u, at, false, err.Error())
	}
}

func (l *line) status(ctx context.Context, u *unit, at time.Time, online bool, reason string) {
	s := devices.Status{Device: u.dev.ID, Time: at, Online: online, Reason: reason}
	if err := l.g.cfg.Submitter.SubmitStatus(ctx, s); err != nil && ctx.Err() == nil {
		u.log.Warn("modbus status not taken", "error", err)
	}
}

// nextTick is the next due time on the unit's own grid, skipping ticks that
// are already past.
func nextTick(prev time.Time, interval time.Duration, now time.Time) time.Time {
	next := prev.Add(interval)
	if next.Before(now) {
		return now
	}
	return next
}

// failureReason names a failed request for the failures counter.
func failureReason(err error) string {
	if _, ok := isException(err); ok {
		return "exception"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, serial.ErrTimeout) {
		return "timeout"
	}
	return "connection"
}

package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"
)

// EventMeasurement is the InfluxDB measurement of device events.
const EventMeasurement = "device_event"

// InfluxConfig configures the InfluxDB writer and reader. With InfluxDB 1.8
// Token is "user:password" (or empty with auth off), Org is ignored and
// Bucket is "db" or "db/rp".
type InfluxConfig struct {
	URL           string
	Token         string
	Org           string
	Bucket        string        // default "caretaker"
	BatchSize     int           // default 5000
	FlushInterval time.Duration // default 1s
	Logger        *slog.Logger
	Metrics       prometheus.Registerer // may be nil
}

func (c InfluxConfig) withDefaults() InfluxConfig {
	if c.Bucket == "" {
		c.Bucket = "caretaker"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 5000
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Influx writes readings and events to InfluxDB through the non-blocking
// write API and reads history back with Flux.
type Influx struct {
	cfg    InfluxConfig
	log    *slog.Logger
	client influxdb2.Client
	write  api.WriteAPI
	errs   prometheus.Counter
	nerrs  atomic.Int64
	done   chan struct{}
	closed sync.Once
}

// NewInflux connects lazily: nothing is sent until the first flush.
func NewInflux(cfg InfluxConfig) *Influx {
	cfg = cfg.withDefaults()
	opts := influxdb2.DefaultOptions().
		SetBatchSize(uint(cfg.BatchSize)).
		SetFlushInterval(uint(cfg.FlushInterval.Milliseconds())).
		SetPrecision(time.Millisecond).
		SetLogLevel(0)
	in := &Influx{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "influx", "url", redactURL(cfg.URL), "bucket", cfg.Bucket),
		client: influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts),
		errs: register(cfg.Metrics, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caretaker_influx_write_errors_total",
			Help: "Batches InfluxDB refused or could not be reached for.",
		})),
		done: make(chan struct{}),
	}
	in.write = in.client.WriteAPI(cfg.Org, cfg.Bucket)
	errs := in.write.Errors()
	go func() {
		defer close(in.done)
		for err := range errs {
			in.errs.Inc()
			in.nerrs.Add(1)
			in.log.Error("influx write failed", "error", err)
		}
	}()
	return in
}

// WriteErrors is the number of failed writes so far.
func (in *Influx) WriteErrors() int64 { return in.nerrs.Load() }

// WriteReading queues a reading: measurement = kind, tags site, building,
// device; one field per metric (float, or bool for flags).
func (in *Influx) WriteReading(_ context.Context, r devices.Reading) error {
	if len(r.Values) == 0 {
		return nil
	}
	fields := make(map[string]any, len(r.Values))
	for name, v := range r.Values {
		if v.IsFlag {
			fields[name] = v.Flag
		} else {
			fields[name] = v.Number
		}
	}
	kind := string(r.Kind)
	if kind == "" {
		kind = string(devices.KindUnknown)
	}
	in.write.WritePoint(write.NewPoint(kind, tags(r.Site, r.Building, r.Device), fields, r.Time))
	return nil
}

// WriteEvent queues an event: measurement device_event, tags site,
// building, device, event; field active.
func (in *Influx) WriteEvent(_ context.Context, e devices.Event) error {
	t := tags(e.Site, e.Building, e.Device)
	t["event"] = e.Name
	in.write.WritePoint(write.NewPoint(EventMeasurement, t, map[string]any{"active": e.Active}, e.Time))
	return nil
}

func tags(site, building, device string) map[string]string {
	t := map[string]string{"site": site, "device": device}
	if building != "" { // InfluxDB drops empty tags anyway
		t["building"] = building
	}
	return t
}

// Flush sends everything queued and waits for it.
func (in *Influx) Flush() { in.write.Flush() }

// Close flushes and stops the writer.
func (in *Influx) Close() {
	in.closed.Do(func() {
		in.client.Close()
		<-in.done
	})
}

// Ping checks that InfluxDB answers (for /readyz).
func (in *Influx) Ping(ctx context.Context) error {
	if _, err := in.client.Ping(ctx); err != nil {
		return fmt.Errorf("influx ping %s: %w", redactURL(in.cfg.URL), err)
	}
	return nil
}

// Readings returns the stored values of one device between q.From
// (inclusive) and q.To (exclusive), ordered by time then metric. A zero To
// means now, a zero From a day before To.
func (in *Influx) Readings(ctx context.Context, q Query) ([]Point, error) {
	flux, err := in.flux(q)
	if err != nil {
		return nil, err
	}
	res, err := in.client.QueryAPI(in.cfg.Org).Query(ctx, flux)
	if err != nil {
		return nil, fmt.Errorf("influx query: %w", err)
	}
	defer res.Close()
	var out []Point
	for res.Next() {
		rec := res.Record()
		p := Point{Time: rec.Time(), Metric: rec.Field()}
		switch v := rec.Value().(type) {
		case float64:
			p.Value = v
		case int64:
			p.Value = float64(v)
		case uint64:
			p.Value = float64(v)
		case bool:
			p.Value = devices.FlagValue(v).Float()
		default:
			continue
		}
		out = append(out, p)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("influx query: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].Metric < out[j].Metric
	})
	return out, nil
}

// flux builds the query. Every value put into it is checked first, so
// nothing from a request can change its meaning.
func (in *Influx) flux(q Query) (string, error) {
	q, err := q.normalize(time.Now)
	if err != nil {
		return "", err
	}
	filters := []string{fmt.Sprintf(`r.device == %q`, q.Device)}
	if q.Kind != "" {
		filters = append(filters, fmt.Sprintf(`r._measurement == %q`, q.Kind))
	} else {
		filters = append(filters, fmt.Sprintf(`r._measurement != %q`, EventMeasurement))
	}
	if q.Metric != "" {
		filters = append(filters, fmt.Sprintf(`r._field == %q`, q.Metric))
	}
	return fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => %s)`,
		in.cfg.Bucket, q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano),
		strings.Join(filters, " and ")), nil
}

// normalize checks a query and fills in its time defaults.
func (q Query) normalize(now func() time.Time) (Query, error) {
	if !devices.ValidID(q.Device) {
		return q, errors.New("query: device: must be a valid device id")
	}
	if q.Kind != "" {
		if _, err := devices.ParseKind(string(q.Kind)); err != nil {
			return q, fmt.Errorf("query: kind: %w", err)
		}
	}
	if q.Metric != "" && !devices.ValidID(q.Metric) {
		return q, errors.New("query: metric: must be a valid metric name")
	}
	if q.To.IsZero() {
		q.To = now()
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-24 * time.Hour)
	}
	if !q.From.Before(q.To) {
		return q, errors.New("query: from: must be before to")
	}
	return q, nil
}

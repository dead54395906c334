package influx

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/spool"
	"github.com/caretaker-iot/caretaker/internal/config"
	"github.com/caretaker-iot/caretaker/internal/promreg"
	"github.com/caretaker-iot/caretaker/internal/ratelog"
)

// EventMeasurement is the InfluxDB measurement of device events.
const EventMeasurement = "device_event"

// Config configures the InfluxDB writer and reader. With InfluxDB 1.8
// Token is "user:password" (or empty with auth off), Org is ignored and
// Bucket is "db" or "db/rp".
type Config struct {
	URL           string        `yaml:"url"`
	Token         string        `yaml:"token"`
	Org           string        `yaml:"org"`
	Bucket        string        `yaml:"bucket"`         // default "caretaker"
	BatchSize     int           `yaml:"batch_size"`     // points per write; default 5000
	FlushInterval time.Duration `yaml:"flush_interval"` // longest a point waits for its batch; default 1s
	// SpoolDir holds batches InfluxDB could not take, until it can; empty
	// means no spool: such batches are lost, counted and logged.
	SpoolDir      string        `yaml:"spool_dir"`
	SpoolMaxBytes int64         `yaml:"spool_max_bytes"` // default 1 GiB
	MaxPending    int           `yaml:"-"`               // points held in memory before they spill to the spool; default 4 batches
	WriteTimeout  time.Duration `yaml:"-"`               // one write request; default 10s
	RetryMin      time.Duration `yaml:"-"`               // first pause before replaying the spool; default 1s
	RetryMax      time.Duration `yaml:"-"`               // longest pause; default 30s
	// While a message waits for its acknowledgement (AfterDurable), what
	// is pending is sent (journaled, with a spool) within DurableWait
	// (default 5ms), or at once when DurableBatch points are pending
	// (default 100), not after a full batch or FlushInterval.
	DurableWait  time.Duration `yaml:"-"`
	DurableBatch int           `yaml:"-"`
	// Writes is how many write requests may run at once; default 4.
	// Up to 4×Writes batches may wait for one.
	Writes int `yaml:"-"`
	// ReadWindow is how much of a period ReadingsFunc asks for at once
	// (a week of one-minute values of one metric is some 10 000 values,
	// 200 kB of MessagePack); default 7 days.
	ReadWindow time.Duration `yaml:"-"`

	Logger  *slog.Logger          `yaml:"-"`
	Metrics prometheus.Registerer `yaml:"-"` // may be nil
	Now     func() time.Time      `yaml:"-"`
}

// Validate checks the keys of the influx section of caretaker.yaml; the
// *config.FieldError names the key. An empty URL (the embedded store is
// used instead) is valid.
func (c Config) Validate() error {
	switch {
	case c.URL != "" && !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://"):
		return config.Errorf("url", "%q must start with http:// or https://", c.URL)
	case c.URL != "" && c.Bucket == "":
		return config.Errorf("bucket", "missing")
	case c.BatchSize <= 0:
		return config.Errorf("batch_size", "must be positive")
	case c.FlushInterval <= 0:
		return config.Errorf("flush_interval", "must be positive")
	}
	return nil
}

// WithDefaults fills the zero fields that have a default; every default of
// the package is here.
func (c Config) WithDefaults() Config {
	if c.Bucket == "" {
		c.Bucket = "caretaker"
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 5000
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.SpoolMaxBytes <= 0 {
		c.SpoolMaxBytes = 1 << 30
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 4 * c.BatchSize
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.RetryMin <= 0 {
		c.RetryMin = time.Second
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(30*time.Second, c.RetryMin)
	}
	if c.DurableWait <= 0 {
		c.DurableWait = 5 * time.Millisecond
	}
	if c.DurableBatch <= 0 {
		c.DurableBatch = 100
	}
	if c.Writes <= 0 {
		c.Writes = 4
	}
	if c.ReadWindow <= 0 {
		c.ReadWindow = 7 * 24 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Store writes readings and events to InfluxDB in batches of its own
// (gzip, several requests at once), spools what InfluxDB
// cannot take to disk and replays it in order, and reads history back with
// InfluxQL (influxql.go; Flux where /query is missing). Run sends the
// batches; see writer.go.
type Store struct {
	cfg     Config
	log     *slog.Logger
	rlog    *ratelog.Logger
	client  influxdb2.Client // Ping
	read    *fluxReader      // Flux queries, where /query is missing
	ql      *qlReader        // InfluxQL queries
	noQL    atomic.Bool      // /query answered 404: read with Flux
	post    *poster
	spool   *spool.Spool // nil: no spool
	journal *journal     // with the spool: batches durable before InfluxDB has them
	metrics *influxMetrics

	mu       sync.Mutex
	pending  []string // line protocol, oldest first
	track    durableTrack
	waiting  chan struct{} // a callback waits on pending lines: arm DurableWait
	kick     chan struct{}
	room     chan struct{} // one per batch taken and not yet written or spooled (Run)
	freed    chan struct{} // a batch was written or spooled
	sends    sync.WaitGroup
	outMu    sync.Mutex
	out      []outItem     // batches waiting for a sender, oldest first
	outReady chan struct{} // out may hold something
	stop     chan struct{} // closed by Close: Run returns
	closed   sync.Once
	runMu    sync.Mutex // held by Run while it runs
	sendMu   sync.Mutex // one sender at a time (Run, Flush, Close), so batches keep their order
	acks     ingest.Callbacks

	nerrs atomic.Int64
	lost  atomic.Int64
	sent  atomic.Int64
}

// New is Open for callers that cannot handle an error (tests,
// tools): a spool that cannot be opened is logged and the writer runs
// without it.
func New(cfg Config) *Store {
	cfg = cfg.WithDefaults()
	in, err := Open(cfg)
	if err != nil {
		cfg.Logger.Error("influx spool unavailable; running without it", "error", err)
		cfg.SpoolDir = ""
		in, _ = Open(cfg)
	}
	return in
}

// Open opens the spool (replayed by Run once InfluxDB answers, if a
// previous run left anything there) and prepares the writer; it starts
// nothing: Run sends, Close stops.
func Open(cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	opts := influxdb2.DefaultOptions().
		SetPrecision(time.Millisecond).
		SetUseGZip(true).
		SetLogLevel(0)
	log := cfg.Logger.With("component", "influx", "url", redactURL(cfg.URL), "bucket", cfg.Bucket)
	in := &Store{
		cfg:      cfg,
		log:      log,
		rlog:     ratelog.New(log, 10*time.Second, cfg.Now),
		client:   influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts),
		metrics:  newInfluxMetrics(cfg.Metrics),
		kick:     make(chan struct{}, 1),
		waiting:  make(chan struct{}, 1),
		room:     make(chan struct{}, 4*cfg.Writes),
		freed:    make(chan struct{}, 1),
		outReady: make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	if cfg.Metrics != nil {
		promreg.Register(cfg.Metrics, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "caretaker_influx_write_queue_batches",
			Help: "Batches taken for InfluxDB and not yet written or spooled (at most 4 × the writes at once).",
		}, func() float64 { return float64(len(in.room)) }))
	}
	post, err := newPoster(cfg, cfg.Writes)
	if err != nil {
		in.client.Close()
		return nil, err
	}
	in.post = post
	if in.read, err = newFluxReader(cfg); err != nil {
		in.client.Close()
		return nil, err
	}
	if in.ql, err = newQLReader(cfg); err != nil {
		in.client.Close()
		return nil, err
	}
	if cfg.SpoolDir != "" {
		sp, err := spool.Open(cfg.SpoolDir, cfg.SpoolMaxBytes)
		if err != nil {
			in.client.Close()
			return nil, fmt.Errorf("influx.spool_dir: %w", err)
		}
		in.spool = sp
		j, left, err := openJournal(filepath.Join(cfg.SpoolDir, "journal"), 8<<20)
		if err != nil {
			in.client.Close()
			return nil, fmt.Errorf("influx.spool_dir: %w", err)
		}
		if len(left) > 0 {
			log.Info("influx journal holds batches from before; spooling them", "batches", len(left))
		}
		for _, r := range left {
			if err := sp.Append(r.data, r.points); err != nil {
				in.lose(r.points, "spool_full", err)
			}
		}
		if err := j.dropLeftovers(); err != nil {
			in.client.Close()
			return nil, fmt.Errorf("influx.spool_dir: %w", err)
		}
		j.observe = in.metrics.journalSync.Observe
		in.journal = j
		in.metrics.spoolBytes.Set(float64(sp.Bytes()))
		in.metrics.spoolPoints.Set(float64(sp.Points()))
		if n := sp.Points(); n > 0 {
			log.Info("influx spool holds points from before; replaying them", "points", n, "bytes", sp.Bytes())
		}
	}
	return in, nil
}

// WriteErrors is the number of failed write requests so far.
func (in *Store) WriteErrors() int64 { return in.nerrs.Load() }

// Lost is the number of points lost so far (spool full, or refused by
// InfluxDB as malformed).
func (in *Store) Lost() int64 { return in.lost.Load() }

// Written is the number of points InfluxDB has taken so far.
func (in *Store) Written() int64 { return in.sent.Load() }

// Spooled is the number of points waiting in the spool.
func (in *Store) Spooled() int64 {
	if in.spool == nil {
		return 0
	}
	return in.spool.Points()
}

// SpoolFull tells whether readings InfluxDB cannot take now are lost:
// there is no spool, or it refused a batch for lack of room and none has
// left it since.
func (in *Store) SpoolFull() bool {
	return in.spool == nil || in.spool.Full()
}

// WriteReading queues a reading: measurement = kind, tags site, building,
// device; one field per metric (float, or bool for flags).
func (in *Store) WriteReading(_ context.Context, r devices.Reading) error {
	if len(r.Values) == 0 {
		return nil
	}
	var stack [maxStackFields]lineField
	fields := stack[:0]
	for name, v := range r.Values {
		fields = append(fields, lineField{key: name, num: v.Number, flag: v.Flag, isBool: v.IsFlag})
	}
	kind := string(r.Kind)
	if kind == "" {
		kind = string(devices.KindUnknown)
	}
	var t [4]lineTag
	in.enqueue(encodeLine(kind, tags(t[:0], r.Site, r.Building, r.Device, "", ""), fields, r.Time))
	return nil
}

// WriteEvent queues an event: measurement device_event, tags site,
// building, device, event; field active.
func (in *Store) WriteEvent(_ context.Context, e devices.Event) error {
	var t [4]lineTag
	fields := [1]lineField{{key: "active", flag: e.Active, isBool: true}}
	in.enqueue(encodeLine(EventMeasurement, tags(t[:0], e.Site, e.Building, e.Device, "event", e.Name), fields[:], e.Time))
	return nil
}

// ImplausibleMeasurement keeps register values a gateway flagged as
// outside their plausible range: tags site, building, device, kind; one
// field per metric with the raw value. They are not in the kind's
// measurement, so queries and rules never take them for readings.
const ImplausibleMeasurement = "implausible"

// WriteImplausible queues values flagged implausible (QualityWriter).
func (in *Store) WriteImplausible(_ context.Context, r devices.Reading, values map[string]float64) error {
	if len(values) == 0 {
		return nil
	}
	fields := make([]lineField, 0, len(values))
	for k, v := range values {
		fields = append(fields, lineField{key: k, num: v})
	}
	var t [4]lineTag
	in.enqueue(encodeLine(ImplausibleMeasurement, tags(t[:0], r.Site, r.Building, r.Device, "kind", string(r.Kind)), fields, r.Time))
	return nil
}

// tags appends a point's tags in key order: building (when set), device,
// the extra one (event or kind, when extraKey is set), site.
func tags(t []lineTag, site, building, device, extraKey, extraValue string) []lineTag {
	if building != "" { // InfluxDB drops empty tags anyway
		t = append(t, lineTag{"building", building})
	}
	t = append(t, lineTag{"device", device})
	if extraKey != "" {
		t = append(t, lineTag{extraKey, extraValue})
	}
	return append(t, lineTag{"site", site})
}

// Flush sends what is queued in memory now and waits for it, and for the
// writes Run has under way, to be written or spooled. The spool itself is
// replayed by Run.
func (in *Store) Flush() {
	in.sendMu.Lock() // Run starts writes only while it holds sendMu
	defer in.sendMu.Unlock()
	in.sends.Wait()
	in.sendPending()
}

// Close stops Run, writes (or spools) what is still queued (what came
// after Run returned, too: the pipeline's last messages), waits for the
// acknowledgements under way and closes the client.
func (in *Store) Close() {
	in.closed.Do(func() {
		close(in.stop)
		in.runMu.Lock()   // Run has returned (or never ran)
		in.runMu.Unlock() //nolint:staticcheck // an empty critical section: a barrier
		in.Flush()
		in.acks.Wait()
		in.client.Close()
		in.post.close()
		if in.journal != nil {
			in.journal.close()
		}
	})
}

// Ping checks that InfluxDB answers (for /readyz).
func (in *Store) Ping(ctx context.Context) error {
	if _, err := in.client.Ping(ctx); err != nil {
		return fmt.Errorf("influx ping %s: %w", redactURL(in.cfg.URL), err)
	}
	return nil
}

// flux builds the query. Every value put into it is checked first, so
// nothing from a request can change its meaning.
func (in *Store) flux(q devices.Query) (string, error) {
	q, err := q.Normalize(time.Now)
	if err != nil {
		return "", err
	}
	filters := []string{fmt.Sprintf(`r.device == %q`, q.Device)}
	if q.Kind != "" {
		filters = append(filters, fmt.Sprintf(`r._measurement == %q`, q.Kind))
	} else {
		filters = append(filters, fmt.Sprintf(`r._measurement != %q and r._measurement != %q`, EventMeasurement, ImplausibleMeasurement))
	}
	if q.Metric != "" {
		filters = append(filters, fmt.Sprintf(`r._field == %q`, q.Metric))
	}
	// Only the columns read come back: a third of the bytes to write,
	// send and parse.
	return fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => %s)
  |> keep(columns: ["_time", "_field", "_value"])`,
		in.cfg.Bucket, q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano),
		strings.Join(filters, " and ")), nil
}

// redactURL drops a password from a URL so it can be logged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}

package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/caretaker-iot/caretaker/cluster"
	"github.com/caretaker-iot/caretaker/dashboard"
	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/modbus"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/internal/fence"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// ClusterConfig lets several instances share one PostgreSQL (store.url)
// and one broker: per partition one of them leads (docs/operations.md).
type ClusterConfig struct {
	Instance   string            `yaml:"instance"` // unique name of this instance; set: clustered
	Lease      devices.Duration  `yaml:"lease"`    // default 10s, renewed every third
	Partitions []PartitionConfig `yaml:"partitions"`
}

// PartitionConfig is a set of sites with a leader (and an MQTT session)
// of its own.
type PartitionConfig struct {
	Name  string   `yaml:"name"`
	Sites []string `yaml:"sites"`
}

// defaultPartition is the one partition of a cluster that names none: every site.
const defaultPartition = "default"

func (c ClusterConfig) enabled() bool { return c.Instance != "" }

// partitions are the configured partitions, or the one of every site.
func (c ClusterConfig) partitions() []PartitionConfig {
	if len(c.Partitions) == 0 {
		return []PartitionConfig{{Name: defaultPartition}}
	}
	return c.Partitions
}

func (c ClusterConfig) lease() time.Duration {
	if c.Lease <= 0 {
		return 10 * time.Second
	}
	return c.Lease.Std()
}

func (c *Config) validateCluster() error {
	cl := c.Cluster
	if !cl.enabled() {
		if cl.Lease != 0 || len(cl.Partitions) > 0 {
			return &ConfigError{Key: "cluster.instance", Msg: "missing (every instance of a cluster needs its own name)"}
		}
		return nil
	}
	if c.Store.URL == "" {
		return &ConfigError{Key: "store.url", Msg: "missing: a cluster shares one PostgreSQL (postgres://...)"}
	}
	if c.MQTT.Embedded {
		return &ConfigError{Key: "mqtt.embedded", Msg: "a cluster needs an external broker (mqtt.broker) that every instance shares"}
	}
	if len(c.MQTT.ClusterKey) < mqtt.MinClusterKey {
		return &ConfigError{Key: "mqtt.cluster_key", Msg: fmt.Sprintf("the instances of a cluster sign the events they relay to each other: set a random key of at least %d bytes, the same on every instance", mqtt.MinClusterKey)}
	}
	if cl.Lease < 0 || (cl.Lease > 0 && cl.Lease.Std() < time.Second) {
		return &ConfigError{Key: "cluster.lease", Msg: "must be at least 1s"}
	}
	site := map[string]string{}
	for i, p := range cl.Partitions {
		key := fmt.Sprintf("cluster.partitions[%d]", i)
		if p.Name == "" {
			return &ConfigError{Key: key + ".name", Msg: "missing"}
		}
		if len(p.Sites) == 0 {
			return &ConfigError{Key: key + ".sites", Msg: "missing: a partition is a set of sites"}
		}
		for j := range i {
			if cl.Partitions[j].Name == p.Name {
				return &ConfigError{Key: key + ".name", Msg: fmt.Sprintf("%q is taken by partition %d", p.Name, j)}
			}
		}
		for _, s := range p.Sites {
			if other, ok := site[s]; ok {
				return &ConfigError{Key: key + ".sites", Msg: fmt.Sprintf("site %q is already in partition %q", s, other)}
			}
			site[s] = p.Name
		}
	}
	if len(cl.Partitions) > 0 {
		for i, d := range c.Devices {
			if _, ok := site[d.Site]; !ok {
				return &ConfigError{Key: fmt.Sprintf("devices[%d].site", i),
					Msg: fmt.Sprintf("%q is in no cluster partition: nobody would watch %s", d.Site, d.ID)}
			}
		}
	}
	return nil
}

// clientID is a partition's MQTT session: mqtt.client_id for the one
// partition of every site, client_id-name for a named one.
func partitionClientID(cfg Config, p PartitionConfig) string {
	if len(cfg.Cluster.Partitions) == 0 {
		return cfg.MQTT.ClientID
	}
	return cfg.MQTT.ClientID + "-" + p.Name
}

// clusterRun is what a clustered instance runs: an elector per
// partition, each running that partition's leader work while it holds
// the lease.
type clusterRun struct {
	cfg        Config
	db         *sql.DB
	leases     cluster.Leases
	reg        *devices.Registry
	configured []rules.Rule // the rules as configured; the store's versions win
	ruleStore  *rules.Store
	tickets    *ticketing.Service
	live       *dashboard.LiveState
	store      readingStore
	pages      *paging
	logger     *slog.Logger
	metrics    *prometheus.Registry
	engines    *liveEngines
	balance    *cluster.Balancer
	leader     *prometheus.GaugeVec
	fenced     prometheus.Counter
}

func newClusterRun(ctx context.Context, cr clusterRun) (*clusterRun, error) {
	db, err := sql.Open("pgx", cr.cfg.Store.URL)
	if err != nil {
		return nil, &ConfigError{Key: "store.url", Msg: redactURL(cr.cfg.Store.URL) + ": " + err.Error()}
	}
	db.SetMaxOpenConns(2 + len(cr.cfg.Cluster.partitions()))
	cr.db, cr.leases = db, cluster.Leases{DB: db}
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	members := cluster.Members{DB: db}
	if err := members.Migrate(mctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store.url %s: %w", redactURL(cr.cfg.Store.URL), err)
	}
	cr.balance = &cluster.Balancer{Members: members, Instance: cr.cfg.Cluster.Instance,
		Partitions: len(cr.cfg.Cluster.partitions()), Lease: cr.cfg.Cluster.lease(), Logger: cr.logger}
	if err := cr.leases.Migrate(mctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store.url %s: %w", redactURL(cr.cfg.Store.URL), err)
	}
	cr.leader = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "caretaker_cluster_leader",
		Help: "1 while this instance holds the partition's lease and runs its leader work."}, []string{"partition"})
	cr.fenced = prometheus.NewCounter(prometheus.CounterOpts{Name: "caretaker_cluster_fenced_writes_total",
		Help: "Writes refused because this instance no longer held the partition's lease (fencing token)."})
	cr.metrics.MustRegister(cr.leader, cr.fenced)
	for _, p := range cr.cfg.Cluster.partitions() {
		cr.leader.WithLabelValues(p.Name).Set(0)
	}
	return &cr, nil
}

func (c *clusterRun) Close() error { return c.db.Close() }

// Run runs one elector per partition, and the balancer that spreads
// them over the instances, until ctx ends.
func (c *clusterRun) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.balance.Run(gctx) })
	for i, p := range c.cfg.Cluster.partitions() {
		el, err := cluster.New(cluster.Config{Leases: c.leases, Partition: p.Name, Instance: c.cfg.Cluster.Instance,
			Lease: c.cfg.Cluster.lease(), Logger: c.logger, Balance: c.balance,
			Lead: func(ctx context.Context) error { return c.lead(ctx, p, i == 0) },
			OnChange: func(leading bool, _ fence.Token) {
				c.leader.WithLabelValues(p.Name).Set(map[bool]float64{true: 1}[leading])
			}})
		if err != nil {
			return &ConfigError{Key: "cluster", Msg: err.Error()}
		}
		g.Go(func() error { return el.Run(gctx) })
	}
	return g.Wait()
}

// View is the cluster for /readyz.
func (c *clusterRun) View(ctx context.Context) (dashboard.ClusterView, error) {
	ls, err := c.leases.All(ctx)
	if err != nil {
		return dashboard.ClusterView{}, err
	}
	v := dashboard.ClusterView{Instance: c.cfg.Cluster.Instance}
	for _, p := range c.cfg.Cluster.partitions() {
		pl := dashboard.PartitionLeader{Partition: p.Name}
		for _, l := range ls {
			if l.Partition == p.Name {
				pl.Leader, pl.Epoch = l.Holder, l.Epoch
			}
		}
		v.Partitions = append(v.Partitions, pl)
	}
	return v, nil
}

// lead is one term of leading partition p: its own rules engine (with the
// partition's saved rule state and active alarms), pipeline, MQTT session
// and Modbus pollers; the first partition's leader also runs the ticketing
// clocks and the pager. ctx carries the fencing token and ends at once
// when the lease is lost.
func (c *clusterRun) lead(ctx context.Context, p PartitionConfig, primary bool) error {
	log := c.logger.With("partition", p.Name)
	rs, err := rules.LoadRules(ctx, c.ruleStore, c.configured)
	if err != nil {
		return fmt.Errorf("partition %s: rules: %w", p.Name, err)
	}
	view := siteView{c.reg, p.Sites}
	eng, err := rules.NewEngine(rules.Config{Rules: rs, Sink: fencedSink{c.tickets, c.fenced}, Devices: view,
		Logger: log.With("component", "rules"), Metrics: c.metrics})
	if err != nil {
		return &ConfigError{Key: "rules", Msg: err.Error()}
	}
	state := rules.PartitionState{Store: c.ruleStore, Partition: p.Name}
	if n, err := eng.RestoreState(ctx, state); errors.Is(err, rules.ErrStateUnreadable) {
		log.Error("saved rule state not all taken back: those devices' pending for-durations and windows start afresh",
			"err", err, "episodes", n)
	} else if err != nil {
		return err
	} else if n > 0 {
		log.Info("rule state taken back", "episodes", n)
	}
	active, err := c.tickets.Alarms(ctx, ticketing.AlarmsActive)
	if err != nil {
		return fmt.Errorf("partition %s: reload active alarms: %w", p.Name, err)
	}
	var as []rules.Alarm
	for _, a := range active {
		if view.has(a.Alarm.Site) || (rules.IsParentID(a.Alarm.Device) && primary) {
			as = append(as, a.Alarm)
		}
	}
	eng.Restore(as)
	if book, err := rules.NewBook(rules.BookConfig{Store: c.ruleStore, Engine: eng}); err == nil {
		if err := book.RestoreServices(ctx); err != nil {
			return err
		}
	}
	c.engines.add(eng)
	defer c.engines.remove(eng)

	pipeline := ingest.NewPipeline(ingest.PipelineConfig{Registry: c.reg, Writer: c.store, Sink: fanout{eng, c.live},
		Logger: log, Metrics: c.metrics, AutoRegister: c.cfg.MQTT.AutoRegister, Reserved: rules.IsReservedID})
	gc := c.cfg.MQTT.GatewayConfig()
	gc.Logger, gc.ClientID, gc.Topics = log, partitionClientID(c.cfg, p), mqtt.SiteTopics(p.Sites)
	gc.OnConnection = func(up bool, reason string) {
		eng.SourceStatus(context.WithoutCancel(ctx), devices.Status{Device: rules.ParentIngest, Online: up, Time: time.Now(), Reason: reason})
	}
	gc.MayConnect = func(ctx context.Context) error { return fence.Held(ctx, c.db) }
	gateway := mqtt.NewGateway(gc, pipeline)
	mc := c.cfg.Modbus
	mc.Registry, mc.Submitter, mc.Logger, mc.Metrics, mc.Sites = c.reg, pipeline, log, c.metrics, p.Sites
	snapshots := &rules.Snapshotter{Engine: eng, Store: state, Interval: c.cfg.Rules.SnapshotInterval.Std(),
		Logger: log.With("component", "rules")}

	// On an orderly stop the pipeline drains what the gateway took; on a
	// lost lease it stops at once (what it held is not acknowledged, the
	// next leader's session gets it again).
	pipeCtx, stopPipe := context.WithCancel(context.WithoutCancel(ctx))
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- pipeline.Run(pipeCtx) }()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return eng.Run(gctx) })
	g.Go(func() error { return snapshots.Run(gctx) })
	g.Go(func() error { return c.followRules(gctx, eng, log) })
	g.Go(func() error { return gateway.Run(gctx) })
	if slices.ContainsFunc(c.reg.Devices(), func(d devices.Device) bool { return d.Modbus != nil && view.has(d.Site) }) {
		g.Go(func() error { return modbus.New(mc).Run(gctx) })
	}
	if primary {
		g.Go(func() error { return c.tickets.Run(gctx) })
		g.Go(func() error { return c.pages.worker.Run(gctx) })
	}
	err = g.Wait()
	stopPipe()
	if perr := <-pipeDone; perr != nil && err == nil {
		err = perr
	}
	// Under the term's token: refused by the store if the lease is gone.
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	if serr := snapshots.Save(saveCtx); serr != nil {
		log.Warn("rule state not saved at the end of the term", "err", serr)
	}
	cancel()
	return err
}

// ruleFollowInterval is how often a leader looks for rule versions stored
// through another instance.
const ruleFollowInterval = 2 * time.Second

// followRules applies to eng, until ctx ends, the rule versions stored
// since the term began, whichever instance stored them: a threshold
// changed through any instance takes effect within ruleFollowInterval.
// Putting a version the engine already runs keeps its state, so a change
// this instance's book applied at once is harmless to apply again.
func (c *clusterRun) followRules(ctx context.Context, eng *rules.Engine, log *slog.Logger) error {
	// Nothing is taken as seen at the start: the engine was built from
	// versions read a moment before this runs, and one stored in between
	// would otherwise be missed. The first pass puts every version once;
	// a version the engine already runs keeps its state.
	seen := map[string]string{}
	read := func() (map[string]rules.Current, error) { return c.ruleStore.Current(ctx) }
	key := func(cur rules.Current) string { b, _ := json.Marshal(cur); return string(b) }
	t := time.NewTicker(ruleFollowInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, err := read()
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("rule versions not read; changes made elsewhere wait for the next try", "err", err)
			}
			continue
		}
		for id, v := range cur {
			k := key(v)
			if seen[id] == k {
				continue
			}
			if err := eng.Put(ctx, id, v.Live, v.Shadow); err != nil {
				log.Error("stored rule version not applied", "rule", id, "err", err)
				continue
			}
			seen[id] = k
			log.Info("rule version stored elsewhere applied", "rule", id)
		}
	}
}

// siteView is the registry seen by a partition's engine: its sites only
// (all when it names none).
type siteView struct {
	reg   *devices.Registry
	sites []string
}

func (v siteView) has(site string) bool { return len(v.sites) == 0 || slices.Contains(v.sites, site) }

func (v siteView) Lookup(id string) (devices.Device, bool) {
	d, ok := v.reg.Lookup(id)
	if !ok || !v.has(d.Site) {
		return devices.Device{}, false
	}
	return d, true
}

func (v siteView) Devices() []devices.Device {
	return slices.DeleteFunc(v.reg.Devices(), func(d devices.Device) bool { return !v.has(d.Site) })
}

// fencedSink hands alarms to the tickets and counts those refused by the
// fence: the engine keeps and retries them until its term ends.
type fencedSink struct {
	s       rules.AlarmSink
	counter prometheus.Counter
}

func (f fencedSink) HandleAlarm(ctx context.Context, a rules.Alarm) error {
	err := f.s.HandleAlarm(ctx, a)
	if errors.Is(err, fence.ErrDeposed) {
		f.counter.Inc()
	}
	return err
}

// liveEngines is what the rule book changes at once: a standby engine
// (never fed, it checks a change and keeps the rules for the API) and the
// engines of the partitions this instance leads.
type liveEngines struct {
	standby *rules.Engine
	mu      sync.Mutex
	running []*rules.Engine
}

func (l *liveEngines) add(e *rules.Engine) {
	l.mu.Lock()
	l.running = append(l.running, e)
	l.mu.Unlock()
}

func (l *liveEngines) remove(e *rules.Engine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.running = slices.DeleteFunc(l.running, func(x *rules.Engine) bool { return x == e })
}

func (l *liveEngines) all() []*rules.Engine {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*rules.Engine{l.standby}, l.running...)
}

func (l *liveEngines) Put(ctx context.Context, id string, live, shadow *rules.Rule) error {
	for _, e := range l.all() {
		if err := e.Put(ctx, id, live, shadow); err != nil {
			return err
		}
	}
	return nil
}

func (l *liveEngines) RecordService(ctx context.Context, ruleID, device string, at time.Time) (float64, bool, error) {
	var base float64
	var known bool
	for _, e := range l.all() {
		b, k, err := e.RecordService(ctx, ruleID, device, at)
		if err != nil {
			return 0, false, err
		}
		if k {
			base, known = b, true
		}
	}
	return base, known, nil
}

func (l *liveEngines) RestoreService(ruleID, device string, base float64) {
	for _, e := range l.all() {
		e.RestoreService(ruleID, device, base)
	}
}

func (l *liveEngines) RestoreServiceAt(ruleID, device string, at time.Time) {
	for _, e := range l.all() {
		e.RestoreServiceAt(ruleID, device, at)
	}
}

func (l *liveEngines) PendingHandoffs() int {
	n := 0
	for _, e := range l.all() {
		n += e.PendingHandoffs()
	}
	return n
}

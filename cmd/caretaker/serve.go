package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/caretaker-iot/caretaker/dashboard"
	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest"
	"github.com/caretaker-iot/caretaker/ingest/influx"
	"github.com/caretaker-iot/caretaker/ingest/mqtt"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// started tells the caller (demo, tests) where the running parts listen.
type started struct {
	HTTPAddr string
	MQTTAddr string // the embedded broker, when there is one
	// SetTokens replaces the API tokens of the running server (SIGHUP).
	SetTokens func([]dashboard.Token) error
}

// serve wires every part together and runs until ctx ends. onStart, if set,
// is called once the HTTP server and the broker listen.
func serve(ctx context.Context, cfg Config, logger *slog.Logger, onStart func(started)) error {
	reg, err := cfg.Registry()
	if err != nil {
		return err
	}
	ruleSet, err := cfg.RuleSet()
	if err != nil {
		return err
	}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	hub := dashboard.NewHub(dashboard.HubConfig{Logger: logger, Registerer: metrics, StallTimeout: cfg.HTTP.WSStallTimeout.Std()})
	ticketCfg := ticketingConfig(cfg, reg, hub, logger.With("component", "ticketing"))
	ticketCfg.Metrics = metrics
	pages, err := newPaging(cfg, logger)
	if err != nil {
		return err
	}
	ticketCfg.Pager, ticketCfg.PagesQueued = pages.pager, pages.pagesQueued
	ticketCfg.OnDuty = pages.onDuty()
	if err := ticketCfg.Validate(); err != nil {
		return fieldConfigError("", err)
	}
	tickets, err := ticketing.Open(ctx, ticketCfg)
	if err != nil {
		return fmt.Errorf("store %s: %w", cfg.Store.storeName(), err)
	}
	defer tickets.Close()
	ruleStore, err := openRuleStore(ctx, cfg, &ruleSet)
	if err != nil {
		return err
	}
	defer ruleStore.Close()

	// The device actions the rules describe, sent through the broker
	// that is made below.
	cmdPub := &brokerPublisher{}
	act, err := newActuators(actuatorConfig{Store: tickets, Publisher: cmdPub, Registry: reg, Logger: logger, Metrics: metrics,
		ReadBack: cfg.Actions.ReadBack.Std(), Attempts: cfg.Actions.Attempts})
	if err != nil {
		return err
	}
	engine, err := rules.NewEngine(rules.Config{
		Rules: ruleSet, Sink: alarmSink{tickets: tickets, act: act}, Devices: reg, Logger: logger.With("component", "rules"), Metrics: metrics,
		HandOffLater: true, // the tickets are committed off the readings' path; acks wait for them (fanout.AfterSettled)
	})
	if err != nil {
		return &ConfigError{Key: "rules", Msg: err.Error()}
	}
	live := dashboard.NewLiveState(hub, reg, time.Now)
	if err := pages.newWorker(tickets, hub, live, logger, metrics); err != nil {
		return err
	}

	store, err := openServeStore(cfg, logger, metrics)
	if err != nil {
		return err
	}
	defer store.Close()
	engines := &liveEngines{standby: engine}
	var clusterRules rules.LiveRules
	if cfg.Cluster.enabled() {
		clusterRules = engines
	}
	ruleBook, err := newRuleBook(ctx, ruleStore, engine, tickets, store, reg, logger, clusterRules)
	if err != nil {
		return err
	}

	pipeline := ingest.NewPipeline(ingest.PipelineConfig{
		Registry:     reg,
		Writer:       store,
		Sink:         fanout{engine, live, act},
		Logger:       logger,
		Metrics:      metrics,
		AutoRegister: cfg.MQTT.AutoRegister,
		Reserved:     rules.IsReservedID,
	})

	var gateway ingress
	var broker *mqtt.Broker
	var client *mqtt.Gateway
	var clustered *clusterRun
	switch {
	case cfg.Cluster.enabled():
		// Every instance: a connection for the events of the others;
		// the device sessions belong to the partitions' leaders.
		gc := cfg.MQTT.GatewayConfig()
		gc.Logger, gc.EventsOnly = logger, true
		gc.ClientID = cfg.MQTT.ClientID + "-events-" + cfg.Cluster.Instance
		client = mqtt.NewGateway(gc, nil)
		gateway = client
		clustered, err = newClusterRun(ctx, clusterRun{cfg: cfg, reg: reg, configured: ruleSet, ruleStore: ruleStore,
			tickets: tickets, live: live, store: store, pages: pages, logger: logger, metrics: metrics, engines: engines})
		if err != nil {
			return err
		}
		defer clustered.Close()
	case cfg.MQTT.Embedded:
		bc := cfg.MQTT.BrokerConfig()
		bc.Logger, bc.Registerer, bc.Devices = logger, metrics, reg
		broker = mqtt.NewBroker(bc, pipeline)
		gateway = broker
	default:
		gc := cfg.MQTT.GatewayConfig()
		gc.Logger, gc.Metrics = logger, metrics
		gc.OnConnection = func(up bool, reason string) {
			engine.SourceStatus(context.WithoutCancel(ctx), devices.Status{Device: rules.ParentIngest, Online: up, Time: time.Now(), Reason: reason})
		}
		client = mqtt.NewGateway(gc, pipeline)
		gateway = client
	}
	cmdPub.set(broker, client)
	var clusterView func(context.Context) (dashboard.ClusterView, error)
	if clustered != nil {
		clusterView = clustered.View
	}

	codes, err := newPlaceCodes(cfg, reg, tickets, logger, metrics)
	if err != nil {
		return err
	}
	sites, err := cfg.SiteZones()
	if err != nil {
		return err
	}
	dcfg := dashboard.Config{
		Listen: cfg.HTTP.Listen, Tokens: cfg.Auth.Tokens, AllowedOrigins: cfg.HTTP.AllowedOrigins,
		Logger: logger, Registry: reg, Tickets: tickets,
		Alarms: tickets, Triage: tickets, Readings: store, Live: live, Hub: hub,
		Gatherer: metrics, NotFound: ticketing.ErrNotFound, Rules: ruleBook, PendingAlarms: engines.PendingHandoffs, Cluster: clusterView,
		Notifications: notificationsAdapter{tickets}, Acks: newAckService(pages, tickets),
		Duty: newDutyService(cfg, pages, time.Now), ReporterLinks: newReporterLinks(pages, tickets), Dispatch: tickets,
		PlaceCodes: codes, Commands: tickets, FloorPlans: tickets,
		Sites: sites,
		Ready: func(ctx context.Context) error {
			if client != nil && !client.Connected() {
				return errors.New("mqtt: not connected to " + redactURL(cfg.MQTT.Broker))
			}
			if broker != nil {
				select {
				case <-broker.Ready():
				default:
					return errors.New("mqtt: the embedded broker is not listening yet")
				}
			}
			if err := tickets.Ping(ctx); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			return readingStoreReady(ctx, store)
		},
	}
	cfg.HTTP.dashboardLimits(&dcfg)
	dcfg.Registerer = metrics
	dcfg.Hosts = servedHosts(cfg.HTTP, pages.pager.base)
	server, err := dashboard.NewServer(dcfg)
	if err != nil {
		return &ConfigError{Key: "http", Msg: err.Error()}
	}

	relay, err := newEventRelay(hub, broker, client, cfg, logger, metrics)
	if err != nil {
		return err
	}

	// The pipeline runs on its own context so that, on shutdown, it can
	// drain what the gateway already took after the gateway has stopped.
	pipeCtx, stopPipe := context.WithCancel(context.WithoutCancel(ctx))
	pipeDone := make(chan error, 1)
	go func() { pipeDone <- pipeline.Run(pipeCtx) }()

	// Polled by this instance unless clustered (then by the partitions'
	// leaders); the device actions write through its poll loops.
	modbusGateway := newModbusGateway(cfg, reg, pipeline, logger, metrics)
	act.cfg.Modbus = modbusGateway

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return hub.Run(gctx) })
	g.Go(func() error { return relay.Run(gctx) })
	snapshots := &rules.Snapshotter{Engine: engine, Store: ruleStore, Interval: cfg.Rules.SnapshotInterval.Std(),
		Logger: logger.With("component", "rules")}
	if clustered != nil {
		// The leader work runs per partition, while this instance holds
		// the partition's lease (cluster_wiring.go).
		g.Go(func() error { return clustered.Run(gctx) })
	} else {
		g.Go(func() error { return engine.Run(gctx) })
		g.Go(func() error { return snapshots.Run(gctx) })
		g.Go(func() error { return tickets.Run(gctx) }) // SLA clocks: warnings and escalations
		g.Go(func() error { return modbusGateway.Run(gctx) })
		g.Go(func() error { return pages.worker.Run(gctx) })
		// Device actions are sent by one instance (not yet per
		// partition: a cluster's engines do not describe them).
		g.Go(func() error { return act.Run(gctx) })
	}
	g.Go(func() error { return server.Run(gctx) })
	g.Go(func() error { return gateway.Run(gctx) })
	g.Go(func() error { return runLossWatch(gctx, store, live, logger) })
	g.Go(func() error { return store.Run(gctx) })
	g.Go(func() error {
		select {
		case <-gctx.Done():
			return nil
		case <-server.Ready():
		}
		select {
		case <-gctx.Done():
			return nil
		case <-gateway.Ready():
		}
		st := started{HTTPAddr: server.Addr(), SetTokens: server.SetTokens}
		if broker != nil {
			st.MQTTAddr = broker.Addr()
		}
		scheme := "http://"
		if cfg.HTTP.TLS.Cert != "" {
			scheme = "https://"
		}
		logger.Info("caretaker running", "http", scheme+st.HTTPAddr, "devices", reg.Len(), "rules", len(ruleSet),
			"mqtt", map[bool]string{true: "embedded " + st.MQTTAddr, false: redactURL(cfg.MQTT.Broker)}[broker != nil],
			"readings", map[bool]string{true: "influxdb " + redactURL(cfg.Influx.URL), false: "embedded " + cfg.Store.ReadingsPath}[cfg.Influx.URL != ""])
		if onStart != nil {
			onStart(st)
		}
		return nil
	})
	err = g.Wait()
	stopPipe()
	if perr := <-pipeDone; perr != nil && err == nil {
		err = perr
	}
	// Once the last readings went through the rules: their alarms to the
	// tickets, then the state a restart must not forget (with what the
	// ticket store refused).
	if clustered == nil { // a cluster's leaders save theirs at the end of each term
		flushCtx, cancelFlush := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		engine.FlushHandoffs(flushCtx) // what the store does not take in time is saved below, for the restart
		cancelFlush()
		saveCtx, cancelSave := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if serr := snapshots.Save(saveCtx); serr != nil {
			logger.Error("rule state not saved at shutdown", "err", serr)
		}
		cancelSave()
	}
	logger.Info("caretaker stopped")
	return err
}

// readingStoreReady is the reading store's part of /readyz. InfluxDB
// unreachable while the spool takes the readings is degraded, not down:
// Caretaker does its job, and pulling it would lose what it is holding.
// Not ready: the spool is full (or there is none) and readings are lost.
func readingStoreReady(ctx context.Context, store readingStore) error {
	in, ok := store.(influxStore)
	if !ok {
		return nil
	}
	if in.SpoolFull() && in.Spooled() > 0 {
		return errors.New("influx: spool full, readings are being lost")
	}
	if err := in.Ping(ctx); err != nil {
		if in.SpoolFull() {
			return fmt.Errorf("%w (no spool: readings are being lost)", err)
		}
		return &dashboard.Degraded{Reason: fmt.Sprintf("%v; readings go to the spool (%d waiting)", err, in.Spooled())}
	}
	return nil
}

// readingStore is the time-series side: InfluxDB or the embedded store.
// Run writes in the background (batches, spool, retention); Close writes
// what is left once the pipeline has drained.
type readingStore interface {
	ingest.Writer
	Readings(ctx context.Context, q devices.Query) ([]devices.Point, error)
	Run(ctx context.Context) error
	Close() error
}

// ingress is where device messages come in over MQTT: the embedded broker
// or the gateway to an external one.
type ingress interface {
	Run(ctx context.Context) error
	Ready() <-chan struct{}
}

func openReadingStore(cfg Config, logger *slog.Logger) (readingStore, error) {
	if cfg.Influx.URL != "" {
		ic := cfg.Influx
		ic.SpoolDir, ic.Logger = "", logger // only serve owns the spool
		in := influx.New(ic)
		return influxStore{in}, nil
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Store.ReadingsPath), 0o700); err != nil {
		return nil, fmt.Errorf("store.readings_path: %w", err)
	}
	st, err := tsdb.Open(cfg.Store.ReadingsPath, cfg.Store.ReadingsRetention.Std(), logger)
	if err != nil {
		return nil, fmt.Errorf("store.readings_path %s: %w", cfg.Store.ReadingsPath, err)
	}
	return st, nil
}

// influxStore gives the InfluxDB writer the store's Close signature.
type influxStore struct{ *influx.Store }

func (s influxStore) Close() error { s.Store.Close(); return nil }

// fanout hands each reading to several sinks in order: the rules engine
// first, so it decides on a reading before the screens get their copy
// (the alarm's ticket, and its alarm.raised, follow once committed).
type fanout []ingest.Sink

func (f fanout) Reading(ctx context.Context, r devices.Reading) {
	for _, s := range f {
		s.Reading(ctx, r)
	}
}

func (f fanout) Event(ctx context.Context, e devices.Event) {
	for _, s := range f {
		s.Event(ctx, e)
	}
}

func (f fanout) Status(ctx context.Context, st devices.Status) {
	for _, s := range f {
		s.Status(ctx, st)
	}
}

// servedHosts are the names the dashboard answers to besides localhost
// and IP addresses: http.hosts, the host of the ack links (base, from
// notify.public_url or derived from http.listen) and, when it listens on
// every address, the machine's own name.
func servedHosts(h HTTPConfig, base string) []string {
	hosts := append([]string{}, h.Hosts...)
	// Only a plain DNS name is taken (the dashboard refuses others).
	dnsName := func(s string) bool {
		return s != "" && net.ParseIP(s) == nil && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == ""
	}
	if u, err := url.Parse(base); err == nil && dnsName(u.Hostname()) {
		hosts = append(hosts, u.Hostname())
	}
	if host, _, err := net.SplitHostPort(h.Listen); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			if name, err := os.Hostname(); err == nil && dnsName(name) {
				hosts = append(hosts, name)
			}
		}
	}
	return hosts
}

package ticketing

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/internal/promreg"
)

// serviceMetrics are what an operator watches of the tickets: how long an
// alarm takes to become a ticket, how many are open, which SLA clocks are
// missed.
type serviceMetrics struct {
	create   prometheus.Histogram
	breaches *prometheus.CounterVec
}

// slaClocks are the clocks a breach is counted under.
var slaClocks = []string{clockClaim, clockDispatch, clockArrive, clockClose, clockCallback}

func newServiceMetrics(reg prometheus.Registerer, s *Service) serviceMetrics {
	m := serviceMetrics{
		create: promreg.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "caretaker_ticket_create_seconds",
			Help:    "From the rules handing a raised alarm over to its ticket opened (or the alarm joined to one) and committed.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		})),
		breaches: promreg.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caretaker_sla_breaches_total",
			Help: "SLA limits missed (the first escalation of a clock of a ticket), by clock: claim, dispatch, arrive, close, callback.",
		}, []string{"clock"})),
	}
	for _, c := range slaClocks {
		m.breaches.WithLabelValues(c)
	}
	if reg != nil {
		promreg.Register(reg, prometheus.Collector(&openTickets{s: s, desc: prometheus.NewDesc("caretaker_tickets_open",
			"Tickets not resolved, closed or cancelled, by level (1 emergency, 2 urgent, 3 routine) and status.",
			[]string{"level", "status"}, nil)}))
	}
	return m
}

// observeCreate records an alarm handed over at start and settled now.
func (m serviceMetrics) observeCreate(start time.Time) {
	m.create.Observe(time.Since(start).Seconds())
}

// breached counts a missed limit of a clock.
func (m serviceMetrics) breached(clock string) { m.breaches.WithLabelValues(clock).Inc() }

// openTickets counts the open tickets in the store at each scrape.
type openTickets struct {
	s    *Service
	desc *prometheus.Desc
}

func (o *openTickets) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

// openStatusList are the statuses of a ticket that still needs work
// (openStatuses in SQL).
var openStatusList = []Status{StatusNew, StatusDispatched, StatusAccepted, StatusOnSite}

func (o *openTickets) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts := map[[2]string]float64{}
	for l := 1; l <= 3; l++ {
		for _, st := range openStatusList {
			counts[[2]string{strconv.Itoa(l), string(st)}] = 0
		}
	}
	rows, err := o.s.db.QueryContext(ctx, `SELECT level, status, count(*) FROM tickets WHERE status IN `+openStatuses+` GROUP BY level, status`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(o.desc, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var level int
		var status string
		var n float64
		if err := rows.Scan(&level, &status, &n); err != nil {
			ch <- prometheus.NewInvalidMetric(o.desc, err)
			return
		}
		counts[[2]string{strconv.Itoa(level), status}] = n
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(o.desc, err)
		return
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(o.desc, prometheus.GaugeValue, n, k[0], k[1])
	}
}

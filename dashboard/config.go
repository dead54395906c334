package dashboard

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// Tickets is what the API needs of the ticketing service.
type Tickets interface {
	Report(ctx context.Context, by ticketing.Actor, r ticketing.Report) (ticketing.Ticket, bool, error)
	List(ctx context.Context, f ticketing.Filter) ([]ticketing.Ticket, error)
	Get(ctx context.Context, id int64) (ticketing.Ticket, error)
	OpenTickets(ctx context.Context) ([]ticketing.Ticket, error)
	Act(ctx context.Context, by ticketing.Actor, id int64, req ticketing.ActionRequest) (ticketing.ActionResult, error)
	AddReportPhoto(ctx context.Context, by ticketing.Actor, id, reportID int64, stage string, body io.Reader) (ticketing.Photo, error)
	OpenPhoto(ctx context.Context, id, photoID int64) (ticketing.Photo, io.ReadSeekCloser, error)
	Stats(ctx context.Context, q ticketing.StatsQuery) (ticketing.Stats, error)
}

// Alarms is what the API needs of the stored alarms; the ticket service
// has it. state is one of ticketing's Alarms* states.
type Alarms interface {
	Alarms(ctx context.Context, state string) ([]ticketing.StoredAlarm, error)
	FindAlarms(ctx context.Context, f ticketing.AlarmFilter) ([]ticketing.StoredAlarm, error)
	AckAlarm(ctx context.Context, by ticketing.Actor, id string) (ticketing.StoredAlarm, error)
	// Alarm is one alarm; ticketing.ErrNotFound when there is none.
	Alarm(ctx context.Context, id string) (ticketing.StoredAlarm, error)
}

// ReadingSource answers history queries from the time-series store. An
// empty metric means every metric of the device.
type ReadingSource interface {
	Readings(ctx context.Context, q devices.Query) ([]devices.Point, error)
}

// Token is one API credential: who uses it and in which role. The token
// is given in clear (Token) or as the hex SHA-256 of it (TokenSHA256), so
// that the configuration need not hold it. Sites limit what it sees to
// those sites; none: every site.
type Token struct {
	Name        string   `yaml:"name" json:"name"`
	Role        string   `yaml:"role" json:"role"`
	Token       string   `yaml:"token" json:"-"`
	TokenSHA256 string   `yaml:"token_sha256" json:"-"`
	Sites       []string `yaml:"sites" json:"sites,omitempty"`
}

// Config is everything the HTTP server needs.
type Config struct {
	Listen string // default 127.0.0.1:8080
	Tokens []Token
	// Hosts are the names the server answers to in the Host header,
	// besides localhost and IP addresses (which no DNS rebinding can
	// give); a request for any other host is refused (403).
	Hosts []string
	// TLSCert and TLSKey, both set, make the server speak HTTPS only.
	TLSCert, TLSKey string
	// Timeouts of the HTTP server (defaults: DefaultReadHeaderTimeout,
	// DefaultReadTimeout, DefaultWriteTimeout, DefaultIdleTimeout).
	// Photo uploads and downloads get their own, longer deadlines
	// (TransferTimeout); WebSockets set theirs after the upgrade.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// TransferTimeout bounds a photo upload or download; default
	// DefaultTransferTimeout.
	TransferTimeout time.Duration
	// MaxConns caps open connections (WebSockets included); one more is
	// answered 503 and closed. Default DefaultMaxConns.
	MaxConns int
	// WSPerToken and WSMax cap the WebSockets of one token and of all;
	// defaults DefaultWSPerToken and DefaultWSMax.
	WSPerToken, WSMax int
	// MaxReadingPoints caps the points of one history answer (more are
	// averaged into that many time buckets per metric); MaxReadingRange
	// caps its time range. Defaults DefaultMaxReadingPoints and
	// DefaultMaxReadingRange.
	MaxReadingPoints int
	MaxReadingRange  time.Duration
	// AuthFailBurst wrong tokens from one client address are answered
	// 401, then one every AuthFailEvery; more are answered 429. Defaults
	// DefaultAuthFailBurst and DefaultAuthFailEvery.
	AuthFailBurst int
	AuthFailEvery time.Duration
	// AllowedOrigins are extra browser origins (scheme://host[:port]) that
	// may open /ws; the origin of the host serving the page always may.
	AllowedOrigins []string
	Logger         *slog.Logger
	Registry       *devices.Registry
	Tickets        Tickets
	Alarms         Alarms
	Readings       ReadingSource // nil: no history endpoint (503)
	// Live is the live device state; nil means online status is unknown.
	Live *LiveState
	// Ready reports readiness for /readyz; nil means always ready.
	Ready func(ctx context.Context) error
	// Cluster, if set, tells /readyz (and so the control room) which
	// instance answers and which leads each partition.
	Cluster func(ctx context.Context) (ClusterView, error)
	// PendingAlarms, if set, counts the alarm changes the ticket store
	// has not taken yet (the rules engine retries them); /readyz shows it
	// and the control room warns while it is not zero.
	PendingAlarms func() int
	Gatherer      prometheus.Gatherer // nil: an empty registry
	Hub           *Hub
	Now           func() time.Time
	// NotFound is the error (matched with errors.Is) the services return
	// for an unknown ticket or alarm; it becomes a 404.
	NotFound error
	// Rules are the alarm rules engineers tune; nil: /api/rules answers 503.
	Rules RuleBook
	// Notifications lists the pages of a ticket; nil: none.
	Notifications Notifications
	// Acks serves the ack links of pages; nil: every link is refused.
	Acks Acks
	// ReporterLinks serves the links of the reporter's "work done"
	// message; nil: every such link is refused.
	ReporterLinks ReporterLinks
	// Duty says who is on duty now (GET /api/duty); nil: 503.
	Duty Duty
	// PlaceCodes serves the QR codes of devices and places; nil: off.
	PlaceCodes PlaceCodes
	// Commands confirms device actions; nil: 503.
	Commands DeviceCommands
	// Registerer takes the server's counters of refusals; nil: none.
	Registerer prometheus.Registerer
	// Sites are the estates and their time zones (GET /api/sites); a
	// stats period given as local dates is read in the site's zone. nil:
	// the machine's local zone, no sites listed.
	Sites *devices.Sites
	// Dispatch lists who may be assigned a ticket, ranked, for the
	// operator's pick (GET /api/tickets/{id}/technicians); nil: 503.
	Dispatch Candidates
	// FloorPlans keeps the floor plans and where devices sit on them
	// (GET /api/floors shows the floors without them); nil: uploading
	// and placing answer 503.
	FloorPlans FloorPlans
	// Triage is the triage queue of alarms below level 1; nil: its
	// routes answer 503.
	Triage Triage
}

// Candidates ranks the technicians for a ticket; *ticketing.Service is one.
type Candidates interface {
	Candidates(ctx context.Context, id int64) (ticketing.Choices, error)
}

// Role names (contract.md); ticketing.Roles lists them.
const (
	RolePatrol     = ticketing.RolePatrol
	RoleTechnician = ticketing.RoleTechnician
	RoleOperator   = ticketing.RoleOperator
	RoleEngineer   = ticketing.RoleEngineer
	RoleManager    = ticketing.RoleManager
	RoleAdmin      = ticketing.RoleAdmin
)

// Defaults of the connection limits.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultTransferTimeout   = 10 * time.Minute
	DefaultMaxConns          = 2000
	DefaultWSPerToken        = 300
	DefaultWSMax             = 1500
	DefaultMaxReadingPoints  = 5000
	DefaultMaxReadingRange   = 31 * 24 * time.Hour
	DefaultAuthFailBurst     = 10
	DefaultAuthFailEvery     = 6 * time.Second
)

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.ReadHeaderTimeout, DefaultReadHeaderTimeout}, {&c.ReadTimeout, DefaultReadTimeout},
		{&c.WriteTimeout, DefaultWriteTimeout}, {&c.IdleTimeout, DefaultIdleTimeout},
		{&c.TransferTimeout, DefaultTransferTimeout}, {&c.MaxReadingRange, DefaultMaxReadingRange},
		{&c.AuthFailEvery, DefaultAuthFailEvery},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	for _, d := range []struct {
		v   *int
		def int
	}{
		{&c.MaxConns, DefaultMaxConns}, {&c.WSPerToken, DefaultWSPerToken},
		{&c.WSMax, DefaultWSMax}, {&c.MaxReadingPoints, DefaultMaxReadingPoints},
		{&c.AuthFailBurst, DefaultAuthFailBurst},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Gatherer == nil {
		c.Gatherer = prometheus.NewRegistry()
	}
	if c.Ready == nil {
		c.Ready = func(context.Context) error { return nil }
	}
}

// Validate checks the configuration; the error names the field at fault.
// It never prints a token.
func (c Config) Validate() error {
	switch {
	case c.Registry == nil:
		return fmt.Errorf("registry: missing")
	case c.Tickets == nil:
		return fmt.Errorf("tickets: missing")
	case c.Alarms == nil:
		return fmt.Errorf("alarms: missing")
	case c.Hub == nil:
		return fmt.Errorf("hub: missing")
	}
	if err := checkTokens(c.Tokens, 8); err != nil {
		return err
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("tls: give both cert and key")
	}
	for i, h := range c.Hosts {
		if !validHostName(h) {
			return fmt.Errorf("hosts[%d]: %s is not a host name such as ops.example.com", i, quoteShort(h))
		}
	}
	for i, o := range c.AllowedOrigins {
		if _, err := normalizeOrigin(o); err != nil {
			return fmt.Errorf("allowed_origins[%d]: %w", i, err)
		}
	}
	return nil
}

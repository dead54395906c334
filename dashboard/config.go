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
	AckAlarm(ctx context.Context, by ticketing.Actor, id string) (ticketing.StoredAlarm, error)
}

// ReadingSource answers history queries from the time-series store. An
// empty metric means every metric of the device.
type ReadingSource interface {
	Readings(ctx context.Context, q devices.Query) ([]devices.Point, error)
}

// Token is one API credential: who uses it and in which role.
type Token struct {
	Name  string `yaml:"name" json:"name"`
	Role  string `yaml:"role" json:"role"`
	Token string `yaml:"token" json:"-"`
}

// Config is everything the HTTP server needs.
type Config struct {
	Listen string // default 127.0.0.1:8080
	Tokens []Token
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
}

// Role names (contract.md); ticketing.Roles lists them.
const (
	RolePatrol     = ticketing.RolePatrol
	RoleTechnician = ticketing.RoleTechnician
	RoleOperator   = ticketing.RoleOperator
	RoleEngineer   = ticketing.RoleEngineer
	RoleAdmin      = ticketing.RoleAdmin
)

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
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
	for i, o := range c.AllowedOrigins {
		if _, err := normalizeOrigin(o); err != nil {
			return fmt.Errorf("allowed_origins[%d]: %w", i, err)
		}
	}
	return nil
}

package ticketing

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caretaker-iot/caretaker/internal/config"
	"github.com/caretaker-iot/caretaker/internal/sqldb"
)

// Notifier hears about changes; the dashboard hub implements it. It is
// called after the change is committed, from the caller's goroutine, so
// it must not block.
type Notifier interface {
	Notify(Event)
}

// Event is a change told to the Notifier. Types (contract.md, WebSocket):
// "alarm.raised", "alarm.updated", "alarm.acked", "alarm.cleared" with a
// StoredAlarm, "ticket.created" and "ticket.updated" with a Ticket (never
// its verification code or history). Site and Device say where it
// happened, so that a screen that follows some sites gets only theirs
// without reading Data.
type Event struct {
	Type   string
	Site   string
	Device string
	Data   any
}

func alarmEvent(typ string, a StoredAlarm) Event {
	return Event{Type: typ, Site: a.Site, Device: a.Device, Data: a}
}

func ticketEvent(typ string, t Ticket) Event {
	return Event{Type: typ, Site: t.Site, Device: t.DeviceID, Data: t}
}

// Event types sent to the Notifier.
const (
	EventAlarmRaised   = "alarm.raised"
	EventAlarmUpdated  = "alarm.updated"
	EventAlarmAcked    = "alarm.acked"
	EventAlarmCleared  = "alarm.cleared"
	EventTicketCreated = "ticket.created"
	EventTicketUpdated = "ticket.updated"
	// EventTicketEscalated carries a ClockEvent: a limit was missed and the
	// ticket goes to the next person up the chain.
	EventTicketEscalated = "ticket.escalated"
	// EventTicketWarning carries a ClockEvent: a limit is near, or an L1
	// ticket has had no progress note for SLA.ProgressEvery.
	EventTicketWarning = "ticket.warning"
	// EventTicketRecurred carries a Ticket (with its Recurrence): an alarm
	// of its incident came back while it was open, after an earlier one
	// was acknowledged or had cleared.
	EventTicketRecurred = "ticket.recurred"
)

// Config of the ticket service. Zero fields take the defaults of
// WithDefaults. Its YAML keys are the tickets section of caretaker.yaml;
// the store paths, the SLA and the technicians come from their own
// sections (cmd/caretaker fills them in).
type Config struct {
	Path     string           `yaml:"-"` // SQLite file, e.g. data/caretaker.db; its folder is created
	URL      string           `yaml:"-"` // PostgreSQL instead, postgres://...; Path then only places PhotosDir
	Notifier Notifier         `yaml:"-"` // may be nil
	Logger   *slog.Logger     `yaml:"-"`
	Now      func() time.Time `yaml:"-"`
	// NumberPrefix starts ticket numbers: BX20261123-0042 is the 42nd
	// ticket opened on 23 Nov 2026 (local date). Default "BX".
	NumberPrefix string `yaml:"-"`
	// Location gives the local date of ticket numbers, and the zone of
	// sites SiteLocation does not know. Default time.Local.
	Location *time.Location `yaml:"-"`
	// SiteLocation is the time zone of a site: times in history notes
	// read in the ticket's site's zone. nil: Location for every site.
	SiteLocation func(site string) *time.Location `yaml:"-"`
	// ReopenWindow: an alarm of the same rule and device raised again within
	// this time after its ticket was resolved or closed reopens that ticket
	// instead of opening a new one. Default 30m.
	ReopenWindow time.Duration `yaml:"reopen_window"`
	// Metrics, if set, gets caretaker_ticket_create_seconds,
	// caretaker_tickets_open and caretaker_sla_breaches_total.
	Metrics prometheus.Registerer `yaml:"-"`
	// BusyTimeout is how long a writer waits for the database lock.
	// Default 5s.
	BusyTimeout time.Duration `yaml:"-"`

	// Technicians are who dispatch may choose; empty: every ticket waits
	// in the grab-order pool (any technician may claim it).
	Technicians []Technician `yaml:"-"`
	// Assignable are more people an operator may assign by hand (the
	// rosters' people, the technicians' logins), never auto-dispatched.
	// When Technicians or Assignable name anyone, assigning a name that
	// is in neither is refused.
	Assignable []Technician `yaml:"-"`
	// Dispatch is DispatchAuto (default: new tickets go to the best
	// matching on-duty technician, or to the pool when none matches) or
	// DispatchPool (every ticket waits for a claim).
	Dispatch string `yaml:"dispatch"`
	// Skills maps a ticket category to the skills that can do it; a
	// category not listed can be done by anyone. Default DefaultSkills.
	Skills map[string][]string `yaml:"-"`
	// Zones gives the zone of a ticket's place (device first, then site and
	// building); nil: no zones, dispatch by skill and load only. See
	// ZonesFrom.
	Zones func(site, building, device string) string `yaml:"-"`
	// OnDuty, when set, says who is on duty at a moment for a ticket of
	// the zone (empty: any zone) and category, by rosters: dispatch and
	// claims use it instead of Technician.OnDuty, and "in zone" means
	// rostered for the ticket's zone. Nil: Technician.OnDuty and Zones.
	OnDuty func(at time.Time, zone, category string) []string `yaml:"-"`
	// SLA holds the time limits; zero fields take DefaultSLA's.
	SLA SLA `yaml:"-"`
	// MaxCodeAttempts wrong verification codes lock arrival on a ticket
	// until an operator issues a new code. Default 5.
	MaxCodeAttempts int `yaml:"max_code_attempts"`
	// PhotosDir holds uploaded photos. Default: "photos" beside Path.
	PhotosDir string `yaml:"-"`
	// MaxPhotoBytes caps one photo. Default 10 MiB.
	MaxPhotoBytes int64 `yaml:"max_photo_bytes"`
	// ClockInterval is how often Run looks at the clocks. Default 5s.
	ClockInterval time.Duration `yaml:"-"`
	// RepeatWindow: a report of the same place and category within this
	// time after an earlier one is a repeat (KPI). Default 30 days.
	RepeatWindow time.Duration `yaml:"repeat_window"`
	// Pager decides who is paged about a ticket (paging.go); nil: nobody
	// is paged.
	Pager Pager `yaml:"-"`
	// Triage is the triage queue of alarms below level 1 (the triage
	// section of caretaker.yaml); zero fields take its defaults.
	Triage Triage `yaml:"-"`
	// PagesQueued, when set, hears that a transaction which stored pages
	// has committed (it wakes the sender); it must not block.
	PagesQueued func() `yaml:"-"`
	// Checklists are the checks of a kind of job that must be ticked
	// before a ticket is resolved (checklist.go); nil: DefaultChecklists,
	// empty: none.
	Checklists []Checklist `yaml:"checklists"`
}

// Dispatch modes.
const (
	DispatchAuto = "auto"
	DispatchPool = "pool"
)

// Technician is who may be dispatched: a technician token's name with
// skills (plumbing, electrical, elevator, gas, civil...), zones and
// whether they are on duty.
type Technician struct {
	Name   string   `json:"name" yaml:"name"`
	Skills []string `json:"skills" yaml:"skills"`
	Zones  []string `json:"zones" yaml:"zones"`
	OnDuty bool     `json:"on_duty" yaml:"on_duty"`
}

// DefaultSkills says who can work on what: the categories of domain.md.
func DefaultSkills() map[string][]string {
	return map[string][]string{
		"water_electric": {"plumbing", "electrical"},
		"gas":            {"gas"},
		"equipment":      {"elevator", "equipment"},
		"civil":          {"civil"},
		"public_area":    {"civil", "cleaning"},
		"fire":           {"fire"},
	}
}

// Defaults.
const (
	DefaultNumberPrefix = "BX"
	DefaultReopenWindow = 30 * time.Minute
	DefaultBusyTimeout  = 5 * time.Second

	DefaultMaxCodeAttempts = 5
	DefaultMaxPhotoBytes   = 10 << 20
	DefaultClockInterval   = 5 * time.Second
	DefaultRepeatWindow    = 30 * 24 * time.Hour
)

// WithDefaults fills the zero fields that have a default; every default of
// the package is here.
func (c Config) WithDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NumberPrefix == "" {
		c.NumberPrefix = DefaultNumberPrefix
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	if c.ReopenWindow == 0 {
		c.ReopenWindow = DefaultReopenWindow
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	if c.Notifier == nil {
		c.Notifier = nopNotifier{}
	}
	if c.Dispatch == "" {
		c.Dispatch = DispatchAuto
	}
	if c.Skills == nil {
		c.Skills = DefaultSkills()
	}
	c.SLA = c.SLA.withDefaults()
	c.Triage = c.Triage.WithDefaults()
	if c.MaxCodeAttempts == 0 {
		c.MaxCodeAttempts = DefaultMaxCodeAttempts
	}
	if c.PhotosDir == "" {
		c.PhotosDir = filepath.Join(filepath.Dir(c.Path), "photos")
	}
	if c.MaxPhotoBytes == 0 {
		c.MaxPhotoBytes = DefaultMaxPhotoBytes
	}
	if c.ClockInterval == 0 {
		c.ClockInterval = DefaultClockInterval
	}
	if c.RepeatWindow == 0 {
		c.RepeatWindow = DefaultRepeatWindow
	}
	if c.Checklists == nil {
		c.Checklists = DefaultChecklists()
	}
	return c
}

// Validate checks the configuration once the defaults are in (Open fills
// them first); the *config.FieldError names the key of caretaker.yaml,
// from the sections this configuration is built of: store.path,
// tickets.*, sla.*, technicians[i].
func (c Config) Validate() error {
	if c.URL != "" {
		if _, err := sqldb.CheckURL(c.URL); err != nil {
			return config.Errorf("store.url", "%s", err)
		}
	}
	switch {
	case c.Path == "" && c.URL == "":
		return config.Errorf("store.path", "required")
	case strings.ContainsAny(c.Path, "?#"):
		return config.Errorf("store.path", "must not contain ? or #")
	case c.BusyTimeout < 0:
		return config.Errorf("busy_timeout", "must not be negative")
	case c.ClockInterval < 0:
		return config.Errorf("clock_interval", "must not be negative")
	case c.Dispatch != DispatchAuto && c.Dispatch != DispatchPool:
		return config.Errorf("tickets.dispatch", "%q is not auto or pool", c.Dispatch)
	case c.ReopenWindow <= 0:
		return config.Errorf("tickets.reopen_window", "%s must be a positive duration", c.ReopenWindow)
	case c.MaxCodeAttempts < 1 || c.MaxCodeAttempts > 100:
		return config.Errorf("tickets.max_code_attempts", "%d must be from 1 to 100", c.MaxCodeAttempts)
	case c.MaxPhotoBytes < 1024 || c.MaxPhotoBytes > MaxPhotoBytesLimit:
		return config.Errorf("tickets.max_photo_bytes", "%d must be from 1024 to %d (60 MiB)", c.MaxPhotoBytes, MaxPhotoBytesLimit)
	case c.RepeatWindow <= 0:
		return config.Errorf("tickets.repeat_window", "%s must be a positive duration", c.RepeatWindow)
	}
	seen := map[string]bool{}
	for i, t := range c.Technicians {
		key := fmt.Sprintf("technicians[%d].name", i)
		switch {
		case strings.TrimSpace(t.Name) == "":
			return config.Errorf(key, "required")
		case seen[t.Name]:
			return config.Errorf(key, "%q is listed twice", t.Name)
		}
		seen[t.Name] = true
	}
	if err := validateChecklists(c.Checklists); err != nil {
		return err
	}
	if c.Triage.Timeout <= 0 {
		return config.Errorf("triage.timeout", "%s must be a positive duration", c.Triage.Timeout)
	}
	return config.Under("sla", c.SLA.Validate())
}

// MaxPhotoBytesLimit is the largest MaxPhotoBytes: the API takes upload
// bodies of up to 64 MiB.
const MaxPhotoBytesLimit = 60 << 20

type nopNotifier struct{}

func (nopNotifier) Notify(Event) {}

// ErrNotFound is returned for a ticket or alarm that does not exist.
var ErrNotFound = errors.New("not found")

// FieldError is bad input, naming the field at fault.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"error"`
	// Code and Params: the error for a program (a page says it in its
	// user's language); "" when the message is all there is.
	Code   string         `json:"code,omitempty"`
	Params map[string]any `json:"params,omitempty"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ErrorCode is the stable code and its parameters (the field among them).
func (e *FieldError) ErrorCode() (string, map[string]any) {
	if e.Code == "" {
		return "", nil
	}
	p := map[string]any{"field": e.Field}
	for k, v := range e.Params {
		p[k] = v
	}
	return e.Code, p
}

// FieldName names the request field at fault, for API error answers.
func (e *FieldError) FieldName() string { return e.Field }

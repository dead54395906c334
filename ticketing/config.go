package ticketing

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// Notifier hears about changes; the dashboard hub implements it. Event
// types (contract.md, WebSocket): "alarm.raised", "alarm.updated",
// "alarm.acked", "alarm.cleared" with a StoredAlarm, "ticket.created" and
// "ticket.updated" with a Ticket (never its verification code or history).
// It is called after the change is committed, from the caller's goroutine,
// so it must not block.
type Notifier interface {
	Notify(eventType string, data any)
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
// withDefaults.
type Config struct {
	Path     string   // SQLite file, e.g. data/caretaker.db; its folder is created
	Notifier Notifier // may be nil
	Logger   *slog.Logger
	Now      func() time.Time
	// NumberPrefix starts ticket numbers: BX20261123-0042 is the 42nd
	// ticket opened on 23 Nov 2026 (local date). Default "BX".
	NumberPrefix string
	// Location gives the local date of ticket numbers. Default time.Local.
	Location *time.Location
	// ReopenWindow: an alarm of the same rule and device raised again within
	// this time after its ticket was resolved or closed reopens that ticket
	// instead of opening a new one. Default 30m.
	ReopenWindow time.Duration
	// BusyTimeout is how long a writer waits for the database lock.
	// Default 5s.
	BusyTimeout time.Duration

	// Technicians are who dispatch may choose; empty: every ticket waits
	// in the grab-order pool (any technician may claim it).
	Technicians []Technician
	// Dispatch is DispatchAuto (default: new tickets go to the best
	// matching on-duty technician, or to the pool when none matches) or
	// DispatchPool (every ticket waits for a claim).
	Dispatch string
	// Skills maps a ticket category to the skills that can do it; a
	// category not listed can be done by anyone. Default DefaultSkills.
	Skills map[string][]string
	// Zones gives the zone of a ticket's place (device first, then site and
	// building); nil: no zones, dispatch by skill and load only. See
	// ZonesFrom.
	Zones func(site, building, device string) string
	// OnDuty, when set, says who is on duty at a moment for a ticket of
	// the zone (empty: any zone) and category, by rosters: dispatch and
	// claims use it instead of Technician.OnDuty, and "in zone" means
	// rostered for the ticket's zone. Nil: Technician.OnDuty and Zones.
	OnDuty func(at time.Time, zone, category string) []string
	// SLA holds the time limits; zero fields take DefaultSLA's.
	SLA SLA
	// MaxCodeAttempts wrong verification codes lock arrival on a ticket
	// until an operator issues a new code. Default 5.
	MaxCodeAttempts int
	// PhotosDir holds uploaded photos. Default: "photos" beside Path.
	PhotosDir string
	// MaxPhotoBytes caps one photo. Default 10 MiB.
	MaxPhotoBytes int64
	// ClockInterval is how often Run looks at the clocks. Default 5s.
	ClockInterval time.Duration
	// RepeatWindow: a report of the same place and category within this
	// time after an earlier one is a repeat (KPI). Default 30 days.
	RepeatWindow time.Duration
	// Pager decides who is paged about a ticket (paging.go); nil: nobody
	// is paged.
	Pager Pager
	// PagesQueued, when set, hears that a transaction which stored pages
	// has committed (it wakes the sender); it must not block.
	PagesQueued func()
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
	Name   string   `json:"name"`
	Skills []string `json:"skills"`
	Zones  []string `json:"zones"`
	OnDuty bool     `json:"on_duty"`
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

func (c Config) withDefaults() Config {
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
	return c
}

// Validate checks the configuration; the message names the field.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return &FieldError{Field: "store.path", Message: "required"}
	case c.ReopenWindow < 0:
		return &FieldError{Field: "tickets.reopen_window", Message: "must not be negative"}
	case c.BusyTimeout < 0:
		return &FieldError{Field: "busy_timeout", Message: "must not be negative"}
	case c.Dispatch != "" && c.Dispatch != DispatchAuto && c.Dispatch != DispatchPool:
		return &FieldError{Field: "tickets.dispatch", Message: fmt.Sprintf("%q is not auto or pool", c.Dispatch)}
	case c.MaxCodeAttempts < 0:
		return &FieldError{Field: "tickets.max_code_attempts", Message: "must not be negative"}
	case c.MaxPhotoBytes < 0:
		return &FieldError{Field: "tickets.max_photo_bytes", Message: "must not be negative"}
	case c.ClockInterval < 0:
		return &FieldError{Field: "clock_interval", Message: "must not be negative"}
	case c.RepeatWindow < 0:
		return &FieldError{Field: "tickets.repeat_window", Message: "must not be negative"}
	}
	seen := map[string]bool{}
	for i, t := range c.Technicians {
		switch {
		case strings.TrimSpace(t.Name) == "":
			return &FieldError{Field: fmt.Sprintf("technicians[%d].name", i), Message: "required"}
		case seen[t.Name]:
			return &FieldError{Field: fmt.Sprintf("technicians[%d].name", i), Message: fmt.Sprintf("%q is listed twice", t.Name)}
		}
		seen[t.Name] = true
	}
	return c.SLA.Validate()
}

type nopNotifier struct{}

func (nopNotifier) Notify(string, any) {}

// ErrNotFound is returned for a ticket or alarm that does not exist.
var ErrNotFound = errors.New("not found")

// FieldError is bad input, naming the field at fault.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"error"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// FieldName names the request field at fault, for API error answers.
func (e *FieldError) FieldName() string { return e.Field }

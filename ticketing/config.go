package ticketing

import (
	"errors"
	"log/slog"
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
}

// Defaults.
const (
	DefaultNumberPrefix = "BX"
	DefaultReopenWindow = 30 * time.Minute
	DefaultBusyTimeout  = 5 * time.Second
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
	return c
}

// Validate checks the configuration; the message names the field.
func (c Config) Validate() error {
	switch {
	case c.Path == "":
		return &FieldError{Field: "store.path", Message: "required"}
	case c.ReopenWindow < 0:
		return &FieldError{Field: "reopen_window", Message: "must not be negative"}
	case c.BusyTimeout < 0:
		return &FieldError{Field: "busy_timeout", Message: "must not be negative"}
	}
	return nil
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

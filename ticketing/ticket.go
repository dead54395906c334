package ticketing

import (
	"time"
)

// Status of a ticket (contract.md).
type Status string

// Ticket statuses, in the order of the repair flow.
const (
	StatusNew        Status = "new"
	StatusDispatched Status = "dispatched"
	StatusAccepted   Status = "accepted"
	StatusOnSite     Status = "on_site"
	StatusResolved   Status = "resolved"
	StatusClosed     Status = "closed"
	StatusCancelled  Status = "cancelled"
)

// Open tells whether work on the ticket is still going on.
func (s Status) Open() bool {
	return s != StatusResolved && s != StatusClosed && s != StatusCancelled
}

// Source is the channel a ticket came through.
type Source string

// Ticket sources.
const (
	SourceSensor     Source = "sensor"
	SourcePatrol     Source = "patrol"
	SourceResident   Source = "resident"
	SourcePhone      Source = "phone"
	SourceFrontDesk  Source = "front_desk"
	SourceThirdParty Source = "third_party"
)

// Scope says whether the work is in a public area or inside a home.
type Scope string

// Scopes.
const (
	ScopePublic Scope = "public"
	ScopeInHome Scope = "in_home"
)

// Reporter is who reported a fault and how to reach them.
type Reporter struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
}

// Ticket is one work order.
type Ticket struct {
	ID          int64     `json:"id"`
	Number      string    `json:"number"` // human-readable, e.g. BX20261123-0042
	Source      Source    `json:"source"`
	Status      Status    `json:"status"`
	Level       int       `json:"level"`
	Category    string    `json:"category"`
	Site        string    `json:"site"`
	Building    string    `json:"building"`
	Location    string    `json:"location"`
	Scope       Scope     `json:"scope"`
	Unit        string    `json:"unit,omitempty"`
	Floor       string    `json:"floor,omitempty"`
	Room        string    `json:"room,omitempty"`
	DeviceID    string    `json:"device_id,omitempty"`
	AlarmID     string    `json:"alarm_id,omitempty"`
	Description string    `json:"description"`
	Reporter    Reporter  `json:"reporter"`
	CreatedBy   string    `json:"created_by"`
	Assignee    string    `json:"assignee,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// VerificationCode is shown once, in the answer to the report that
	// created an in-home ticket; it is never listed afterwards.
	VerificationCode string `json:"verification_code,omitempty"`
	// Zone is where the place is, for dispatch (ZonesFrom).
	Zone string `json:"zone,omitempty"`
	// FirstReportedAt is when the fault was first reported; the clocks of
	// the level run from here.
	FirstReportedAt time.Time `json:"first_reported_at"`
	// CodeFailures counts wrong verification codes presented on arrival.
	CodeFailures int `json:"code_failures,omitempty"`
	// ETA is when the technician, who cannot arrive within the time
	// limit, says they will be on site (action eta).
	ETA *time.Time `json:"eta,omitempty"`
	// CarriedAt and CarryReason: the work cannot be finished today
	// (action carry_over); it is on the morning shift's list.
	CarriedAt   *time.Time `json:"carried_at,omitempty"`
	CarryReason string     `json:"carry_reason,omitempty"`
	// Completion, as the technician records it.
	Resolution  string `json:"resolution,omitempty"`
	ActualFault string `json:"actual_fault,omitempty"`
	Parts       []Part `json:"parts,omitempty"`
	Paid        bool   `json:"paid,omitempty"`
	FeeCents    int64  `json:"fee_cents,omitempty"`
	// Acceptance is the owner's verdict on the work, its parts and its
	// fee (confirm, dispute); nil until given, cleared by a new resolve.
	Acceptance *Acceptance `json:"acceptance,omitempty"`
	// Callback: score 1-5 and whether the owner says it is fixed.
	Score *int  `json:"score,omitempty"`
	Fixed *bool `json:"fixed,omitempty"`
	// Outcome of a done ticket: confirmed, disputed, rework or cancelled.
	Outcome string `json:"outcome,omitempty"`
	// ReworkOf and ReinspectionOf link a follow-up ticket to the original.
	ReworkOf       int64 `json:"rework_of,omitempty"`
	ReinspectionOf int64 `json:"reinspection_of,omitempty"`
	// Recurrence counts the alarms of the incident that came back while
	// the ticket was open; nil when none did.
	Recurrence *Recurrence `json:"recurrence,omitempty"`
	// Override is set when the ticket was resolved while its alarm was
	// still active: who decided it, when and why.
	Override *Override `json:"override,omitempty"`
	// Escalated is the latest step up the chain of a clock that was
	// missed and is still not met (open tickets: Get, OpenTickets).
	Escalated *Escalation `json:"escalated,omitempty"`
	// ReportID is, in the answer to a report only, the entry of that
	// report in Reporters (photos sent with it name it).
	ReportID int64 `json:"report_id,omitempty"`
	// Get fills these; lists and events leave them out.
	Deadlines []Deadline     `json:"deadlines,omitempty"`
	Photos    []Photo        `json:"photos,omitempty"`
	History   []HistoryEntry `json:"history,omitempty"`
	// Checklist is the ticket's checklist and its checks (Get only); nil
	// when the ticket has none.
	Checklist *TicketChecklist `json:"checklist,omitempty"`
	// Commands are the device actions of the ticket's alarms.
	Commands []DeviceCommand `json:"commands,omitempty"`
	// Reporters is every report of the incident, the first and each one
	// merged into it, with who reported, how to reach them and what they
	// said, for the callback.
	Reporters []ReportEntry `json:"reporters,omitempty"`
}

// Override is a resolution over a still active alarm.
type Override struct {
	By     string    `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Escalation is where a missed clock of a ticket has got to.
type Escalation struct {
	Clock string    `json:"clock"`
	DueAt time.Time `json:"due_at"`
	To    string    `json:"to"`   // team_lead, supervisor, project_manager
	Step  int       `json:"step"` // 1 for the first escalation of this clock
}

// ReportEntry is one report of an incident as it was filed.
type ReportEntry struct {
	ID          int64     `json:"id"`
	At          time.Time `json:"at"`
	Source      Source    `json:"source"`
	Name        string    `json:"name"`
	Phone       string    `json:"phone"`
	Description string    `json:"description"`
	ReportedBy  string    `json:"reported_by"`
	Merged      bool      `json:"merged"`
	// Photos are the ids of the photos sent with this report.
	Photos []int64 `json:"photos,omitempty"`
}

// Recurrence is how often an alarm of the incident came back (was raised
// again after an earlier one was acknowledged or cleared) while the
// ticket was open, when it last did, and the worst value the incident's
// alarms reached.
type Recurrence struct {
	Count  int       `json:"count"`
	LastAt time.Time `json:"last_at"`
	Peak   float64   `json:"peak"`
	// Episodes (Get only) are the alarms that came back, oldest first.
	Episodes []RecurrenceEpisode `json:"episodes,omitempty"`
}

// RecurrenceEpisode is one alarm that came back.
type RecurrenceEpisode struct {
	AlarmID string    `json:"alarm_id"`
	At      time.Time `json:"at"`
	Value   float64   `json:"value"`
	Peak    float64   `json:"peak"`
}

// Part is a spare part used on a job.
type Part struct {
	Name string `json:"name"`
	Qty  int    `json:"qty"`
}

// Deadline is one clock of a ticket.
type Deadline struct {
	Clock       string     `json:"clock"` // claim, dispatch, arrive, close, progress, callback
	StartAt     time.Time  `json:"start_at"`
	DueAt       time.Time  `json:"due_at"`
	WarnAt      time.Time  `json:"warn_at"`
	Warned      bool       `json:"warned,omitempty"`
	Escalations int        `json:"escalations,omitempty"`
	MetAt       *time.Time `json:"met_at,omitempty"`
}

// Photo is an uploaded picture of a ticket.
type Photo struct {
	ID          int64     `json:"id"`
	TicketID    int64     `json:"ticket_id"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Stage       string    `json:"stage,omitempty"` // before, after
	UploadedBy  string    `json:"uploaded_by"`
	UploadedAt  time.Time `json:"uploaded_at"`
	// ReportID names the report (Ticket.Reporters) the photo came with.
	ReportID int64 `json:"report_id,omitempty"`
	file     string
}

// HistoryEntry is one recorded step of a ticket.
type HistoryEntry struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Role   string    `json:"role"`
	Action string    `json:"action"`
	Note   string    `json:"note,omitempty"`
}

// Report is a manual report as people file it (POST /api/tickets).
type Report struct {
	Source      Source   `json:"source"`
	Category    string   `json:"category"`
	Level       int      `json:"level,omitempty"` // 0: derive from category and description
	Site        string   `json:"site"`
	Building    string   `json:"building"`
	Location    string   `json:"location"`
	Scope       Scope    `json:"scope"`
	Unit        string   `json:"unit,omitempty"`
	Floor       string   `json:"floor,omitempty"`
	Room        string   `json:"room,omitempty"`
	DeviceID    string   `json:"device_id,omitempty"`
	Description string   `json:"description"`
	Reporter    Reporter `json:"reporter"`
}

// Actor is who does something to a ticket.
type Actor struct {
	Name string
	Role string
}

// Filter selects tickets for a list. Zero fields match everything.
type Filter struct {
	Status Status
	Level  int
	Source Source
	Site   string
	Sites  []string // tickets of one of these sites (empty: any)
	Device string   // tickets linked to this device
	From   time.Time
	To     time.Time
	Limit  int // default 100, at most 1000
	Offset int
	// Search narrows the list further (search.go): free text, the
	// category (fault type) and the house.
	Search
}

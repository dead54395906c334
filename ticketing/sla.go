package ticketing

import (
	"fmt"
	"time"
)

// LevelSLA is the time limits of one level, all counted from the first
// report: dispatched within Dispatch, on site within Arrive, resolved
// within Close.
type LevelSLA struct {
	Dispatch time.Duration `json:"dispatch"`
	Arrive   time.Duration `json:"arrive"`
	Close    time.Duration `json:"close"`
}

// SLA is every time limit of the repair flow (domain.md, "Levels and time
// limits"); zero fields take the defaults of DefaultSLA.
type SLA struct {
	Levels [3]LevelSLA // L1, L2, L3
	// ClaimTimeout: a ticket nobody has claimed or accepted by then is
	// escalated straight to the supervisor. Default 5m.
	ClaimTimeout time.Duration
	// ProgressEvery: an open L1 ticket needs a progress note (a comment or
	// any step) this often, or it says so. Default 30m.
	ProgressEvery time.Duration
	// CallbackWithin: the call centre calls the owner back within this
	// time of the resolution. Default 24h.
	CallbackWithin time.Duration
	// ReinspectWithin: a disputed result is inspected again within this
	// time (the arrive limit of the re-inspection ticket). Default 48h.
	ReinspectWithin time.Duration
	// WarnAt is the share of a limit after which the warning goes out:
	// 0.8 warns at 12 minutes of a 15-minute limit. Default 0.8.
	WarnAt float64
	// Chain is who a missed limit goes to, one step up every
	// EscalationStep. Default team_lead, supervisor, project_manager.
	Chain []string
	// EscalationStep is the time between two steps up the chain.
	// Default 30m.
	EscalationStep time.Duration
}

// DefaultSLA is the industry practice domain.md describes.
func DefaultSLA() SLA {
	return SLA{
		Levels: [3]LevelSLA{
			{Dispatch: 15 * time.Minute, Arrive: 30 * time.Minute, Close: 4 * time.Hour},
			{Dispatch: 2 * time.Hour, Arrive: 24 * time.Hour, Close: 24 * time.Hour},
			{Dispatch: 4 * time.Hour, Arrive: 48 * time.Hour, Close: 48 * time.Hour},
		},
		ClaimTimeout:    5 * time.Minute,
		ProgressEvery:   30 * time.Minute,
		CallbackWithin:  24 * time.Hour,
		ReinspectWithin: 48 * time.Hour,
		WarnAt:          0.8,
		Chain:           []string{"team_lead", "supervisor", "project_manager"},
		EscalationStep:  30 * time.Minute,
	}
}

// Escalation steps named in Chain by default.
const (
	ChainTeamLead       = "team_lead"
	ChainSupervisor     = "supervisor"
	ChainProjectManager = "project_manager"
)

func (s SLA) withDefaults() SLA {
	d := DefaultSLA()
	for i := range s.Levels {
		if s.Levels[i].Dispatch == 0 {
			s.Levels[i].Dispatch = d.Levels[i].Dispatch
		}
		if s.Levels[i].Arrive == 0 {
			s.Levels[i].Arrive = d.Levels[i].Arrive
		}
		if s.Levels[i].Close == 0 {
			s.Levels[i].Close = d.Levels[i].Close
		}
	}
	def := func(v *time.Duration, dv time.Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	def(&s.ClaimTimeout, d.ClaimTimeout)
	def(&s.ProgressEvery, d.ProgressEvery)
	def(&s.CallbackWithin, d.CallbackWithin)
	def(&s.ReinspectWithin, d.ReinspectWithin)
	def(&s.EscalationStep, d.EscalationStep)
	if s.WarnAt == 0 {
		s.WarnAt = d.WarnAt
	}
	if len(s.Chain) == 0 {
		s.Chain = d.Chain
	}
	return s
}

// Validate checks the limits; the message names the field.
func (s SLA) Validate() error {
	for i, l := range s.Levels {
		if l.Dispatch < 0 || l.Arrive < 0 || l.Close < 0 {
			return &FieldError{Field: fmt.Sprintf("sla.l%d", i+1), Message: "dispatch, arrive and close must not be negative"}
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"sla.claim_timeout", s.ClaimTimeout}, {"sla.progress_every", s.ProgressEvery},
		{"sla.callback_within", s.CallbackWithin}, {"sla.reinspect_within", s.ReinspectWithin},
		{"sla.escalation_step", s.EscalationStep},
	} {
		if f.v < 0 {
			return &FieldError{Field: f.name, Message: "must not be negative"}
		}
	}
	if s.WarnAt < 0 || s.WarnAt >= 1 {
		return &FieldError{Field: "sla.warn_at", Message: "must be a share from 0 to below 1"}
	}
	return nil
}

// level returns the limits of level l (1-3).
func (s SLA) level(l int) LevelSLA {
	if l < 1 || l > 3 {
		l = 2
	}
	return s.Levels[l-1]
}

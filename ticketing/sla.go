package ticketing

import (
	"fmt"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/internal/config"
)

// LevelSLA is the time limits of one level, all counted from the first
// report: dispatched within Dispatch, on site within Arrive, resolved
// within Close.
type LevelSLA struct {
	Dispatch time.Duration `json:"dispatch" yaml:"dispatch"`
	Arrive   time.Duration `json:"arrive" yaml:"arrive"`
	Close    time.Duration `json:"close" yaml:"close"`
}

// SLA is every time limit of the repair flow (domain.md, "Levels and time
// limits"): the sla section of caretaker.yaml. Zero fields take the
// defaults of DefaultSLA.
type SLA struct {
	L1 LevelSLA `yaml:"l1"`
	L2 LevelSLA `yaml:"l2"`
	L3 LevelSLA `yaml:"l3"`
	// ClaimTimeout: a ticket nobody has claimed or accepted by then is
	// escalated straight to the supervisor. Default 5m.
	ClaimTimeout time.Duration `yaml:"claim_timeout"`
	// ProgressEvery: an open L1 ticket needs a progress note (a comment or
	// any step) this often, or it says so. Default 30m.
	ProgressEvery time.Duration `yaml:"progress_every"`
	// CallbackWithin: the call centre calls the owner back within this
	// time of the resolution. Default 24h.
	CallbackWithin time.Duration `yaml:"callback_within"`
	// ReinspectWithin: a disputed result is inspected again within this
	// time (the arrive limit of the re-inspection ticket). Default 48h.
	ReinspectWithin time.Duration `yaml:"reinspect_within"`
	// WarnAt is the share of a limit after which the warning goes out:
	// 0.8 warns at 12 minutes of a 15-minute limit. Default 0.8.
	WarnAt float64 `yaml:"warn_at"`
	// Chain is who a missed limit goes to, one step up every
	// EscalationStep. Default team_lead, supervisor, project_manager.
	Chain []string `yaml:"chain"`
	// EscalationStep is the time between two steps up the chain.
	// Default 30m.
	EscalationStep time.Duration `yaml:"escalation_step"`
}

// DefaultSLA is the industry practice domain.md describes; every SLA
// default is here.
func DefaultSLA() SLA {
	return SLA{
		L1:              LevelSLA{Dispatch: 15 * time.Minute, Arrive: 30 * time.Minute, Close: 4 * time.Hour},
		L2:              LevelSLA{Dispatch: 2 * time.Hour, Arrive: 24 * time.Hour, Close: 24 * time.Hour},
		L3:              LevelSLA{Dispatch: 4 * time.Hour, Arrive: 48 * time.Hour, Close: 48 * time.Hour},
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
	def := func(v *time.Duration, dv time.Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	for _, l := range []struct{ s, d *LevelSLA }{{&s.L1, &d.L1}, {&s.L2, &d.L2}, {&s.L3, &d.L3}} {
		def(&l.s.Dispatch, l.d.Dispatch)
		def(&l.s.Arrive, l.d.Arrive)
		def(&l.s.Close, l.d.Close)
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

// Validate checks the limits once the defaults are in; the
// *config.FieldError names the key below sla.
func (s SLA) Validate() error {
	for i, l := range []LevelSLA{s.L1, s.L2, s.L3} {
		if l.Dispatch <= 0 || l.Arrive <= 0 || l.Close <= 0 {
			return config.Errorf(fmt.Sprintf("l%d", i+1), "dispatch, arrive and close must be positive durations")
		}
	}
	for _, f := range []struct {
		key string
		v   time.Duration
	}{
		{"claim_timeout", s.ClaimTimeout}, {"progress_every", s.ProgressEvery},
		{"callback_within", s.CallbackWithin}, {"reinspect_within", s.ReinspectWithin},
		{"escalation_step", s.EscalationStep},
	} {
		if f.v <= 0 {
			return config.Errorf(f.key, "%s must be a positive duration", f.v)
		}
	}
	if !(s.WarnAt > 0 && s.WarnAt < 1) {
		return config.Errorf("warn_at", "%v must be a share above 0 and below 1 (0.8 warns at 12 minutes of 15)", s.WarnAt)
	}
	if len(s.Chain) == 0 {
		return config.Errorf("chain", "must name at least one step, e.g. [team_lead, supervisor, project_manager]")
	}
	seen := map[string]bool{}
	for i, step := range s.Chain {
		key := fmt.Sprintf("chain[%d]", i)
		switch {
		case strings.TrimSpace(step) == "":
			return config.Errorf(key, "empty")
		case seen[step]:
			return config.Errorf(key, "%q is listed twice", step)
		}
		seen[step] = true
	}
	return nil
}

// level returns the limits of level l (1-3).
func (s SLA) level(l int) LevelSLA {
	switch l {
	case 1:
		return s.L1
	case 3:
		return s.L3
	}
	return s.L2
}

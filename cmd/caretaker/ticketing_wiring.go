package main

import (
	"log/slog"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// ticketingConfig gives the ticket service its part of the configuration:
// the store, the technicians, the SLA limits, warning point and escalation
// chain, the tickets keys (dispatch mode, reopen window, code attempts,
// photo size, repeat window), zones from the device registry (a device's
// zone, else its building's) and the photos folder.
func ticketingConfig(cfg Config, reg *devices.Registry, notifier ticketing.Notifier, logger *slog.Logger) ticketing.Config {
	techs := make([]ticketing.Technician, len(cfg.Technicians))
	for i, t := range cfg.Technicians {
		techs[i] = ticketing.Technician{Name: t.Name, Skills: t.Skills, Zones: t.Zones, OnDuty: t.OnDuty}
	}
	level := func(l SLALevel) ticketing.LevelSLA {
		return ticketing.LevelSLA{Dispatch: l.Dispatch.Std(), Arrive: l.Arrive.Std(), Close: l.Close.Std()}
	}
	return ticketing.Config{
		Path:        cfg.Store.Path,
		PhotosDir:   cfg.Store.PhotosDir,
		Notifier:    notifier,
		Logger:      logger,
		Technicians: techs,
		Zones:       ticketing.ZonesFrom(reg),
		SLA: ticketing.SLA{
			Levels:          [3]ticketing.LevelSLA{level(cfg.SLA.L1), level(cfg.SLA.L2), level(cfg.SLA.L3)},
			ClaimTimeout:    cfg.SLA.ClaimTimeout.Std(),
			ProgressEvery:   cfg.SLA.ProgressEvery.Std(),
			CallbackWithin:  cfg.SLA.CallbackWithin.Std(),
			ReinspectWithin: cfg.SLA.ReinspectWithin.Std(),
			WarnAt:          cfg.SLA.WarnAt,
			Chain:           append([]string(nil), cfg.SLA.Chain...),
			EscalationStep:  cfg.SLA.EscalationStep.Std(),
		},
		Dispatch:        cfg.Tickets.Dispatch,
		ReopenWindow:    cfg.Tickets.ReopenWindow.Std(),
		MaxCodeAttempts: cfg.Tickets.MaxCodeAttempts,
		MaxPhotoBytes:   cfg.Tickets.MaxPhotoBytes,
		RepeatWindow:    cfg.Tickets.RepeatWindow.Std(),
	}
}

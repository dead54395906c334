package main

import (
	"log/slog"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// ticketingConfig gives the ticket service its part of the configuration:
// the tickets section, with the store paths, the technicians, the SLA
// section, zones from the device registry (a device's zone, else its
// building's) and the notifier.
func ticketingConfig(cfg Config, reg *devices.Registry, notifier ticketing.Notifier, logger *slog.Logger) ticketing.Config {
	tc := cfg.Tickets
	tc.Path, tc.URL, tc.PhotosDir = cfg.Store.Path, cfg.Store.URL, cfg.Store.PhotosDir
	tc.Notifier, tc.Logger = notifier, logger
	tc.Technicians = cfg.Technicians
	tc.SLA = cfg.SLA
	tc.SLA.Chain = append([]string(nil), cfg.SLA.Chain...)
	if sites, err := cfg.SiteZones(); err == nil { // Validate reports a bad zone
		tc.Location, tc.SiteLocation = sites.Default(), sites.Location
	}
	if reg != nil {
		tc.Zones = ticketing.ZonesFrom(reg)
	}
	return tc
}

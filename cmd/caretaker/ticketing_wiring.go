package main

import (
	"log/slog"
	"slices"

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
	tc.Assignable = assignable(cfg)
	tc.SLA = cfg.SLA
	tc.Triage = cfg.Triage
	tc.SLA.Chain = append([]string(nil), cfg.SLA.Chain...)
	if sites, err := cfg.SiteZones(); err == nil { // Validate reports a bad zone
		tc.Location, tc.SiteLocation = sites.Default(), sites.Location
	}
	if reg != nil {
		tc.Zones = ticketing.ZonesFrom(reg)
	}
	return tc
}

// assignable is who an operator may assign beyond the technicians list:
// the people of the rosters (with the rosters' zones and skills) and the
// holders of technician tokens. Dispatch by hand names one of them, or
// one of the technicians; any other name is refused.
func assignable(cfg Config) []ticketing.Technician {
	var out []ticketing.Technician
	idx := map[string]int{}
	add := func(name string, zones, skills []string) {
		if name == "" || slices.ContainsFunc(cfg.Technicians, func(t ticketing.Technician) bool { return t.Name == name }) {
			return
		}
		i, ok := idx[name]
		if !ok {
			idx[name] = len(out)
			out = append(out, ticketing.Technician{Name: name, Zones: slices.Clone(zones), Skills: slices.Clone(skills)})
			return
		}
		for _, z := range zones {
			if !slices.Contains(out[i].Zones, z) {
				out[i].Zones = append(out[i].Zones, z)
			}
		}
		for _, sk := range skills {
			if !slices.Contains(out[i].Skills, sk) {
				out[i].Skills = append(out[i].Skills, sk)
			}
		}
	}
	for _, r := range cfg.Rosters {
		for _, n := range r.People {
			add(n, r.Zones, r.Skills)
		}
	}
	for _, t := range cfg.Auth.Tokens {
		if t.Role == ticketing.RoleTechnician {
			add(t.Name, nil, nil)
		}
	}
	return out
}

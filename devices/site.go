package devices

import (
	"fmt"
	"time"
)

// Site is one estate (项目/小区): its names in both languages and the
// time zone its days, months, shifts and every time a person reads are in
// (contract.md, "Sites and time").
type Site struct {
	ID       string `yaml:"id" json:"id"`
	Name     string `yaml:"name" json:"name"`
	NameEn   string `yaml:"name_en" json:"name_en,omitempty"`
	TimeZone string `yaml:"time_zone" json:"time_zone"`
	Address  string `yaml:"address" json:"address,omitempty"`
	// Buildings are the site's buildings with their units, floors and
	// rooms, which the report form offers to pick (building.go); none:
	// the form takes them typed.
	Buildings []Building `yaml:"buildings" json:"buildings,omitempty"`
}

// Sites answers which time zone a site keeps. A site that is not listed,
// or that names no zone, keeps the default zone.
type Sites struct {
	def     *time.Location
	zones   map[string]*time.Location
	list    []Site
	defName string
}

// NewSites checks the zones (IANA names such as "Asia/Shanghai"; "" is the
// machine's local zone for the default, the default for a site) and the
// site ids. The error names the field at fault: "time_zone",
// "sites[1].time_zone", "sites[0].id".
func NewSites(defaultZone string, list []Site) (*Sites, error) {
	def, err := loadZone(defaultZone)
	if err != nil {
		return nil, fmt.Errorf("time_zone: %w", err)
	}
	s := &Sites{def: def, zones: map[string]*time.Location{}, defName: def.String()}
	for i, site := range list {
		if !ValidID(site.ID) {
			return nil, fmt.Errorf("sites[%d].id: %q is not an id (letters, digits, '-', '_', '.')", i, site.ID)
		}
		if _, dup := s.zones[site.ID]; dup {
			return nil, fmt.Errorf("sites[%d].id: %q is listed twice", i, site.ID)
		}
		loc := def
		if site.TimeZone != "" {
			if loc, err = loadZone(site.TimeZone); err != nil {
				return nil, fmt.Errorf("sites[%d].time_zone: %w", i, err)
			}
		}
		if err := checkBuildings(site.Buildings); err != nil {
			return nil, fmt.Errorf("sites[%d].%w", i, err)
		}
		s.zones[site.ID] = loc
		site.TimeZone = loc.String()
		s.list = append(s.list, site)
	}
	return s, nil
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not an IANA time zone such as Asia/Shanghai", name)
	}
	return loc, nil
}

// Default is the zone of sites that name none. A nil *Sites answers the
// machine's local zone.
func (s *Sites) Default() *time.Location {
	if s == nil {
		return time.Local
	}
	return s.def
}

// Location is the zone of a site ("" or unknown: the default).
func (s *Sites) Location(site string) *time.Location {
	if s == nil {
		return time.Local
	}
	if loc, ok := s.zones[site]; ok {
		return loc
	}
	return s.def
}

// List is the configured sites, each with its zone's name filled in.
func (s *Sites) List() []Site {
	if s == nil {
		return nil
	}
	return append([]Site(nil), s.list...)
}

// LocalDate reads "2026-11-01" or "2026-11-01T08:00[:00]" (no offset) as
// wall-clock time in loc; ok is false when v is not such a form.
func LocalDate(v string, loc *time.Location) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02", "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

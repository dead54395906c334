package devices

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Building is one building (楼栋) of a site, as the report form offers it:
// the id is what a ticket's building is (the same words the devices'
// building uses, e.g. "B3" or "3号楼"), the units (单元) are picked from
// Units, the floor from 1 to Floors, and the room is the floor followed
// by one of Rooms ("12" and "01" is room 1201). A building without units,
// floors or rooms takes that part typed.
type Building struct {
	ID     string   `yaml:"id" json:"id"`
	Name   string   `yaml:"name" json:"name,omitempty"`
	NameEn string   `yaml:"name_en" json:"name_en,omitempty"`
	Units  []string `yaml:"units" json:"units,omitempty"`
	Floors int      `yaml:"floors" json:"floors,omitempty"`
	Rooms  []string `yaml:"rooms" json:"rooms,omitempty"`
}

// Limits of a building's description.
const (
	maxBuildingPart = 200 // characters of an id, name, unit or room
	MaxFloors       = 200
	maxUnits        = 100
	maxRoomsOnFloor = 100
)

// RoomOf is the room number of a room on a floor: "12" and "01" is "1201".
func RoomOf(floor int, room string) string { return strconv.Itoa(floor) + room }

// checkBuildings checks a site's buildings; the error names the field
// ("buildings[1].units[0]: ...").
func checkBuildings(list []Building) error {
	seen := map[string]bool{}
	for i, b := range list {
		at := fmt.Sprintf("buildings[%d]", i)
		switch {
		case strings.TrimSpace(b.ID) != b.ID || b.ID == "":
			return fmt.Errorf("%s.id: %q: required, without spaces around it", at, b.ID)
		case utf8.RuneCountInString(b.ID) > maxBuildingPart || utf8.RuneCountInString(b.Name) > maxBuildingPart || utf8.RuneCountInString(b.NameEn) > maxBuildingPart:
			return fmt.Errorf("%s: id and names are at most %d characters", at, maxBuildingPart)
		case seen[b.ID]:
			return fmt.Errorf("%s.id: %q is listed twice", at, b.ID)
		case b.Floors < 0 || b.Floors > MaxFloors:
			return fmt.Errorf("%s.floors: %d is not from 0 (not listed) to %d", at, b.Floors, MaxFloors)
		case len(b.Units) > maxUnits:
			return fmt.Errorf("%s.units: %d, at most %d", at, len(b.Units), maxUnits)
		case len(b.Rooms) > maxRoomsOnFloor:
			return fmt.Errorf("%s.rooms: %d, at most %d", at, len(b.Rooms), maxRoomsOnFloor)
		case len(b.Rooms) > 0 && b.Floors == 0:
			return fmt.Errorf("%s.rooms: a room is a floor's: give floors too", at)
		}
		seen[b.ID] = true
		for name, parts := range map[string][]string{"units": b.Units, "rooms": b.Rooms} {
			had := map[string]bool{}
			for j, v := range parts {
				if v == "" || strings.TrimSpace(v) != v || utf8.RuneCountInString(v) > maxBuildingPart || had[v] {
					return fmt.Errorf("%s.%s[%d]: %q is empty, has spaces around it, is too long or is listed twice", at, name, j, v)
				}
				had[v] = true
			}
		}
	}
	return nil
}

// Building returns the building id of site, if the site lists its
// buildings; listed is false when it lists none (any building goes).
func (s *Sites) Building(site, id string) (b Building, found, listed bool) {
	if s == nil {
		return Building{}, false, false
	}
	for _, x := range s.list {
		if x.ID != site {
			continue
		}
		for _, b := range x.Buildings {
			if b.ID == id {
				return b, true, true
			}
		}
		return Building{}, false, len(x.Buildings) > 0
	}
	return Building{}, false, false
}

// HasRoom tells whether room is a room of b: a floor from 1 to Floors
// followed by one of Rooms.
func (b Building) HasRoom(room string) bool {
	for f := 1; f <= b.Floors; f++ {
		for _, r := range b.Rooms {
			if RoomOf(f, r) == room {
				return true
			}
		}
	}
	return false
}

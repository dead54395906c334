package dashboard

import (
	"slices"
	"strconv"
	"strings"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// houseError checks a report's house against its site's lists
// (sites[].buildings): where the site lists its buildings, the building
// must be one of them, and the unit, floor and room, when given, must be
// of that building's where it lists them. It names the field at fault;
// "" when the report is fine. A site that lists no buildings takes any.
func houseError(sites *devices.Sites, r ticketing.Report) (field, msg string) {
	for _, f := range []*string{&r.Site, &r.Building, &r.Unit, &r.Floor, &r.Room} {
		*f = strings.TrimSpace(*f)
	}
	b, found, listed := sites.Building(r.Site, r.Building)
	switch {
	case !listed:
		return "", ""
	case !found:
		return "building", "building: " + quoteShort(r.Building) + " is not one of site " + quoteShort(r.Site) + "'s buildings"
	case r.Unit != "" && len(b.Units) > 0 && !slices.Contains(b.Units, r.Unit):
		return "unit", "unit: " + quoteShort(r.Unit) + " is not a unit of building " + quoteShort(b.ID)
	}
	if r.Floor != "" && b.Floors > 0 {
		if n, err := strconv.Atoi(r.Floor); err != nil || n < 1 || n > b.Floors {
			return "floor", "floor: " + quoteShort(r.Floor) + " is not a floor of building " + quoteShort(b.ID) + " (1 to " + strconv.Itoa(b.Floors) + ")"
		}
	}
	if r.Room != "" && len(b.Rooms) > 0 && !b.HasRoom(r.Room) {
		return "room", "room: " + quoteShort(r.Room) + " is not a room of building " + quoteShort(b.ID)
	}
	return "", ""
}

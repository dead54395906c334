package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/caretaker-iot/caretaker/devices"
)

// DeviceLister is where zones come from; *devices.Registry is one.
type DeviceLister interface {
	Devices() []devices.Device
}

// ZonesFrom gives Config.Zones from the device registry: the zone of the
// ticket's device when it names one with a zone; otherwise the zone of
// the first device (by id) in the same site and building that has one;
// otherwise none. A building is in one zone; a place without devices has
// no zone and is dispatched by skill and load only.
func ZonesFrom(d DeviceLister) func(site, building, device string) string {
	return func(site, building, device string) string {
		var inBuilding string
		for _, dev := range d.Devices() {
			if dev.Zone == "" {
				continue
			}
			if device != "" && dev.ID == device {
				return dev.Zone
			}
			if inBuilding == "" && dev.Site == site && dev.Building == building {
				inBuilding = dev.Zone
			}
		}
		return inBuilding
	}
}

func (s *Service) zoneOf(site, building, device string) string {
	if s.cfg.Zones == nil {
		return ""
	}
	return s.cfg.Zones(site, building, device)
}

func (s *Service) technician(name string) (Technician, bool) {
	for _, t := range s.cfg.Technicians {
		if t.Name == name {
			return t, true
		}
	}
	return Technician{}, false
}

// assignable finds who may be assigned by hand: a technician, else one
// of Config.Assignable.
func (s *Service) assignable(name string) (Technician, bool) {
	if t, ok := s.technician(name); ok {
		return t, true
	}
	for _, t := range s.cfg.Assignable {
		if t.Name == name {
			return t, true
		}
	}
	return Technician{}, false
}

// people is every technician and assignable person, once each.
func (s *Service) people() []Technician {
	out := append([]Technician(nil), s.cfg.Technicians...)
	for _, t := range s.cfg.Assignable {
		if !slices.ContainsFunc(out, func(o Technician) bool { return o.Name == t.Name }) {
			out = append(out, t)
		}
	}
	return out
}

// assignableNames lists who may be assigned, sorted.
func (s *Service) assignableNames() []string {
	var out []string
	for _, t := range s.people() {
		out = append(out, t.Name)
	}
	slices.Sort(out)
	return out
}

// onDuty tells whether tech is on duty now for a ticket of category: by
// the rosters (Config.OnDuty) when given, else Technician.OnDuty.
func (s *Service) onDuty(tech Technician, category string) bool {
	if s.cfg.OnDuty == nil {
		return tech.OnDuty
	}
	return slices.Contains(s.cfg.OnDuty(s.now(), "", category), tech.Name)
}

// inZone tells whether tech works the zone: rostered for it now when
// rosters are given, else listed in Technician.Zones.
func (s *Service) inZone(tech Technician, zone, category string) bool {
	if zone == "" {
		return false
	}
	if s.cfg.OnDuty == nil {
		return slices.Contains(tech.Zones, zone)
	}
	return slices.Contains(s.cfg.OnDuty(s.now(), zone, category), tech.Name)
}

// candidate is a technician weighed for a ticket.
type candidate struct {
	Technician
	inZone bool
	load   int
}

// autoDispatch gives a new ticket to the on-duty technician with a skill
// of its category, preferring its zone, then the fewest open tickets, then
// the name; the history says why. With nobody skilled on duty the ticket
// stays in the grab-order pool, and the history says that too.
func (s *Service) autoDispatch(ctx context.Context, tx *sql.Tx, t Ticket) error {
	if len(s.cfg.Technicians) == 0 {
		return nil
	}
	skills, limited := s.cfg.Skills[t.Category]
	load, err := openLoad(ctx, tx)
	if err != nil {
		return err
	}
	var cands []candidate
	for _, tech := range s.cfg.Technicians {
		if !s.onDuty(tech, t.Category) {
			continue
		}
		if limited && !slices.ContainsFunc(tech.Skills, func(sk string) bool { return slices.Contains(skills, sk) }) {
			continue
		}
		cands = append(cands, candidate{Technician: tech, inZone: s.inZone(tech, t.Zone, t.Category), load: load[tech.Name]})
	}
	need := "any skill"
	if limited {
		need = "skill " + strings.Join(skills, " or ")
	}
	duty := "on-duty"
	if s.cfg.OnDuty != nil {
		duty = "rostered on-duty"
	}
	if len(cands) == 0 {
		return s.addHistory(ctx, tx, t.ID, systemActor, "dispatch_pool",
			fmt.Sprintf("no %s technician with %s: left in the grab-order pool", duty, need))
	}
	slices.SortFunc(cands, func(a, b candidate) int {
		switch {
		case a.inZone != b.inZone:
			if a.inZone {
				return -1
			}
			return 1
		case a.load != b.load:
			return a.load - b.load
		}
		return strings.Compare(a.Name, b.Name)
	})
	c := cands[0]
	why := fmt.Sprintf("auto-dispatched to %s: %s", c.Name, need)
	if s.cfg.OnDuty != nil {
		why += ", on duty by the rosters"
	}
	switch {
	case c.inZone:
		why += ", in zone " + t.Zone
	case t.Zone != "":
		why += ", cross-zone support (nobody skilled on duty in zone " + t.Zone + ")"
	}
	why += fmt.Sprintf(", %d open tickets", c.load)
	if len(cands) > 1 {
		others := make([]string, 0, len(cands)-1)
		for _, o := range cands[1:] {
			z := "other zone"
			if o.inZone {
				z = "in zone"
			}
			others = append(others, fmt.Sprintf("%s (%s, %d open)", o.Name, z, o.load))
		}
		why += "; also considered " + strings.Join(others, ", ")
	}
	if _, err := tx.ExecContext(ctx, "UPDATE tickets SET assignee = ?, status = 'dispatched' WHERE id = ?", c.Name, t.ID); err != nil {
		return fmt.Errorf("dispatch ticket %d: %w", t.ID, err)
	}
	if err := s.meet(ctx, tx, t.ID, clockDispatch); err != nil {
		return err
	}
	return s.addHistory(ctx, tx, t.ID, systemActor, "auto_dispatch", why)
}

// openLoad counts the open tickets of every assignee.
func openLoad(ctx context.Context, tx *sql.Tx) (map[string]int, error) {
	rows, err := tx.QueryContext(ctx, "SELECT assignee, count(*) FROM tickets WHERE assignee <> '' AND status IN "+openStatuses+" GROUP BY assignee")
	if err != nil {
		return nil, fmt.Errorf("open load: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return nil, fmt.Errorf("open load: %w", err)
		}
		out[name] = n
	}
	return out, rows.Err()
}

// Choice is a technician as dispatch weighs them for one ticket.
type Choice struct {
	Name    string   `json:"name"`
	Skills  []string `json:"skills"`
	Zones   []string `json:"zones"`
	OnDuty  bool     `json:"on_duty"`
	Skilled bool     `json:"skilled"` // has a skill the ticket's category needs
	InZone  bool     `json:"in_zone"` // works the ticket's zone
	Open    int      `json:"open"`    // open tickets assigned to them
	// Best marks the one auto-dispatch would pick now.
	Best bool `json:"best,omitempty"`
}

// Choices is the answer of Candidates.
type Choices struct {
	TicketID int64    `json:"ticket_id"`
	Category string   `json:"category"`
	Zone     string   `json:"zone,omitempty"`
	Needs    []string `json:"needs"` // skills that fit the category; empty: any
	// Auto is what auto-dispatch said about the ticket (its history note),
	// if it did.
	Auto        string   `json:"auto,omitempty"`
	Technicians []Choice `json:"technicians"`
}

// Candidates lists who may be assigned ticket id, best first as
// auto-dispatch ranks them (on duty, skilled, in zone, fewest open
// tickets, name), with what auto-dispatch said about it.
func (s *Service) Candidates(ctx context.Context, id int64) (Choices, error) {
	t, err := getTicket(ctx, s.db, id)
	if err != nil {
		return Choices{}, err
	}
	skills, limited := s.cfg.Skills[t.Category]
	out := Choices{TicketID: id, Category: t.Category, Zone: t.Zone, Needs: append([]string{}, skills...), Technicians: []Choice{}}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Choices{}, fmt.Errorf("candidates: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	load, err := openLoad(ctx, tx)
	if err != nil {
		return Choices{}, err
	}
	if err := tx.QueryRowContext(ctx, `SELECT note FROM ticket_history WHERE ticket_id = ? AND action IN ('auto_dispatch', 'dispatch_pool')
		ORDER BY at DESC, id DESC LIMIT 1`, id).Scan(&out.Auto); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Choices{}, fmt.Errorf("candidates: %w", err)
	}
	for _, tech := range s.people() {
		_, listed := s.technician(tech.Name)
		anySkill := !listed && len(tech.Skills) == 0 // a roster without skills covers every one
		out.Technicians = append(out.Technicians, Choice{
			Name: tech.Name, Skills: orNoStrings(tech.Skills), Zones: orNoStrings(tech.Zones),
			OnDuty:  s.onDuty(tech, t.Category) || (s.cfg.OnDuty != nil && slices.Contains(s.cfg.OnDuty(s.now(), "", ""), tech.Name)),
			Skilled: !limited || anySkill || slices.ContainsFunc(tech.Skills, func(sk string) bool { return slices.Contains(skills, sk) }),
			InZone:  s.inZone(tech, t.Zone, t.Category),
			Open:    load[tech.Name],
		})
	}
	rank := func(c Choice) int {
		n := 0
		if !c.OnDuty {
			n += 4
		}
		if !c.Skilled {
			n += 2
		}
		if !c.InZone {
			n++
		}
		return n
	}
	slices.SortStableFunc(out.Technicians, func(a, b Choice) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		if a.Open != b.Open {
			return a.Open - b.Open
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(out.Technicians) > 0 && out.Technicians[0].OnDuty && out.Technicians[0].Skilled {
		out.Technicians[0].Best = true
	}
	return out, nil
}

func orNoStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return append([]string(nil), s...)
}

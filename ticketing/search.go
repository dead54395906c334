package ticketing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The archive is searched by house, fault type and time (domain.md): the
// ticket list takes free text, a category and a building, unit and room
// besides its time range, and the alarm list free text, a level and a
// time range. Tickets are never deleted, so the search reaches back as
// far as the store does (at least the five years an archive is kept).

// categories are the ticket categories (fault types) of domain.md.
var categories = []string{"water_electric", "civil", "equipment", "public_area", "gas", "fire"}

// Categories returns the ticket categories, in a fixed order.
func Categories() []string { return slices.Clone(categories) }

// ValidCategory tells whether c is one of Categories.
func ValidCategory(c string) bool { return slices.Contains(categories, c) }

// Limits of a search.
const (
	MaxSearchText  = 200 // characters of the free text
	MaxSearchTerms = 8   // words of it; each must match
)

// Search narrows a ticket list. Zero fields match everything.
type Search struct {
	// Text is free text: each of its words (at most MaxSearchTerms) must
	// be found, in any case, in the ticket's number, description,
	// location, building, unit, room or device id.
	Text     string
	Category string
	Building string // exact
	Unit     string // exact
	Room     string // exact
}

// ticketTextColumns are what a ticket's free text is looked for in.
var ticketTextColumns = []string{"coalesce(number, '')", "description", "location", "building", "unit", "room", "device_id"}

// where is the search's SQL conditions (to be joined with AND) and their
// arguments.
func (q Search) where() ([]string, []any) {
	var where []string
	var args []any
	for _, eq := range []struct{ col, v string }{{"category", q.Category}, {"building", q.Building}, {"unit", q.Unit}, {"room", q.Room}} {
		if eq.v != "" {
			where, args = append(where, eq.col+" = ?"), append(args, eq.v)
		}
	}
	cond, more := textMatch(ticketTextColumns, q.Text)
	return append(where, cond...), append(args, more...)
}

// SearchTerms splits free text into its words, at most MaxSearchTerms
// (the rest are dropped), lower-cased.
func SearchTerms(text string) []string {
	terms := strings.Fields(strings.ToLower(text))
	if len(terms) > MaxSearchTerms {
		terms = terms[:MaxSearchTerms]
	}
	return terms
}

// ValidSearchText checks free text: at most MaxSearchText characters,
// no control characters.
func ValidSearchText(text string) error {
	if n := utf8.RuneCountInString(text); n > MaxSearchText {
		return fmt.Errorf("%d characters, at most %d", n, MaxSearchText)
	}
	if !utf8.ValidString(text) || strings.ContainsFunc(text, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("has control characters or is not UTF-8")
	}
	return nil
}

// likeEscape is the escape character of the LIKE patterns: not a
// backslash, which the two databases read differently in a literal.
const likeEscape = "!"

// likePattern makes a LIKE pattern that finds term anywhere, its own
// wildcards (% and _) taken literally.
func likePattern(term string) string {
	r := strings.NewReplacer(likeEscape, likeEscape+likeEscape, "%", likeEscape+"%", "_", likeEscape+"_")
	return "%" + r.Replace(term) + "%"
}

// textMatch is one condition per word of text: the word in one of cols,
// case-insensitive (lower() on both sides: SQLite lowers ASCII only, and
// Chinese has no case).
func textMatch(cols []string, text string) ([]string, []any) {
	var where []string
	var args []any
	for _, term := range SearchTerms(text) {
		ors := make([]string, len(cols))
		for i, c := range cols {
			ors[i] = "lower(" + c + ") LIKE ? ESCAPE '" + likeEscape + "'"
			args = append(args, likePattern(term))
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	return where, args
}

// AlarmFilter selects stored alarms. Zero fields match everything.
type AlarmFilter struct {
	State string // one of the Alarms* states; "" is AlarmsAll
	Level int
	// Text is free text as in Search, looked for in the rule's id and
	// name, the device id, the message and the location.
	Text     string
	From, To time.Time // raised in [From, To)
	Sites    []string  // alarms of one of these sites (empty: any)
}

// alarmTextColumns are what an alarm's free text is looked for in.
var alarmTextColumns = []string{"a.rule_id", "a.rule_name", "a.device_id", "a.message", "a.location"}

// FindAlarms lists the alarms f selects, newest first, at most 1000.
// A bad state is a *FieldError.
func (s *Service) FindAlarms(ctx context.Context, f AlarmFilter) ([]StoredAlarm, error) {
	var where []string
	switch f.State {
	case AlarmsAll:
	case AlarmsActive:
		where = append(where, "a.state <> 'cleared'")
	case AlarmsAcked:
		where = append(where, "a.state <> 'cleared' AND a.acked = 1")
	case AlarmsCleared:
		where = append(where, "a.state = 'cleared'")
	case AlarmsUnacked:
		where = append(where, "a.acked = 0")
	case AlarmsLive:
		where = append(where, "(a.state <> 'cleared' OR (a.acked = 0 AND a.shadow = 0))")
	default:
		return nil, &FieldError{Field: "state", Message: "must be active, acked, unacked, cleared or live"}
	}
	var args []any
	if f.Level != 0 {
		where, args = append(where, "a.level = ?"), append(args, f.Level)
	}
	if !f.From.IsZero() {
		where, args = append(where, "a.raised_at >= ?"), append(args, ms(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "a.raised_at < ?"), append(args, ms(f.To))
	}
	if len(f.Sites) > 0 {
		where = append(where, "a.site IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(f.Sites)), ", ")+")")
		for _, site := range f.Sites {
			args = append(args, site)
		}
	}
	cond, more := textMatch(alarmTextColumns, f.Text)
	where, args = append(where, cond...), append(args, more...)
	q := "SELECT " + alarmColumns + " FROM alarms a LEFT JOIN tickets t ON t.id = a.ticket_id"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY a.raised_at DESC, a.id DESC LIMIT ?", append(args, alarmsLimit)...)
	if err != nil {
		return nil, fmt.Errorf("list alarms: %w", err)
	}
	defer rows.Close()
	out := []StoredAlarm{}
	for rows.Next() {
		a, err := scanAlarm(rows)
		if err != nil {
			return nil, fmt.Errorf("list alarms: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alarms: %w", err)
	}
	return out, nil
}

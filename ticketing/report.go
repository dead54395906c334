package ticketing

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/caretaker-iot/caretaker/internal/sqldb"
)

// Limits of a report.
const (
	MaxDescription = 4000 // characters
	maxShortField  = 200
)

// Validate checks a report and fills in defaults (scope public); the
// error is a *FieldError naming the field.
func (r *Report) Validate() error {
	for _, f := range []*string{&r.Category, &r.Site, &r.Building, &r.Location, &r.Unit, &r.Floor, &r.Room,
		&r.DeviceID, &r.Description, &r.Reporter.Name, &r.Reporter.Phone} {
		*f = strings.TrimSpace(*f)
	}
	switch r.Source {
	case SourcePatrol, SourceResident, SourcePhone, SourceFrontDesk, SourceThirdParty:
	case "":
		return &FieldError{Field: "source", Message: "required"}
	default:
		return &FieldError{Field: "source", Message: fmt.Sprintf("%q is not one of patrol, resident, phone, front_desk, third_party", r.Source)}
	}
	switch r.Scope {
	case "":
		r.Scope = ScopePublic
	case ScopePublic, ScopeInHome:
	default:
		return &FieldError{Field: "scope", Message: fmt.Sprintf("%q is not public or in_home", r.Scope)}
	}
	if r.Level < 0 || r.Level > 3 {
		return &FieldError{Field: "level", Message: "must be 1, 2 or 3 (or absent to derive it)"}
	}
	for _, f := range []struct {
		name, value string
		required    bool
	}{
		{"site", r.Site, true}, {"building", r.Building, true}, {"category", r.Category, true},
		{"location", r.Location, false}, {"unit", r.Unit, false}, {"floor", r.Floor, false},
		{"room", r.Room, false}, {"device_id", r.DeviceID, false},
		{"reporter.name", r.Reporter.Name, false}, {"reporter.phone", r.Reporter.Phone, false},
	} {
		if f.required && f.value == "" {
			return &FieldError{Field: f.name, Message: "required", Code: "required"}
		}
		if utf8.RuneCountInString(f.value) > maxShortField {
			return &FieldError{Field: f.name, Message: fmt.Sprintf("longer than %d characters", maxShortField)}
		}
	}
	if r.Description == "" {
		return &FieldError{Field: "description", Message: "required", Code: "required"}
	}
	if n := utf8.RuneCountInString(r.Description); n > MaxDescription {
		return &FieldError{Field: "description", Message: fmt.Sprintf("%d characters, at most %d", n, MaxDescription)}
	}
	return nil
}

// Report files a manual report. When the incident already has an open
// ticket (same device, or same site, building, location and category) the
// report is attached to that ticket's history and merged is true;
// otherwise a new ticket is opened. Either way the report (reporter,
// phone, text) is kept in the ticket's Reporters, and ReportID of the
// answer names it for the photos sent with it. A new in-home ticket
// carries its verification code in VerificationCode, in this answer only,
// and only when the answer goes back to the owner's channel (see
// codeForAnswer). Bad input is a *FieldError.
func (s *Service) Report(ctx context.Context, by Actor, r Report) (t Ticket, merged bool, err error) {
	if err := r.Validate(); err != nil {
		return Ticket{}, false, err
	}
	if by.Name == "" {
		return Ticket{}, false, &FieldError{Field: "actor", Message: "who reports is required"}
	}
	level, derived := r.Level, ""
	if level == 0 {
		level, derived = DeriveLevel(r.Category, r.Description), " (derived)"
	}
	var code, stored string
	if r.Scope == ScopeInHome {
		if code, err = verificationCode(); err != nil {
			return Ticket{}, false, err
		}
		if stored, err = hashCode(code); err != nil {
			return Ticket{}, false, err
		}
		ctx = withIssuedCode(ctx, stored, code)
	}
	placeKey, hasPlace := placeIncident(r)
	var id, reportID int64
	var joined []string // alarms taken off the triage queue onto the new ticket
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		merged, reportID, joined = false, 0, nil
		var err error
		id, err = findOpenIncident(ctx, tx, r, placeKey, hasPlace)
		if err != nil {
			return err
		}
		if id != 0 {
			merged = true
			if err := s.mergeReport(ctx, tx, id, by, r, level); err != nil {
				return err
			}
			reportID, err = s.keepReport(ctx, tx, id, by, r, true)
			return err
		}
		key := placeKey
		switch {
		case r.DeviceID != "":
			key = "device:" + r.DeviceID + ":report"
		case !hasPlace:
			key, err = uniqueIncident()
			if err != nil {
				return err
			}
		}
		nt := newTicket{Ticket: Ticket{
			Source: r.Source, Level: level, Category: r.Category, Site: r.Site, Building: r.Building,
			Location: r.Location, Scope: r.Scope, Unit: r.Unit, Floor: r.Floor, Room: r.Room,
			DeviceID: r.DeviceID, Description: r.Description, Reporter: r.Reporter,
		}, incidentKey: key, code: stored}
		note := fmt.Sprintf("reported via %s, L%d%s", r.Source, level, derived)
		if r.Reporter.Name != "" {
			note += ", reporter " + r.Reporter.Name
		}
		var created bool
		id, created, err = s.insertTicket(ctx, tx, nt, by, note)
		if err != nil {
			return err
		}
		if !created { // another writer opened the incident meanwhile: merge into it
			return fmt.Errorf("incident %s got an open ticket meanwhile: %w", key, sqldb.ErrConflict)
		}
		if reportID, err = s.keepReport(ctx, tx, id, by, r, false); err != nil {
			return err
		}
		joined, err = s.joinQueuedOfReport(ctx, tx, r, id, by)
		return err
	})
	if err != nil {
		return Ticket{}, false, fmt.Errorf("report: %w", err)
	}
	t, err = s.Get(ctx, id)
	if err != nil {
		return Ticket{}, false, fmt.Errorf("report: %w", err)
	}
	event := t
	event.History, event.Reporters = nil, nil
	t.ReportID = reportID
	if merged {
		s.cfg.Notifier.Notify(ticketEvent(EventTicketUpdated, event))
		return t, true, nil
	}
	s.cfg.Notifier.Notify(ticketEvent(EventTicketCreated, event))
	s.notifyTriage(ctx, EventTriageDecided, joined)
	if codeForAnswer(by, r) {
		t.VerificationCode = code
	}
	return t, false, nil
}

// codeForAnswer says whether the answer to a report goes back to the
// owner's channel and so may carry the verification code: a resident,
// phone or front-desk report filed by an operator or a patrol (who hands
// the code to the owner), or by an admin. A technician never gets it:
// one who files an in-home report could otherwise claim the job and
// "verify" their own arrival; the owner then gets a code through an
// operator's new_code.
func codeForAnswer(by Actor, r Report) bool {
	switch by.Role {
	case RoleOperator, RolePatrol, RoleAdmin:
	default:
		return false
	}
	switch r.Source {
	case SourceResident, SourcePhone, SourceFrontDesk:
		return true
	}
	return false
}

// keepReport stores the report on ticket id's list of reports.
func (s *Service) keepReport(ctx context.Context, tx *sql.Tx, id int64, by Actor, r Report, merged bool) (int64, error) {
	var rid int64
	err := tx.QueryRowContext(ctx, `INSERT INTO ticket_reports (ticket_id, at, source, name, phone, description, reported_by, merged)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, id, ms(s.now()), r.Source, r.Reporter.Name, r.Reporter.Phone, r.Description, by.Name, merged).Scan(&rid)
	if err != nil {
		return 0, fmt.Errorf("ticket %d keep report: %w", id, err)
	}
	return rid, nil
}

// reports reads the reports of ticket id, oldest first, with the photos
// (of photos, the ticket's) that came with each.
func reports(ctx context.Context, q querier, id int64, photos []Photo) ([]ReportEntry, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, at, source, name, phone, description, reported_by, merged
		FROM ticket_reports WHERE ticket_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("ticket %d reports: %w", id, err)
	}
	defer rows.Close()
	var out []ReportEntry
	for rows.Next() {
		var e ReportEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Source, &e.Name, &e.Phone, &e.Description, &e.ReportedBy, &e.Merged); err != nil {
			return nil, fmt.Errorf("ticket %d reports: %w", id, err)
		}
		e.At = fromMS(at)
		for _, p := range photos {
			if p.ReportID == e.ID {
				e.Photos = append(e.Photos, p.ID)
			}
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ticket %d reports: %w", id, err)
	}
	return out, nil
}

// placeIncident is the key of "the same place and category". A public
// report needs a location to be matched by place (a bare building is too
// wide); an in-home one matches on unit, floor and room as well.
func placeIncident(r Report) (string, bool) {
	if r.Scope == ScopePublic && r.Location == "" {
		return "", false
	}
	if r.Scope == ScopeInHome && r.Location == "" && r.Unit == "" && r.Room == "" {
		return "", false
	}
	key := strings.Join([]string{"place", r.Site, r.Building, string(r.Scope), r.Location, r.Category}, "\x1f")
	if r.Scope == ScopeInHome {
		key += "\x1f" + strings.Join([]string{r.Unit, r.Floor, r.Room}, "\x1f")
	}
	return key, true
}

// findOpenIncident returns the open ticket a report belongs to, or 0.
// A ticket of the same device wins over one of the same place.
func findOpenIncident(ctx context.Context, tx *sql.Tx, r Report, placeKey string, hasPlace bool) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM tickets WHERE status IN `+openStatuses+` AND (
			(?1 <> '' AND device_id = ?1)
			OR (?2 = 1 AND site = ?3 AND building = ?4 AND location = ?5 AND category = ?6 AND scope = ?7
				AND (scope = 'public' OR (unit = ?8 AND floor = ?9 AND room = ?10)))
			OR (?2 = 1 AND incident_key = ?11))
		ORDER BY (?1 <> '' AND device_id = ?1) DESC, level ASC, id ASC LIMIT 1`,
		r.DeviceID, hasPlace, r.Site, r.Building, r.Location, r.Category, r.Scope, r.Unit, r.Floor, r.Room, placeKey,
	).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find open incident: %w", err)
	}
	return id, nil
}

// mergeReport attaches a report to an open ticket.
func (s *Service) mergeReport(ctx context.Context, tx *sql.Tx, id int64, by Actor, r Report, level int) error {
	who := r.Reporter.Name
	if r.Reporter.Phone != "" {
		who = strings.TrimSpace(who + " " + r.Reporter.Phone)
	}
	if who == "" {
		who = by.Name
	}
	note := fmt.Sprintf("report via %s from %s: %s", r.Source, who, r.Description)
	if err := s.addHistory(ctx, tx, id, by, "report_merged", note); err != nil {
		return err
	}
	return s.raiseLevel(ctx, tx, id, level, by, "a merged report asks for it")
}

// verificationCode is the 6-digit code an in-home technician presents.
func verificationCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("verification code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// uniqueIncident keys a ticket that no later report can be matched to by
// key (it may still be matched by device or place).
func uniqueIncident() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("incident key: %w", err)
	}
	return "report:" + hex.EncodeToString(b), nil
}

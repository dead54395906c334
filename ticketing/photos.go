package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Why a photo was refused; match with errors.Is.
var (
	ErrPhotoTooLarge = errors.New("photo too large")
	ErrPhotoType     = errors.New("not a JPEG, PNG or WebP image")
)

// photoTypes are the image types accepted, by sniffed content (never by
// the name or the header the client sends), with the file extension.
var photoTypes = map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}

// Photo stages.
const (
	StageBefore = "before"
	StageAfter  = "after"
)

// AddPhoto is AddReportPhoto for no particular report.
func (s *Service) AddPhoto(ctx context.Context, by Actor, id int64, stage string, body io.Reader) (Photo, error) {
	return s.AddReportPhoto(ctx, by, id, 0, stage, body)
}

// AddReportPhoto stores an image for ticket id from body: at most
// MaxPhotoBytes (ErrPhotoTooLarge otherwise), JPEG, PNG or WebP by its
// first bytes (ErrPhotoType otherwise). The file is named by caretaker,
// never by the uploader, inside PhotosDir, and is listed on the ticket.
// stage is before, after or empty. reportID, when not 0, names the report
// of the ticket (Ticket.ReportID of the answer to it) the photo came
// with, so a merged report keeps its photos. A technician may add photos
// only to a ticket assigned to them or one they reported.
func (s *Service) AddReportPhoto(ctx context.Context, by Actor, id, reportID int64, stage string, body io.Reader) (Photo, error) {
	if stage != "" && stage != StageBefore && stage != StageAfter {
		return Photo{}, &FieldError{Field: "stage", Message: fmt.Sprintf("%q is not before or after", stage)}
	}
	if !slices.Contains([]string{RolePatrol, RoleTechnician, RoleOperator, RoleAdmin}, by.Role) {
		return Photo{}, &ActionError{Action: "photo", Kind: ErrForbidden, Reason: "role " + orNone(by.Role) + " may not add photos"}
	}
	t, err := getTicket(ctx, s.db, id)
	if err != nil {
		return Photo{}, err
	}
	var reported int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM ticket_reports WHERE ticket_id = ? AND reported_by = ?",
		t.ID, by.Name).Scan(&reported); err != nil {
		return Photo{}, fmt.Errorf("photo: read reports: %w", err)
	}
	if by.Role == RoleTechnician && t.Assignee != by.Name && reported == 0 {
		return Photo{}, &ActionError{Action: "photo", Kind: ErrForbidden,
			Reason: fmt.Sprintf("ticket %s is assigned to %s, not to %s", t.Number, orNobody(t.Assignee), by.Name)}
	}
	if reportID != 0 {
		var reporter string
		err := s.db.QueryRowContext(ctx, "SELECT reported_by FROM ticket_reports WHERE id = ? AND ticket_id = ?", reportID, t.ID).Scan(&reporter)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return Photo{}, &FieldError{Field: "report", Message: fmt.Sprintf("%d is not a report of ticket %s", reportID, t.Number)}
		case err != nil:
			return Photo{}, fmt.Errorf("photo: read report: %w", err)
		case reporter != by.Name && by.Role != RoleOperator && by.Role != RoleAdmin:
			return Photo{}, &ActionError{Action: "photo", Kind: ErrForbidden, Reason: fmt.Sprintf("report %d was filed by someone else", reportID)}
		}
	}
	u, err := takeUpload(s.cfg.PhotosDir, body, s.cfg.MaxPhotoBytes, photoTypes, "photo", ErrPhotoType, ErrPhotoTooLarge)
	if err != nil {
		return Photo{}, err
	}
	defer u.discard()
	name, err := u.keep(fmt.Sprintf("t%d-", t.ID), "photo")
	if err != nil {
		return Photo{}, err
	}
	final := filepath.Join(s.cfg.PhotosDir, name)
	ctype, size := u.ctype, u.size
	p := Photo{TicketID: t.ID, ContentType: ctype, Size: size, Stage: stage, UploadedBy: by.Name, UploadedAt: s.now().UTC(),
		ReportID: reportID, file: name}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO ticket_photos(ticket_id, file, content_type, size, stage, uploaded_by, uploaded_at, report_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, t.ID, name, ctype, size, stage, by.Name, ms(p.UploadedAt), nullID(reportID)).Scan(&p.ID)
		if err != nil {
			return fmt.Errorf("record photo: %w", err)
		}
		note := fmt.Sprintf("photo %d added (%s, %d bytes)", p.ID, ctype, size)
		if stage != "" {
			note = fmt.Sprintf("%s photo %d added (%s, %d bytes)", stage, p.ID, ctype, size)
		}
		if reportID != 0 {
			note += fmt.Sprintf(", with report %d", reportID)
		}
		return s.addHistory(ctx, tx, t.ID, by, "photo", note)
	})
	if err != nil {
		os.Remove(final)
		return Photo{}, err
	}
	return p, nil
}

// OpenPhoto opens photo photoID of ticket id for reading; the caller
// closes it.
func (s *Service) OpenPhoto(ctx context.Context, id, photoID int64) (Photo, io.ReadSeekCloser, error) {
	p, err := scanPhoto(s.db.QueryRowContext(ctx, "SELECT "+photoColumns+" FROM ticket_photos WHERE id = ? AND ticket_id = ?", photoID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Photo{}, nil, fmt.Errorf("photo %d of ticket %d: %w", photoID, id, ErrNotFound)
	}
	if err != nil {
		return Photo{}, nil, fmt.Errorf("photo %d: %w", photoID, err)
	}
	// p.file was made by AddPhoto: a bare name, no separators.
	f, err := os.Open(filepath.Join(s.cfg.PhotosDir, filepath.Base(p.file)))
	if err != nil {
		return Photo{}, nil, fmt.Errorf("photo %d file: %w", photoID, err)
	}
	return p, f, nil
}

const photoColumns = "id, ticket_id, file, content_type, size, stage, uploaded_by, uploaded_at, coalesce(report_id, 0)"

func scanPhoto(r rowScanner) (Photo, error) {
	var p Photo
	var at int64
	if err := r.Scan(&p.ID, &p.TicketID, &p.file, &p.ContentType, &p.Size, &p.Stage, &p.UploadedBy, &at, &p.ReportID); err != nil {
		return Photo{}, err
	}
	p.UploadedAt = fromMS(at)
	return p, nil
}

func photos(ctx context.Context, q querier, id int64) ([]Photo, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+photoColumns+" FROM ticket_photos WHERE ticket_id = ? ORDER BY id", id)
	if err != nil {
		return nil, fmt.Errorf("ticket %d photos: %w", id, err)
	}
	defer rows.Close()
	out := []Photo{}
	for rows.Next() {
		p, err := scanPhoto(rows)
		if err != nil {
			return nil, fmt.Errorf("ticket %d photos: %w", id, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func orNobody(name string) string {
	if name == "" {
		return "nobody"
	}
	return name
}

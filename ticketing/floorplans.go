package ticketing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of a floor plan
	_ "image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caretaker-iot/caretaker/devices"
)

// Floor plans: the drawing of one floor of one building of a site, on
// which devices are placed (DevicePosition), so that a screen shows where
// the live faults are. They are kept beside the tickets because they live
// in the same store (SQLite or PostgreSQL); the image files sit in the
// "plans" folder of PhotosDir.

// Why a floor plan was refused; match with errors.Is.
var (
	ErrPlanTooLarge = errors.New("floor plan too large")
	ErrPlanType     = errors.New("not a PNG or JPEG image")
)

// planTypes are the image types a floor plan may be, by sniffed content.
var planTypes = map[string]string{"image/jpeg": ".jpg", "image/png": ".png"}

// FloorKey names one floor of one building of a site. Floor may be "" (a
// building whose floors are not told apart).
type FloorKey struct {
	Site     string `json:"site"`
	Building string `json:"building"`
	Floor    string `json:"floor"`
}

// FloorPlan is an uploaded plan of one floor.
type FloorPlan struct {
	FloorKey
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Width       int       `json:"width"`  // pixels
	Height      int       `json:"height"` // pixels
	UploadedBy  string    `json:"uploaded_by"`
	UploadedAt  time.Time `json:"uploaded_at"`
	file        string
}

// DevicePosition is where a device sits on its floor's plan: X and Y are
// fractions (0..1) of the plan's width and height from its top left
// corner. Building and Floor are the device's when it was placed: a
// device moved to another floor (in its configuration) is not on the old
// plan any more.
type DevicePosition struct {
	Device   string    `json:"device_id"`
	Site     string    `json:"site"`
	Building string    `json:"building"`
	Floor    string    `json:"floor"`
	X        float64   `json:"x"`
	Y        float64   `json:"y"`
	PlacedBy string    `json:"placed_by"`
	PlacedAt time.Time `json:"placed_at"`
}

// CheckFloor says what is wrong with a floor's names: the site is an id,
// building is given, and neither building nor floor is longer than 64
// bytes or holds control characters. The error is a *FieldError.
func CheckFloor(f FloorKey) error {
	if !devices.ValidID(f.Site) {
		return &FieldError{Field: "site", Message: fmt.Sprintf("%q is not a site id", f.Site)}
	}
	if f.Building == "" {
		return &FieldError{Field: "building", Message: "required"}
	}
	for _, v := range []struct{ name, s string }{{"building", f.Building}, {"floor", f.Floor}} {
		if len(v.s) > 64 || !utf8.ValidString(v.s) || strings.IndexFunc(v.s, unicode.IsControl) >= 0 {
			return &FieldError{Field: v.name, Message: "at most 64 bytes of text, no control characters"}
		}
	}
	return nil
}

// PutFloorPlan stores the plan of floor f from body, replacing the one
// it had: at most MaxPhotoBytes (ErrPlanTooLarge otherwise), a PNG or
// JPEG by its bytes, whose header decodes (ErrPlanType otherwise). The
// file is named by caretaker, never by the uploader. Who may upload is
// the caller's to check.
func (s *Service) PutFloorPlan(ctx context.Context, by Actor, f FloorKey, body io.Reader) (FloorPlan, error) {
	if err := CheckFloor(f); err != nil {
		return FloorPlan{}, err
	}
	dir := filepath.Join(s.cfg.PhotosDir, "plans")
	u, err := takeUpload(dir, body, s.cfg.MaxPhotoBytes, planTypes, "floor plan", ErrPlanType, ErrPlanTooLarge)
	if err != nil {
		return FloorPlan{}, err
	}
	defer u.discard()
	if _, err := u.tmp.Seek(0, io.SeekStart); err != nil {
		return FloorPlan{}, fmt.Errorf("read floor plan: %w", err)
	}
	// The first bytes say PNG or JPEG; the header must also decode as it.
	cfg, format, err := image.DecodeConfig(u.tmp)
	if err != nil || "image/"+format != u.ctype || cfg.Width <= 0 || cfg.Height <= 0 {
		return FloorPlan{}, fmt.Errorf("floor plan does not decode as %s: %w", u.ctype, ErrPlanType)
	}
	name, err := u.keep("plan-", "floor plan")
	if err != nil {
		return FloorPlan{}, err
	}
	final := filepath.Join(dir, name)
	ctype, size := u.ctype, u.size
	p := FloorPlan{FloorKey: f, ContentType: ctype, Size: size, Width: cfg.Width, Height: cfg.Height,
		UploadedBy: by.Name, UploadedAt: s.now().UTC(), file: name}
	var old string
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		old = ""
		err := tx.QueryRowContext(ctx, "SELECT file FROM floor_plans WHERE site = ? AND building = ? AND floor = ?",
			f.Site, f.Building, f.Floor).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read floor plan: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO floor_plans(site, building, floor, file, content_type, size, width, height, uploaded_by, uploaded_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (site, building, floor) DO UPDATE SET file = excluded.file, content_type = excluded.content_type,
			size = excluded.size, width = excluded.width, height = excluded.height,
			uploaded_by = excluded.uploaded_by, uploaded_at = excluded.uploaded_at`,
			f.Site, f.Building, f.Floor, name, ctype, size, cfg.Width, cfg.Height, by.Name, ms(p.UploadedAt))
		if err != nil {
			return fmt.Errorf("record floor plan: %w", err)
		}
		return nil
	})
	if err != nil {
		os.Remove(final)
		return FloorPlan{}, err
	}
	if old != "" {
		os.Remove(filepath.Join(dir, filepath.Base(old)))
	}
	return p, nil
}

const planColumns = "site, building, floor, file, content_type, size, width, height, uploaded_by, uploaded_at"

func scanPlan(r rowScanner) (FloorPlan, error) {
	var p FloorPlan
	var at int64
	if err := r.Scan(&p.Site, &p.Building, &p.Floor, &p.file, &p.ContentType, &p.Size, &p.Width, &p.Height, &p.UploadedBy, &at); err != nil {
		return FloorPlan{}, err
	}
	p.UploadedAt = fromMS(at)
	return p, nil
}

// FloorPlans lists the plans of the given sites (none: every site), by
// site, building and floor.
func (s *Service) FloorPlans(ctx context.Context, sites []string) ([]FloorPlan, error) {
	q, args := "SELECT "+planColumns+" FROM floor_plans", []any(nil)
	if len(sites) > 0 {
		q += " WHERE site IN (?" + strings.Repeat(", ?", len(sites)-1) + ")"
		for _, site := range sites {
			args = append(args, site)
		}
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY site, building, floor", args...)
	if err != nil {
		return nil, fmt.Errorf("floor plans: %w", err)
	}
	defer rows.Close()
	out := []FloorPlan{}
	for rows.Next() {
		p, err := scanPlan(rows)
		if err != nil {
			return nil, fmt.Errorf("floor plans: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// OpenFloorPlan opens the plan of floor f for reading (ErrNotFound when
// it has none); the caller closes it.
func (s *Service) OpenFloorPlan(ctx context.Context, f FloorKey) (FloorPlan, io.ReadSeekCloser, error) {
	p, err := scanPlan(s.db.QueryRowContext(ctx, "SELECT "+planColumns+" FROM floor_plans WHERE site = ? AND building = ? AND floor = ?",
		f.Site, f.Building, f.Floor))
	if errors.Is(err, sql.ErrNoRows) {
		return FloorPlan{}, nil, fmt.Errorf("floor plan of %s/%s/%s: %w", f.Site, f.Building, f.Floor, ErrNotFound)
	}
	if err != nil {
		return FloorPlan{}, nil, fmt.Errorf("floor plan: %w", err)
	}
	// p.file was made by PutFloorPlan: a bare name, no separators.
	file, err := os.Open(filepath.Join(s.cfg.PhotosDir, "plans", filepath.Base(p.file)))
	if err != nil {
		return FloorPlan{}, nil, fmt.Errorf("floor plan file: %w", err)
	}
	return p, file, nil
}

// PlaceDevice records where device d sits on its floor's plan: x and y
// from 0 to 1 (a *FieldError otherwise), replacing where it sat. The
// floor need not have a plan yet. Who may place is the caller's to check.
func (s *Service) PlaceDevice(ctx context.Context, by Actor, d devices.Device, x, y float64) (DevicePosition, error) {
	for _, v := range []struct {
		name string
		v    float64
	}{{"x", x}, {"y", y}} {
		if math.IsNaN(v.v) || v.v < 0 || v.v > 1 {
			return DevicePosition{}, &FieldError{Field: v.name, Message: fmt.Sprintf("%g is not a fraction from 0 to 1 of the plan", v.v)}
		}
	}
	if err := CheckFloor(FloorKey{Site: d.Site, Building: d.Building, Floor: d.Floor}); err != nil {
		return DevicePosition{}, &FieldError{Field: "device_id", Message: "device " + d.ID + " has no building to place it in"}
	}
	p := DevicePosition{Device: d.ID, Site: d.Site, Building: d.Building, Floor: d.Floor, X: x, Y: y, PlacedBy: by.Name, PlacedAt: s.now().UTC()}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO device_positions(device_id, site, building, floor, x, y, placed_by, placed_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (device_id) DO UPDATE SET site = excluded.site, building = excluded.building, floor = excluded.floor,
			x = excluded.x, y = excluded.y, placed_by = excluded.placed_by, placed_at = excluded.placed_at`,
			p.Device, p.Site, p.Building, p.Floor, p.X, p.Y, p.PlacedBy, ms(p.PlacedAt))
		if err != nil {
			return fmt.Errorf("place device %s: %w", d.ID, err)
		}
		return nil
	})
	if err != nil {
		return DevicePosition{}, err
	}
	return p, nil
}

// DevicePositions lists where devices of the given sites (none: every
// site) were placed, by device.
func (s *Service) DevicePositions(ctx context.Context, sites []string) ([]DevicePosition, error) {
	q, args := "SELECT device_id, site, building, floor, x, y, placed_by, placed_at FROM device_positions", []any(nil)
	if len(sites) > 0 {
		q += " WHERE site IN (?" + strings.Repeat(", ?", len(sites)-1) + ")"
		for _, site := range sites {
			args = append(args, site)
		}
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY device_id", args...)
	if err != nil {
		return nil, fmt.Errorf("device positions: %w", err)
	}
	defer rows.Close()
	out := []DevicePosition{}
	for rows.Next() {
		var p DevicePosition
		var at int64
		if err := rows.Scan(&p.Device, &p.Site, &p.Building, &p.Floor, &p.X, &p.Y, &p.PlacedBy, &at); err != nil {
			return nil, fmt.Errorf("device positions: %w", err)
		}
		p.PlacedAt = fromMS(at)
		out = append(out, p)
	}
	return out, rows.Err()
}

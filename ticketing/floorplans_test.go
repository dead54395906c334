package ticketing

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/caretaker-iot/caretaker/devices"
)

// planPNG and planJPEG are real images of w×h pixels.
func planPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func planJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestFloorPlans(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend, func(c *Config) { c.MaxPhotoBytes = 4096 })
		ctx := context.Background()
		floor3 := FloorKey{Site: "s1", Building: "B2", Floor: "3"}
		big := append(planPNG(t, 4, 4), bytes.Repeat([]byte{0}, 4096)...)
		for _, c := range []struct {
			name  string
			floor FloorKey
			body  []byte
			err   error
			field string
		}{
			{"png", floor3, planPNG(t, 40, 30), nil, ""},
			{"jpeg replaces it", floor3, planJPEG(t, 20, 10), nil, ""},
			{"webp is no floor plan", floor3, webpBytes, ErrPlanType, ""},
			{"text named .png", floor3, []byte("<svg onload=alert(1)>"), ErrPlanType, ""},
			{"a PNG header on no image", floor3, pngBytes, ErrPlanType, ""},
			{"empty", floor3, nil, ErrPlanType, ""},
			{"too large", floor3, big, ErrPlanTooLarge, ""},
			{"no building", FloorKey{Site: "s1", Floor: "3"}, planPNG(t, 4, 4), nil, "building"},
			{"bad site", FloorKey{Site: "s/1", Building: "B2"}, planPNG(t, 4, 4), nil, "site"},
			{"control characters", FloorKey{Site: "s1", Building: "B2", Floor: "3\n"}, planPNG(t, 4, 4), nil, "floor"},
		} {
			t.Run(c.name, func(t *testing.T) {
				p, err := f.svc.PutFloorPlan(ctx, admin, c.floor, bytes.NewReader(c.body))
				var fe *FieldError
				switch {
				case c.field != "":
					if !errors.As(err, &fe) || fe.Field != c.field {
						t.Fatalf("err %v, want a field error on %s", err, c.field)
					}
				case c.err != nil:
					if !errors.Is(err, c.err) {
						t.Fatalf("err %v, want %v", err, c.err)
					}
				case err != nil:
					t.Fatal(err)
				default:
					if p.UploadedBy != admin.Name || p.Size != int64(len(c.body)) || p.Width == 0 {
						t.Errorf("plan %+v", p)
					}
				}
			})
		}
		// The JPEG replaced the PNG: one plan, one file, 20×10.
		plans, err := f.svc.FloorPlans(ctx, []string{"s1"})
		if err != nil || len(plans) != 1 || plans[0].ContentType != "image/jpeg" || plans[0].Width != 20 || plans[0].Height != 10 || plans[0].FloorKey != floor3 {
			t.Fatalf("plans %+v, %v", plans, err)
		}
		entries, _ := os.ReadDir(filepath.Join(filepath.Dir(f.path), "photos", "plans"))
		if len(entries) != 1 {
			t.Errorf("plans folder holds %d files, want the one plan (refused and replaced ones removed)", len(entries))
		}
		p, rd, err := f.svc.OpenFloorPlan(ctx, floor3)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rd)
		rd.Close()
		if !bytes.Equal(got, planJPEG(t, 20, 10)) || p.ContentType != "image/jpeg" {
			t.Errorf("opened %d bytes of %s", len(got), p.ContentType)
		}
		if _, _, err := f.svc.OpenFloorPlan(ctx, FloorKey{Site: "s1", Building: "B2", Floor: "4"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("a floor without a plan: %v", err)
		}
		if plans, _ := f.svc.FloorPlans(ctx, []string{"s2"}); len(plans) != 0 {
			t.Errorf("s2's plans %+v", plans)
		}
	})
}

func TestPlaceDevice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, backend string) {
		f := newFixtureOn(t, backend)
		ctx := context.Background()
		d := devices.Device{ID: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Floor: "3"}
		for _, c := range []struct {
			name  string
			d     devices.Device
			x, y  float64
			field string
		}{
			{"placed", d, 0.25, 0.5, ""},
			{"moved", d, 0.3, 0.7, ""},
			{"x off the plan", d, 1.5, 0.5, "x"},
			{"y below 0", d, 0.5, -0.1, "y"},
			{"no building", devices.Device{ID: "x1", Site: "s1"}, 0.5, 0.5, "device_id"},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := f.svc.PlaceDevice(ctx, admin, c.d, c.x, c.y)
				var fe *FieldError
				if c.field == "" && err != nil {
					t.Fatal(err)
				}
				if c.field != "" && (!errors.As(err, &fe) || fe.Field != c.field) {
					t.Fatalf("err %v, want a field error on %s", err, c.field)
				}
			})
		}
		if _, err := f.svc.PlaceDevice(ctx, admin, devices.Device{ID: "leak-9", Site: "s2", Building: "C1"}, 0, 1); err != nil {
			t.Fatal(err)
		}
		got, err := f.svc.DevicePositions(ctx, []string{"s1"})
		if err != nil || len(got) != 1 {
			t.Fatalf("positions %+v, %v", got, err)
		}
		if p := got[0]; p.Device != "gas-b2-07" || p.X != 0.3 || p.Y != 0.7 || p.Building != "B2" || p.Floor != "3" || p.PlacedBy != admin.Name {
			t.Errorf("position %+v, want the last one", p)
		}
		if all, _ := f.svc.DevicePositions(ctx, nil); len(all) != 2 {
			t.Errorf("every site's positions: %+v", all)
		}
	})
}

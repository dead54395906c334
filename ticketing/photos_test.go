package ticketing

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// Smallest headers that sniff as each type, padded.
var (
	pngBytes  = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100)...)
	jpegBytes = append([]byte("\xff\xd8\xff\xe0"), bytes.Repeat([]byte{1}, 100)...)
	webpBytes = append([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "), bytes.Repeat([]byte{2}, 100)...)
)

func TestPhotos(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxPhotoBytes = 1024 })
	ctx := context.Background()
	id := ticketIn(t, f, StatusNew)

	for _, c := range []struct {
		name  string
		body  []byte
		stage string
		want  string
		err   error
	}{
		{"png", pngBytes, StageBefore, "image/png", nil},
		{"jpeg", jpegBytes, StageAfter, "image/jpeg", nil},
		{"webp", webpBytes, "", "image/webp", nil},
		{"text named .jpg", []byte("<html><script>alert(1)</script>"), "", "", ErrPhotoType},
		{"empty", nil, "", "", ErrPhotoType},
		{"too large", append(append([]byte{}, pngBytes...), bytes.Repeat([]byte{0}, 1024)...), "", "", ErrPhotoTooLarge},
		{"exactly the limit", append(append([]byte{}, jpegBytes...), bytes.Repeat([]byte{0}, 1024-len(jpegBytes))...), "", "image/jpeg", nil},
	} {
		p, err := f.svc.AddPhoto(ctx, patrol, id, c.stage, bytes.NewReader(c.body))
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || p.ContentType != c.want || p.Size != int64(len(c.body)) || p.Stage != c.stage {
			t.Errorf("%s: %+v err %v", c.name, p, err)
			continue
		}
		got, file, err := f.svc.OpenPhoto(ctx, id, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(file)
		file.Close()
		if !bytes.Equal(b, c.body) || got.ContentType != c.want {
			t.Errorf("%s: stored bytes differ", c.name)
		}
	}
	if _, err := f.svc.AddPhoto(ctx, patrol, id, "during", bytes.NewReader(pngBytes)); err == nil {
		t.Error("stage during accepted")
	}
	if _, err := f.svc.AddPhoto(ctx, Actor{"eng1", "engineer"}, id, "", bytes.NewReader(pngBytes)); !errors.Is(err, ErrForbidden) {
		t.Errorf("engineer upload: %v", err)
	}
	if _, err := f.svc.AddPhoto(ctx, patrol, 999, "", bytes.NewReader(pngBytes)); !errors.Is(err, ErrNotFound) {
		t.Errorf("photo of unknown ticket: %v", err)
	}
	if _, _, err := f.svc.OpenPhoto(ctx, id+1, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("photo 1 through another ticket: %v", err)
	}

	tk := mustGet(t, f, id)
	if len(tk.Photos) != 4 {
		t.Fatalf("%d photos listed, want 4", len(tk.Photos))
	}
	if n := strings.Count(strings.Join(actions(tk.History), " "), "photo"); n != 4 {
		t.Errorf("%d photo history rows", n)
	}
	// Only the stored files are left: no temporary files of refused uploads.
	entries, err := os.ReadDir(f.svc.cfg.PhotosDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("photos folder holds %v, want the 4 stored photos", names)
	}
}

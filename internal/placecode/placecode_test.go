package placecode

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

const key = "0123456789abcdef0123456789abcdef"

func TestSignerBindsThePlace(t *testing.T) {
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	p := Place{Site: "demo", Building: "B2", Location: "pump room", Device: "leak-b2-01"}
	tok := s.Sign(p)
	got, err := s.Verify(tok)
	if err != nil || got != p {
		t.Fatalf("Verify(Sign(p)) = %+v, %v; want %+v", got, err, p)
	}
	other, _ := NewSigner(strings.Repeat("x", 32))
	body, sig, _ := strings.Cut(tok, ".")
	moved := s.Sign(Place{Site: "demo", Building: "B1", Location: "pump room", Device: "leak-b2-01"})
	movedBody, _, _ := strings.Cut(moved, ".")
	for _, tc := range []struct {
		name, token string
		signer      *Signer
	}{
		{"another key", tok, other},
		{"another place, the old signature", movedBody + "." + sig, s},
		{"no signature", body, s},
		{"signature cut", body + "." + sig[:len(sig)-2], s},
		{"empty", "", s},
		{"garbage", "a.b", s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.signer.Verify(tc.token); err != ErrInvalid {
				t.Fatalf("Verify = %v, want ErrInvalid", err)
			}
		})
	}
	if _, err := NewSigner("short"); err == nil {
		t.Fatal("a short key was taken")
	}
	if strings.Contains(tok, key) {
		t.Fatal("the token carries the key")
	}
}

func TestPlaceCheck(t *testing.T) {
	for _, tc := range []struct {
		p     Place
		field string // "" valid
	}{
		{Place{Site: "demo", Building: "B2", Location: "lobby"}, ""},
		{Place{Site: "demo", Building: "B2", Device: "gas-1"}, ""},
		{Place{Site: "de mo", Building: "B2", Location: "lobby"}, "site"},
		{Place{Site: "demo", Location: "lobby"}, "building"},
		{Place{Site: "demo", Building: "B2"}, "location"},
		{Place{Site: "demo", Building: "B2", Device: "a/b"}, "device"},
	} {
		err := tc.p.Check()
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v", tc.p, err)
		case tc.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.field+":")):
			t.Errorf("%+v: error %v, want one naming %s", tc.p, err, tc.field)
		}
	}
}

func TestLimiterPerCode(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := NewLimiter(2, time.Hour, func() time.Time { return now })
	for i := 0; i < 2; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("report %d of code a refused", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != time.Hour {
		t.Fatalf("third report of a: ok %v wait %v; want refused for 1h", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("code b refused because of code a")
	}
	now = now.Add(30 * time.Minute)
	l.Undo("b")
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("code b refused after its report was given back")
	}
	now = now.Add(31 * time.Minute)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("code a still refused after its window")
	}
}

// TestSheets draws a sheet with a CJK face when the machine has one:
// the code in each tile is the QR code of its URL, pixel for pixel, and
// a Chinese line leaves ink only with the CJK face.
func TestSheets(t *testing.T) {
	labels := []Label{
		{URL: "https://caretaker.example/ack/q/abc.def", Lines: []string{"leak-b2-01", "demo / B2 / 水泵房"}},
		{URL: "https://caretaker.example/ack/q/ghi.jkl", Lines: []string{"demo / B1 / lobby"}},
	}
	b, err := Fonts{}.PNG(labels)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds().Size(); got != (image.Point{X: columns * tileW, Y: tileH}) {
		t.Fatalf("sheet size %v", got)
	}
	for i, l := range labels {
		q, _ := qrcode.New(l.URL, qrcode.Medium)
		want := q.Image(qrSize)
		x0 := i*tileW + (tileW-qrSize)/2
		for y := 0; y < qrSize; y += 3 {
			for x := 0; x < qrSize; x += 3 {
				wr, _, _, _ := want.At(x, y).RGBA()
				gr, _, _, _ := img.At(x0+x, y).RGBA()
				if (wr > 0x7fff) != (gr > 0x7fff) {
					t.Fatalf("label %d: pixel %d,%d of the code differs from the QR code of %s", i, x, y, l.URL)
				}
			}
		}
	}
	pdf, err := Fonts{}.PDF(labels)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf, []byte("/Image")) {
		t.Fatalf("not a PDF with images: %q", pdf[:min(len(pdf), 20)])
	}

	ink := func(fs Fonts, line string) int {
		tile, err := fs.tile(Label{URL: "x", Lines: []string{line}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for y := qrSize; y < tileH-2; y++ {
			for x := 2; x < tileW-2; x++ {
				if r, _, _, _ := tile.At(x, y).RGBA(); r < 0x8000 {
					n++
				}
			}
		}
		return n
	}
	if n := ink(Fonts{}, "水泵房"); n != 0 {
		t.Fatalf("the ASCII face drew %d pixels of Chinese", n)
	}
	const cjk = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
	face, err := LoadFace(cjk, 22)
	if err != nil {
		t.Fatalf("no CJK font (%v): scripts/test installs fonts-noto-cjk", err)
	}
	if n := ink(Fonts{Face: face}, "水泵房"); n < 50 {
		t.Fatalf("the CJK face drew %d pixels of Chinese", n)
	}
}

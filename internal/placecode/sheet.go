package placecode

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"strings"

	"github.com/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// Label is one code on a sheet: the URL it opens and the lines printed
// under it (the place, the device, what to do).
type Label struct {
	URL   string
	Lines []string
}

// Sizes of a label tile, in pixels: a 3×4 grid of them fills an A4 page
// at about 150 dpi.
const (
	tileW   = 400
	tileH   = 560
	qrSize  = 360
	columns = 3
	rowsPDF = 4
)

// Fonts draws the labels' text. With a face of a CJK font (LoadFace) the
// Chinese of a place prints as it is written; without one (nil), a label
// keeps only its ASCII text (ids, Latin names) and says so in Missing.
type Fonts struct {
	Face font.Face
}

// LoadFace reads a TrueType or OpenType font, or a collection (.ttc), and
// makes a face of it at size points (72 dpi: points are pixels). In a
// collection the face whose family names the simplified Chinese variant
// ("SC") is taken, else the first.
func LoadFace(path string, size float64) (font.Face, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("label font: %w", err)
	}
	var f *sfnt.Font
	if c, err := opentype.ParseCollection(b); err == nil && c.NumFonts() > 0 {
		for i := 0; i < c.NumFonts(); i++ {
			fi, err := c.Font(i)
			if err != nil {
				continue
			}
			if f == nil {
				f = fi
			}
			if name, err := fi.Name(nil, sfnt.NameIDFamily); err == nil && strings.Contains(name, " SC") {
				f = fi
				break
			}
		}
	}
	if f == nil {
		return nil, fmt.Errorf("label font %s: no font in it", path)
	}
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("label font %s: %w", path, err)
	}
	return face, nil
}

// tile draws one label: the code, then its lines, wrapped to the tile.
func (fs Fonts) tile(l Label) (*image.RGBA, error) {
	q, err := qrcode.New(l.URL, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr code of %s: %w", l.URL, err)
	}
	img := image.NewRGBA(image.Rect(0, 0, tileW, tileH))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	code := q.Image(qrSize)
	x0 := (tileW - qrSize) / 2
	draw.Draw(img, image.Rect(x0, 0, x0+qrSize, qrSize), code, image.Point{}, draw.Src)
	face := fs.Face
	if face == nil {
		face = basicfont.Face7x13
	}
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: face}
	lineH := face.Metrics().Height.Ceil() + 4
	y := qrSize + lineH
	for _, line := range l.Lines {
		if fs.Face == nil {
			line = asciiOnly(line)
		}
		for _, part := range wrap(d, line, tileW-24) {
			if y > tileH-6 {
				break
			}
			w := d.MeasureString(part).Ceil()
			d.Dot = fixed.P((tileW-w)/2, y)
			d.DrawString(part)
			y += lineH
		}
	}
	// A thin frame to cut along.
	grey := color.Gray{Y: 200}
	for x := 0; x < tileW; x++ {
		img.Set(x, 0, grey)
		img.Set(x, tileH-1, grey)
	}
	for y := 0; y < tileH; y++ {
		img.Set(0, y, grey)
		img.Set(tileW-1, y, grey)
	}
	return img, nil
}

// asciiOnly keeps the printable ASCII of s (what the fallback face has);
// runs of other characters become one space.
func asciiOnly(s string) string {
	var b strings.Builder
	gap := false
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
			gap = false
		} else if !gap {
			b.WriteByte(' ')
			gap = true
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// wrap cuts s into lines no wider than max pixels, at spaces where it
// can, between any two characters where it must (Chinese has no spaces).
func wrap(d *font.Drawer, s string, max int) []string {
	var out []string
	line := ""
	for _, r := range s {
		next := line + string(r)
		if d.MeasureString(next).Ceil() <= max {
			line = next
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 && r != ' ' {
			out = append(out, line[:i])
			line = line[i+1:] + string(r)
			continue
		}
		out = append(out, line)
		line = strings.TrimLeft(string(r), " ")
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// PNG draws the labels as one sheet, columns wide, as many rows as
// needed.
func (fs Fonts) PNG(labels []Label) ([]byte, error) {
	if len(labels) == 0 {
		return nil, errors.New("no labels")
	}
	rows := (len(labels) + columns - 1) / columns
	sheet := image.NewRGBA(image.Rect(0, 0, columns*tileW, rows*tileH))
	draw.Draw(sheet, sheet.Bounds(), image.White, image.Point{}, draw.Src)
	for i, l := range labels {
		t, err := fs.tile(l)
		if err != nil {
			return nil, err
		}
		x, y := (i%columns)*tileW, (i/columns)*tileH
		draw.Draw(sheet, image.Rect(x, y, x+tileW, y+tileH), t, image.Point{}, draw.Src)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, sheet); err != nil {
		return nil, fmt.Errorf("label sheet png: %w", err)
	}
	return buf.Bytes(), nil
}

// PDF lays the labels out on A4 pages, 3×4 a page, each label the image
// of its tile (so its text prints in whatever script the face draws).
func (fs Fonts) PDF(labels []Label) ([]byte, error) {
	if len(labels) == 0 {
		return nil, errors.New("no labels")
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreator("Caretaker", true)
	pdf.SetAutoPageBreak(false, 0)
	const margin, cellW = 10.0, (210.0 - 20.0) / columns
	cellH := cellW * tileH / tileW
	for i, l := range labels {
		if i%(columns*rowsPDF) == 0 {
			pdf.AddPage()
		}
		t, err := fs.tile(l)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, t); err != nil {
			return nil, fmt.Errorf("label png: %w", err)
		}
		name := fmt.Sprintf("label%d", i)
		pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, &buf)
		n := i % (columns * rowsPDF)
		x := margin + float64(n%columns)*cellW
		y := margin + float64(n/columns)*cellH
		pdf.ImageOptions(name, x, y, cellW, cellH, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, l.URL)
	}
	var out bytes.Buffer
	if err := pdf.Output(&out); err != nil {
		return nil, fmt.Errorf("label sheet pdf: %w", err)
	}
	return out.Bytes(), nil
}

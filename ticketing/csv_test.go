package ticketing

import (
	"bytes"
	"context"
	"encoding/csv"
	"slices"
	"testing"
	"time"
)

func TestCSVSafe(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`=HYPERLINK("http://evil.example","x")`, `'=HYPERLINK("http://evil.example","x")`},
		{`+cmd|' /C calc'!A0`, `'+cmd|' /C calc'!A0`},
		{"-2+3", "'-2+3"},
		{"@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"B2", "B2"},
		{"a=b", "a=b"},
		{"0.7500", "0.7500"},
		{"", ""},
		{"'quoted", "'quoted"},
	} {
		if got := CSVSafe(c.in); got != c.want {
			t.Errorf("CSVSafe(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Buildings and categories as people typed them reach the KPI CSV as
// text, never as a formula.
func TestKPICSVNeutralisesFormulas(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// (A leading tab or CR never gets this far: reports are trimmed.)
	evil := []string{`=HYPERLINK("http://evil.example","x")`, `+cmd|' /C calc'!A0`, "-1+1", "@SUM(A1)"}
	for i, b := range evil {
		r := validReport()
		r.Building, r.Location = b, "spot"
		if i == 0 {
			r.Category = "=1+1"
		}
		if _, _, err := f.svc.Report(ctx, patrol, r); err != nil {
			t.Fatalf("report in %q: %v", b, err)
		}
		f.clock.Advance(time.Minute)
	}
	st, err := f.svc.Stats(ctx, StatsQuery{From: t0.Add(-time.Hour), To: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := st.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, row := range rows[1:] {
		if row[0] == "building" || row[0] == "category" {
			keys = append(keys, row[1])
		}
		for _, cell := range row {
			if cell != "" && (cell[0] == '=' || cell[0] == '+' || cell[0] == '-' || cell[0] == '@' || cell[0] == '\t' || cell[0] == '\r') {
				t.Errorf("cell %q would be a formula", cell)
			}
		}
	}
	for _, b := range evil {
		if !slices.Contains(keys, "'"+b) {
			t.Errorf("building %q not in the CSV as text (keys %q)", b, keys)
		}
	}
	if !slices.Contains(keys, "'=1+1") {
		t.Errorf("category =1+1 not neutralised (keys %q)", keys)
	}
}

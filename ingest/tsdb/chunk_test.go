package tsdb

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestChunkRoundTrip: a chunk reads back every time and value bit for
// bit, whatever the values (decimals, counters, noise, NaN, -0, Inf).
func TestChunkRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	series := func(n int, step int64, f func(i int) float64) []sample {
		ss := make([]sample, n)
		ms := int64(1795395500123)
		for i := range ss {
			ss[i] = sample{ms: ms, v: f(i)}
			ms += step + rng.Int64N(40) - 20
		}
		return ss
	}
	tests := []struct {
		name   string
		ss     []sample
		zeroed bool // -0 reads back as 0
	}{
		{"one value", []sample{{ms: 5, v: 1.5}}, false},
		{"two values", []sample{{ms: 5, v: 1.5}, {ms: 9, v: -3}}, false},
		{"flat lel", series(512, 1000, func(int) float64 { return 0 }), false},
		{"noisy lel, one decimal", series(512, 1000, func(int) float64 { return math.Round((2+rng.NormFloat64()*0.2)*10) / 10 }), false},
		{"voltage, two decimals", series(300, 60000, func(int) float64 { return math.Round((230+rng.NormFloat64())*100) / 100 }), false},
		{"counter", series(512, 10000, func(i int) float64 { return float64(1e6 + i*37) }), false},
		{"raw floats", series(100, 1000, func(int) float64 { return rng.Float64() * math.Pi }), false},
		{"NaN alone", []sample{{1, math.NaN()}}, false},
		{"odd floats", []sample{{1, math.NaN()}, {2, math.Copysign(0, -1)}, {3, math.Inf(1)}, {4, math.Inf(-1)}, {5, 1e300}, {6, 0.1}}, false},
		{"negative zero among decimals", []sample{{1, 0.5}, {2, math.Copysign(0, -1)}}, true},
		{"same time twice, times going back", []sample{{10, 1}, {10, 2}, {5, 3}, {1 << 50, 4}, {-7, 5}}, false},
	}
	var e encoder
	var d decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blob, err := e.encode(tt.ss)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.decode(nil, blob)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.ss) {
				t.Fatalf("%d samples back, want %d", len(got), len(tt.ss))
			}
			for i := range got {
				w := tt.ss[i].v
				if tt.zeroed {
					w += 0 // -0 among decimals reads back as 0
				}
				if got[i].ms != tt.ss[i].ms || math.Float64bits(got[i].v) != math.Float64bits(w) {
					t.Fatalf("sample %d = %v, want %v", i, got[i], tt.ss[i])
				}
			}
			t.Logf("%d values in %d bytes (%.2f a value)", len(tt.ss), len(blob), float64(len(blob))/float64(len(tt.ss)))
		})
	}
}

// TestChunkCorrupt: a damaged blob is an error, never a panic or made-up
// values.
func TestChunkCorrupt(t *testing.T) {
	var e encoder
	blob, err := e.encode([]sample{{1, 1}, {2, 2}, {3, 3}})
	if err != nil {
		t.Fatal(err)
	}
	good := append([]byte(nil), blob...)
	var d decoder
	for name, b := range map[string][]byte{
		"empty":        nil,
		"other format": append([]byte{9}, good[1:]...),
		"truncated":    good[:len(good)/2],
		"garbage":      {chunkFormat, 0xde, 0xad, 0xbe, 0xef},
	} {
		if got, err := d.decode(nil, b); err == nil {
			t.Errorf("%s: decoded %v, want an error", name, got)
		}
	}
}

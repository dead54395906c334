package influx

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
)

// fluxReader runs Flux queries on /api/v2/query (InfluxDB 2.x, and 1.8
// with flux-enabled) and parses the annotated CSV answer as it arrives,
// one row at a time: no response is held whole, and a row costs no
// allocation (the client library builds a map per row).
type fluxReader struct {
	http *http.Client
	url  string
	auth string
}

func newFluxReader(cfg Config) (*fluxReader, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.URL, "/") + "/api/v2/query")
	if err != nil {
		return nil, fmt.Errorf("influx.url: %w", err)
	}
	q := u.Query()
	q.Set("org", cfg.Org)
	u.RawQuery = q.Encode()
	r := &fluxReader{http: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}, url: u.String()}
	if cfg.Token != "" {
		r.auth = "Token " + cfg.Token
	}
	return r, nil
}

// Readings returns the stored values of one device between q.From
// (inclusive) and q.To (exclusive), ordered by time then metric. A zero To
// means now, a zero From a day before To.
func (in *Store) Readings(ctx context.Context, q devices.Query) ([]devices.Point, error) {
	var out []devices.Point
	if err := in.ReadingsFunc(ctx, q, func(p devices.Point) error {
		out = append(out, p)
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadingsFunc is Readings handing the values to fn one by one, in the
// same order. It asks InfluxDB for one ReadWindow of the period at a time
// with InfluxQL on /query, its answer in MessagePack decoded as it
// arrives (see influxql.go); a server without /query (404) is read with
// Flux instead. What it holds is at most the values of one instant (one
// window when q.Kind is empty), whatever the period. An error from fn
// stops the read and is returned as it is.
func (in *Store) ReadingsFunc(ctx context.Context, q devices.Query, fn func(devices.Point) error) error {
	q, err := q.Normalize(time.Now)
	if err != nil {
		return err
	}
	if !in.noQL.Load() {
		err := in.readQL(ctx, q, fn)
		switch {
		case errors.Is(err, errNoInfluxQL):
			in.noQL.Store(true)
			in.log.Info("influx: no InfluxQL endpoint (/query answers 404); reading history with Flux")
		case errors.Is(err, errQLNothingRead):
			// Refused before any value: this read with Flux, which needs
			// no database mapping (InfluxDB 2.x).
			in.log.Debug("influx: InfluxQL read refused, reading with Flux", "err", err)
			if ferr := in.readFlux(ctx, q, fn); ferr != nil {
				return fmt.Errorf("%v; with Flux: %w", err, ferr)
			}
			return nil
		default:
			return err
		}
	}
	return in.readFlux(ctx, q, fn)
}

// readFlux is ReadingsFunc over Flux (InfluxDB answers each metric's
// series one after the other, so a window is put in time order before it
// is handed over).
func (in *Store) readFlux(ctx context.Context, q devices.Query, fn func(devices.Point) error) error {
	var buf []devices.Point
	for from := q.From; from.Before(q.To); {
		to := windowEnd(from, q.To, in.cfg.ReadWindow)
		wq := q
		wq.From, wq.To = from, to
		flux, err := in.flux(wq)
		if err != nil {
			return err
		}
		buf = buf[:0]
		keep := func(p devices.Point) {
			// InfluxDB 1.8's Flux range includes its stop: a value at a
			// window's end is the next window's.
			if !p.Time.Before(from) && p.Time.Before(to) {
				buf = append(buf, p)
			}
		}
		if err := in.read.query(ctx, flux, keep); err != nil {
			return fmt.Errorf("influx query: %w", err)
		}
		slices.SortStableFunc(buf, pointOrder)
		for _, p := range buf {
			if err := fn(p); err != nil {
				return err
			}
		}
		from = to
	}
	return nil
}

// query runs one Flux query and hands each numeric or boolean _value row
// to fn (booleans as 0 or 1; other types are skipped).
func (r *fluxReader) query(ctx context.Context, flux string, fn func(devices.Point)) error {
	body, err := json.Marshal(map[string]any{"query": flux, "type": "flux",
		"dialect": map[string]any{"header": true, "annotations": []string{"datatype"}}})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/csv")
	req.Header.Set("Accept-Encoding", "identity") // on a LAN gzip costs more CPU than it saves
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		var e struct{ Error, Message string }
		if json.Unmarshal(msg, &e) == nil && (e.Error != "" || e.Message != "") {
			msg = []byte(e.Error + e.Message)
		}
		return fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return parseFluxCSV(bufio.NewReaderSize(resp.Body, 64<<10), fn)
}

// parseFluxCSV reads annotated CSV (a #datatype line, a header, rows; a
// blank line before the next table) and hands each row's _time, _field
// and _value to fn. A table with an error column is Flux reporting an
// error after the answer began.
func parseFluxCSV(rd *bufio.Reader, fn func(devices.Point)) error {
	var (
		types              []string // of the table's columns, from #datatype
		header             bool     // the next line is the table's header
		colTime, colVal    = -1, -1
		colField, colError = -1, -1
		valType            string
		names              []string // metric names seen: one string each
		fields             [][]byte
	)
	for {
		line, err := rd.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// a longer line than the buffer (long tag values): take it whole
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = rd.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil && err != io.EOF {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			header = false
		case line[0] == '#':
			if bytes.HasPrefix(line, []byte("#datatype,")) {
				types = types[:0]
				for _, f := range splitCSV(line, fields[:0]) {
					types = append(types, string(f))
				}
				header = true
			}
		case header:
			header = false
			fields = splitCSV(line, fields[:0])
			colTime, colVal, colField, colError = -1, -1, -1, -1
			for i, f := range fields {
				switch string(f) {
				case "_time":
					colTime = i
				case "_value":
					colVal = i
				case "_field":
					colField = i
				case "error":
					colError = i
				}
			}
			valType = ""
			if colVal >= 0 && colVal < len(types) {
				valType = types[colVal]
			}
		default:
			fields = splitCSV(line, fields[:0])
			if colError >= 0 && colTime < 0 {
				if colError < len(fields) && len(fields[colError]) > 0 {
					return fmt.Errorf("flux: %s", fields[colError])
				}
				break
			}
			if colTime < 0 || colVal < 0 || colField < 0 || max(colTime, colVal, colField) >= len(fields) {
				break
			}
			var p devices.Point
			var ok bool
			switch valType {
			case "double", "long", "unsignedLong":
				v, perr := strconv.ParseFloat(string(fields[colVal]), 64)
				p.Value, ok = v, perr == nil
			case "boolean":
				p.Value, ok = devices.FlagValue(string(fields[colVal]) == "true").Float(), true
			}
			if !ok {
				break
			}
			ts, terr := parseRFC3339(fields[colTime])
			if terr != nil {
				return fmt.Errorf("flux: _time %q: %w", fields[colTime], terr)
			}
			p.Time = ts
			f := fields[colField]
			for _, n := range names {
				if n == string(f) {
					p.Metric = n
					break
				}
			}
			if p.Metric == "" {
				p.Metric = string(f)
				names = append(names, p.Metric)
			}
			fn(p)
		}
		if err == io.EOF {
			return nil
		}
	}
}

// splitCSV splits one CSV line into fields, appended to out; they point
// into line. A line with a quote goes through encoding/csv.
func splitCSV(line []byte, out [][]byte) [][]byte {
	if bytes.IndexByte(line, '"') >= 0 {
		rec, err := csv.NewReader(bytes.NewReader(line)).Read()
		if err == nil {
			for _, f := range rec {
				out = append(out, []byte(f))
			}
			return out
		}
	}
	for {
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			return append(out, line)
		}
		out = append(out, line[:i])
		line = line[i+1:]
	}
}

// parseRFC3339 reads the times InfluxDB writes, 2006-01-02T15:04:05Z
// with up to nine digits of fraction, without allocating; anything else
// goes through time.Parse.
func parseRFC3339(b []byte) (time.Time, error) {
	n := len(b)
	if n < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[n-1] != 'Z' {
		return time.Parse(time.RFC3339Nano, string(b))
	}
	num := func(s []byte) (int, bool) {
		v := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	ns := 0
	if n > 20 {
		frac := b[19 : n-1]
		if len(frac) < 2 || frac[0] != '.' || len(frac) > 10 {
			return time.Parse(time.RFC3339Nano, string(b))
		}
		v, ok := num(frac[1:])
		if !ok {
			return time.Parse(time.RFC3339Nano, string(b))
		}
		for range 10 - len(frac) {
			v *= 10
		}
		ns = v
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 {
		return time.Parse(time.RFC3339Nano, string(b))
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC), nil
}

// pointOrder is the order history is handed over in: by time, then by
// metric for the values of one instant.
func pointOrder(a, b devices.Point) int {
	if c := a.Time.Compare(b.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Metric, b.Metric)
}

// windowEnd is the end of the read window starting at from: a window
// later, never past the period's end to (nor wrapping over it).
func windowEnd(from, to time.Time, window time.Duration) time.Time {
	end := from.Add(window)
	if end.After(to) || end.Before(from) {
		return to
	}
	return end
}

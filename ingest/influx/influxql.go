package influx

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/caretaker-iot/caretaker/devices"
)

// qlReader runs InfluxQL SELECTs on the 1.x /query endpoint (InfluxDB
// 1.8; 2.x answers it too, a bucket "db" or "db/rp" being its own
// mapping), chunked, times as integer nanoseconds, and decodes the answer
// as it arrives: MessagePack (1.8's densest, typed answer) or, from a
// server that answers JSON instead, JSON one chunk at a time. Against
// Flux's annotated CSV it costs InfluxDB and Caretaker a fraction of the
// CPU for the same values (docs/benchmarks.md, "Backtest").
type qlReader struct {
	http   *http.Client
	url    string // /query with db, rp, epoch, chunked
	auth   string
	accept string
}

// qlChunk is how many values InfluxDB puts in one chunk of its answer.
const qlChunk = 10000

func newQLReader(cfg Config) (*qlReader, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.URL, "/") + "/query")
	if err != nil {
		return nil, fmt.Errorf("influx.url: %w", err)
	}
	db, rp, _ := strings.Cut(cfg.Bucket, "/")
	q := u.Query()
	q.Set("db", db)
	if rp != "" {
		q.Set("rp", rp)
	}
	q.Set("epoch", "ns")
	q.Set("chunked", "true")
	q.Set("chunk_size", strconv.Itoa(qlChunk))
	u.RawQuery = q.Encode()
	r := &qlReader{http: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}, url: u.String(),
		accept: "application/x-msgpack"}
	if cfg.Token != "" {
		r.auth = "Token " + cfg.Token // 1.8 takes "Token user:password" too
	}
	return r, nil
}

// errNoInfluxQL is a server without the /query endpoint (404): the
// reader goes back to Flux.
var errNoInfluxQL = errors.New("no InfluxQL endpoint")

// errQLNothingRead wraps a refusal of InfluxQL before any value was
// handed over (an InfluxDB 2.x bucket without a database mapping answers
// "database not found"): that read is tried once more with Flux.
var errQLNothingRead = errors.New("InfluxQL read refused before any value")

// send posts one statement and returns the answer, status 200; the
// caller closes its body. accept "" is the reader's.
func (r *qlReader) send(ctx context.Context, stmt, accept string) (*http.Response, error) {
	if accept == "" {
		accept = r.accept
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, strings.NewReader(url.Values{"q": {stmt}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", "identity") // on a LAN gzip costs more CPU than it saves
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, errNoInfluxQL
	}
	msg := resp.Header.Get("X-Influxdb-Error") // 1.8 says it here whatever the answer's type
	if msg == "" {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg = strings.TrimSpace(string(body))
		var e struct{ Error, Message string }
		if json.Unmarshal(body, &e) == nil && e.Error+e.Message != "" {
			msg = e.Error + e.Message
		}
	}
	return nil, fmt.Errorf("status %d: %s", resp.StatusCode, msg)
}

// query runs one statement and hands each numeric or boolean value to fn
// with its series' measurement (booleans as 0 or 1; strings and the
// columns a row has no value in are skipped), in the order of the
// answer. An error of fn ends the read and is returned as it is.
func (r *qlReader) query(ctx context.Context, stmt string, fn func(measurement string, p devices.Point) error) error {
	resp, err := r.send(ctx, stmt, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rd := bufio.NewReaderSize(resp.Body, 64<<10)
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch ct {
	case "application/x-msgpack":
		return decodeQLMsgpack(rd, fn)
	case "application/json", "":
		return decodeQLJSON(rd, fn)
	}
	return fmt.Errorf("answer of type %q", ct)
}

// qlSelect is the statement reading q's values in [q.From, q.To): one
// metric or every field, of one measurement or of all (the caller skips
// events and implausible values), of one device. Every name and value in
// it is quoted; q is normalized.
func qlSelect(q devices.Query) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	if q.Metric != "" {
		b.WriteString(quoteIdent(q.Metric))
		b.WriteString("::field")
	} else {
		b.WriteString("*::field")
	}
	b.WriteString(" FROM ")
	if q.Kind != "" {
		b.WriteString(quoteIdent(string(q.Kind)))
	} else {
		b.WriteString("/.*/")
	}
	b.WriteString(` WHERE "device" = `)
	b.WriteString(quoteString(q.Device))
	fmt.Fprintf(&b, " AND time >= %d AND time < %d", qlTime(q.From), qlTime(q.To))
	return b.String()
}

// qlTime is t in nanoseconds, held within what InfluxDB stores.
func qlTime(t time.Time) int64 {
	const lo, hi = math.MinInt64 + 2, math.MaxInt64 - 1
	switch {
	case t.Before(time.Unix(0, lo)):
		return lo
	case t.After(time.Unix(0, hi)):
		return hi
	}
	return t.UnixNano()
}

// quoteIdent is an InfluxQL identifier in double quotes.
func quoteIdent(s string) string { return `"` + qlEscaper.Replace(s) + `"` }

// quoteString is an InfluxQL string literal in single quotes.
func quoteString(s string) string { return `'` + qlEscaper.Replace(s) + `'` }

// qlEscaper escapes what InfluxQL's scanner unescapes in quoted
// identifiers and strings.
var qlEscaper = strings.NewReplacer(`\`, `\\`, `'`, `\'`, `"`, `\"`, "\n", `\n`)

// readQL is ReadingsFunc over InfluxQL, a ReadWindow at a time. InfluxDB
// merges a measurement's series in time order, so the values of one
// measurement are handed over as they come, those of one instant put in
// metric order; the values of all measurements (q.Kind "") come a series
// after the other and are sorted a window at a time.
func (in *Store) readQL(ctx context.Context, q devices.Query, fn func(devices.Point) error) error {
	var (
		buf    []devices.Point
		fnErr  error
		handed bool // a value went to fn
	)
	flush := func() error {
		handed = handed || len(buf) > 0
		if len(buf) > 1 {
			slices.SortStableFunc(buf, pointOrder)
		}
		for _, p := range buf {
			if err := fn(p); err != nil {
				fnErr = err
				return err
			}
		}
		buf = buf[:0]
		return nil
	}
	for from := q.From; from.Before(q.To); {
		to := windowEnd(from, q.To, in.cfg.ReadWindow)
		wq := q
		wq.From, wq.To = from, to
		add := func(name string, p devices.Point) error {
			if q.Kind == "" {
				if name != EventMeasurement && name != ImplausibleMeasurement {
					buf = append(buf, p)
				}
				return nil
			}
			if len(buf) > 0 && !p.Time.Equal(buf[0].Time) {
				if err := flush(); err != nil {
					return err
				}
			}
			buf = append(buf, p)
			return nil
		}
		err := in.ql.query(ctx, qlSelect(wq), add)
		if err == nil {
			err = flush()
		}
		if fnErr != nil {
			return fnErr
		}
		if errors.Is(err, errNoInfluxQL) {
			if from.Equal(q.From) {
				return err // nothing handed over yet: the caller reads with Flux
			}
			return fmt.Errorf("influx query: %v", err) // not again from the start with Flux
		}
		if err != nil && !handed && ctx.Err() == nil {
			return fmt.Errorf("influx query: %v: %w", err, errQLNothingRead)
		}
		if err != nil {
			return fmt.Errorf("influx query: %w", err)
		}
		from = to
	}
	return nil
}

// decodeQLMsgpack reads the chunks of a MessagePack answer (each a map
// {"results": [{"series": [{"name", "columns", "values"}], "error"}],
// "error"}) and hands each value to fn.
func decodeQLMsgpack(rd *bufio.Reader, fn func(string, devices.Point) error) error {
	dec := msgpack.NewDecoder(rd) // a ByteScanner: read as is, no second buffer
	var names []string            // column names seen: one string each
	for {
		n, err := dec.DecodeMapLen()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("msgpack: %w", err)
		}
		for range max(n, 0) {
			key, err := dec.DecodeString()
			if err != nil {
				return fmt.Errorf("msgpack: %w", err)
			}
			switch key {
			case "results":
				if err := decodeQLResults(dec, &names, fn); err != nil {
					return err
				}
			case "error":
				msg, err := dec.DecodeString()
				if err != nil {
					return fmt.Errorf("msgpack: %w", err)
				}
				return errors.New(msg)
			default:
				if err := dec.Skip(); err != nil {
					return fmt.Errorf("msgpack: %w", err)
				}
			}
		}
	}
}

func decodeQLResults(dec *msgpack.Decoder, names *[]string, fn func(string, devices.Point) error) error {
	nres, err := dec.DecodeArrayLen()
	if err != nil {
		return fmt.Errorf("msgpack: %w", err)
	}
	for range max(nres, 0) {
		nk, err := dec.DecodeMapLen()
		if err != nil {
			return fmt.Errorf("msgpack: %w", err)
		}
		for range max(nk, 0) {
			key, err := dec.DecodeString()
			if err != nil {
				return fmt.Errorf("msgpack: %w", err)
			}
			switch key {
			case "series":
				ns, err := dec.DecodeArrayLen()
				if err != nil {
					return fmt.Errorf("msgpack: %w", err)
				}
				for range max(ns, 0) {
					if err := decodeQLSeries(dec, names, fn); err != nil {
						return err
					}
				}
			case "error":
				msg, err := dec.DecodeString()
				if err != nil {
					return fmt.Errorf("msgpack: %w", err)
				}
				return errors.New(msg)
			default:
				if err := dec.Skip(); err != nil {
					return fmt.Errorf("msgpack: %w", err)
				}
			}
		}
	}
	return nil
}

func decodeQLSeries(dec *msgpack.Decoder, names *[]string, fn func(string, devices.Point) error) error {
	nk, err := dec.DecodeMapLen()
	if err != nil {
		return fmt.Errorf("msgpack: %w", err)
	}
	var (
		name    string
		cols    []string
		timeCol = -1
	)
	for range max(nk, 0) {
		key, err := dec.DecodeString()
		if err != nil {
			return fmt.Errorf("msgpack: %w", err)
		}
		switch key {
		case "name":
			if name, err = dec.DecodeString(); err != nil {
				return fmt.Errorf("msgpack: %w", err)
			}
		case "columns":
			nc, err := dec.DecodeArrayLen()
			if err != nil {
				return fmt.Errorf("msgpack: %w", err)
			}
			cols = make([]string, max(nc, 0))
			for i := range cols {
				c, err := dec.DecodeString()
				if err != nil {
					return fmt.Errorf("msgpack: %w", err)
				}
				if c == "time" && timeCol < 0 {
					timeCol = i
				}
				cols[i] = intern(names, c)
			}
		case "values":
			if timeCol < 0 {
				return errors.New("msgpack: values without a time column")
			}
			nr, err := dec.DecodeArrayLen()
			if err != nil {
				return fmt.Errorf("msgpack: %w", err)
			}
			for range max(nr, 0) {
				if err := decodeQLRow(dec, name, cols, timeCol, fn); err != nil {
					return err
				}
			}
		default:
			if err := dec.Skip(); err != nil {
				return fmt.Errorf("msgpack: %w", err)
			}
		}
	}
	return nil
}

// decodeQLRow reads one row: its time first (the time column is the
// first InfluxDB writes), then its values.
func decodeQLRow(dec *msgpack.Decoder, name string, cols []string, timeCol int, fn func(string, devices.Point) error) error {
	nv, err := dec.DecodeArrayLen()
	if err != nil {
		return fmt.Errorf("msgpack: %w", err)
	}
	if nv != len(cols) || timeCol != 0 {
		return fmt.Errorf("msgpack: a row of %d values for %d columns", nv, len(cols))
	}
	ns, err := dec.DecodeInt64()
	if err != nil {
		return fmt.Errorf("msgpack: time: %w", err)
	}
	ts := time.Unix(0, ns).UTC()
	for i := 1; i < nv; i++ {
		c, err := dec.PeekCode()
		if err != nil {
			return fmt.Errorf("msgpack: %w", err)
		}
		var v float64
		switch {
		case c == msgpcode.Nil:
			err = dec.DecodeNil()
			continue
		case c == msgpcode.True || c == msgpcode.False:
			var f bool
			f, err = dec.DecodeBool()
			v = devices.FlagValue(f).Float()
		case c == msgpcode.Float || c == msgpcode.Double || msgpcode.IsFixedNum(c) ||
			c >= msgpcode.Uint8 && c <= msgpcode.Int64:
			v, err = dec.DecodeFloat64()
		default: // a string
			if err = dec.Skip(); err != nil {
				return fmt.Errorf("msgpack: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("msgpack: %w", err)
		}
		if err := fn(name, devices.Point{Time: ts, Metric: cols[i], Value: v}); err != nil {
			return err
		}
	}
	return nil
}

// intern returns the string of *names equal to s, adding s if none is.
func intern(names *[]string, s string) string {
	for _, n := range *names {
		if n == s {
			return n
		}
	}
	*names = append(*names, s)
	return s
}

// decodeQLJSON reads the chunks of a JSON answer, one object a chunk.
func decodeQLJSON(rd *bufio.Reader, fn func(string, devices.Point) error) error {
	dec := json.NewDecoder(rd)
	dec.UseNumber()
	var names []string
	for {
		var chunk struct {
			Results []struct {
				Series []struct {
					Name    string   `json:"name"`
					Columns []string `json:"columns"`
					Values  [][]any  `json:"values"`
				} `json:"series"`
				Error string `json:"error"`
			} `json:"results"`
			Error string `json:"error"`
		}
		if err := dec.Decode(&chunk); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("json: %w", err)
		}
		if chunk.Error != "" {
			return errors.New(chunk.Error)
		}
		for _, res := range chunk.Results {
			if res.Error != "" {
				return errors.New(res.Error)
			}
			for _, s := range res.Series {
				timeCol := slices.Index(s.Columns, "time")
				if timeCol < 0 {
					return errors.New("json: values without a time column")
				}
				for i := range s.Columns {
					s.Columns[i] = intern(&names, s.Columns[i])
				}
				for _, row := range s.Values {
					if len(row) != len(s.Columns) {
						return fmt.Errorf("json: a row of %d values for %d columns", len(row), len(s.Columns))
					}
					tn, _ := row[timeCol].(json.Number)
					ns, err := strconv.ParseInt(string(tn), 10, 64)
					if err != nil {
						return fmt.Errorf("json: time %v: %w", row[timeCol], err)
					}
					ts := time.Unix(0, ns).UTC()
					for i, cell := range row {
						var v float64
						switch x := cell.(type) {
						case json.Number:
							if v, err = strconv.ParseFloat(string(x), 64); err != nil {
								continue
							}
						case bool:
							v = devices.FlagValue(x).Float()
						default:
							continue
						}
						if i == timeCol {
							continue
						}
						if err := fn(s.Name, devices.Point{Time: ts, Metric: s.Columns[i], Value: v}); err != nil {
							return err
						}
					}
				}
			}
		}
	}
}

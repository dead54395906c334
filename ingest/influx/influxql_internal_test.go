package influx

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/internal/testserver"
)

// writeLines posts line protocol (seconds) to the 1.x /write endpoint.
func writeLines(t *testing.T, base, db string, lines ...string) {
	t.Helper()
	resp, err := http.Post(base+"/write?db="+db+"&precision=s", "text/plain", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write: %s: %s", resp.Status, msg)
	}
}

// TestQLReadQuoting: over a real InfluxDB, the InfluxQL read of a device
// whose id holds ' \ and " (and of a metric whose name does) gets that
// device's values and no neighbour's: names and values are escaped, not
// pasted into the statement. Integers come as numbers, booleans as 0 or
// 1, strings are skipped; the period is [from, to); events and
// implausible values are not readings; the values of one instant come
// in metric order. So in MessagePack and in JSON.
func TestQLReadQuoting(t *testing.T) {
	srv := testserver.InfluxDB(t, "caretaker")
	const dev = `gas'b\c"d`
	odd := `m"x'y\z`
	t0 := int64(1795395500)
	writeLines(t, srv.URL, "caretaker",
		fmt.Sprintf(`gas,building=B1,device=%s,site=s1 lel_pct=1.5,n=5i,fault=true,note="x",%s=2 %d`, dev, odd, t0),
		fmt.Sprintf(`gas,building=B9,device=%s,site=s1 a_zero=0.5 %d`, dev, t0), // another series, same instant
		fmt.Sprintf(`gas,building=B9,device=%s,site=s1 lel_pct=2.5,fault=false %d`, dev, t0+60),
		fmt.Sprintf(`gas,building=B1,device=%s,site=s1 lel_pct=3.5 %d`, dev, t0+120), // at To: not read
		fmt.Sprintf(`gas,building=B1,device=gas'b,site=s1 lel_pct=99 %d`, t0),
		fmt.Sprintf(`gas,building=B1,device=gas'b\\c"d,site=s1 lel_pct=98 %d`, t0),
		fmt.Sprintf(`gas,building=B1,device=gas,site=s1 lel_pct=97 %d`, t0),
		fmt.Sprintf(`device_event,building=B1,device=%s,event=fault,site=s1 active=true %d`, dev, t0),
		fmt.Sprintf(`implausible,building=B1,device=%s,kind=gas,site=s1 lel_pct=500 %d`, dev, t0),
	)
	in, err := Open(Config{URL: srv.URL, Bucket: "caretaker", ReadWindow: time.Minute, Token: "reader:s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	at := func(s int64) time.Time { return time.Unix(s, 0) }
	from, to := at(t0), at(t0+120)
	tests := []struct {
		name string
		q    devices.Query
		want []devices.Point
	}{
		{"every metric of the kind", devices.Query{Device: dev, Kind: devices.KindGas, From: from, To: to}, []devices.Point{
			{Time: at(t0), Metric: "a_zero", Value: 0.5}, {Time: at(t0), Metric: "fault", Value: 1}, {Time: at(t0), Metric: "lel_pct", Value: 1.5},
			{Time: at(t0), Metric: odd, Value: 2}, {Time: at(t0), Metric: "n", Value: 5},
			{Time: at(t0 + 60), Metric: "fault", Value: 0}, {Time: at(t0 + 60), Metric: "lel_pct", Value: 2.5}}},
		{"every measurement", devices.Query{Device: dev, From: from, To: to}, []devices.Point{
			{Time: at(t0), Metric: "a_zero", Value: 0.5}, {Time: at(t0), Metric: "fault", Value: 1}, {Time: at(t0), Metric: "lel_pct", Value: 1.5},
			{Time: at(t0), Metric: odd, Value: 2}, {Time: at(t0), Metric: "n", Value: 5},
			{Time: at(t0 + 60), Metric: "fault", Value: 0}, {Time: at(t0 + 60), Metric: "lel_pct", Value: 2.5}}},
		{"a metric with quotes", devices.Query{Device: dev, Kind: devices.KindGas, Metric: odd, From: from, To: to}, []devices.Point{
			{Time: at(t0), Metric: odd, Value: 2}}},
		{"a string field", devices.Query{Device: dev, Kind: devices.KindGas, Metric: "note", From: from, To: to}, nil},
		{"a neighbour", devices.Query{Device: `gas'b`, Kind: devices.KindGas, From: from, To: to}, []devices.Point{
			{Time: at(t0), Metric: "lel_pct", Value: 99}}},
	}
	// MessagePack, and JSON as a server that has no MessagePack answers.
	for _, accept := range []string{"application/x-msgpack", "application/json"} {
		in.ql.accept = accept
		for _, tt := range tests {
			t.Run(accept+"/"+tt.name, func(t *testing.T) {
				var got []devices.Point
				if err := in.readQL(ctx, tt.q, func(p devices.Point) error { got = append(got, p); return nil }); err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
				for i := range got {
					if !got[i].Time.Equal(tt.want[i].Time) || got[i].Metric != tt.want[i].Metric || got[i].Value != tt.want[i].Value {
						t.Errorf("value %d = %v, want %v", i, got[i], tt.want[i])
					}
				}
			})
		}
	}
	// Through the public door such an id is refused before any query.
	err = in.ReadingsFunc(ctx, devices.Query{Device: dev, From: from, To: to}, func(devices.Point) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "valid device id") {
		t.Errorf("ReadingsFunc(%q) = %v, want the id refused", dev, err)
	}
}

// TestQLReadErrors: an error of InfluxDB comes back with its context and
// without the token; a server whose /query answers 404 (no InfluxQL) is
// read with Flux, the same values, unless values were handed over
// already.
func TestQLReadErrors(t *testing.T) {
	srv := testserver.InfluxDB(t, "caretaker")
	t0 := int64(1795395500)
	writeLines(t, srv.URL, "caretaker", fmt.Sprintf(`gas,device=g1,site=s1 lel_pct=1.5 %d`, t0), fmt.Sprintf(`gas,device=g1,site=s1 lel_pct=2.5 %d`, t0+1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	q := devices.Query{Device: "g1", Kind: devices.KindGas, From: time.Unix(t0, 0), To: time.Unix(t0+60, 0)}

	missing, err := Open(Config{URL: srv.URL, Bucket: "no_such_db/rp1", Token: "reader:s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer missing.Close()
	err = missing.ReadingsFunc(ctx, q, func(devices.Point) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "influx query: ") || !strings.Contains(err.Error(), "no_such_db") ||
		strings.Contains(err.Error(), "s3cret") {
		t.Errorf("read of a missing database: %v", err)
	}

	target, _ := url.Parse(srv.URL)
	proxy := bufferedProxy(httputil.NewSingleHostReverseProxy(target))
	var fluxAsked, qlAsked int
	noQL := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/query":
			qlAsked++
			http.NotFound(w, r)
			return
		case "/api/v2/query":
			fluxAsked++
		}
		proxy.ServeHTTP(w, r)
	}))
	defer noQL.Close()
	in, err := Open(Config{URL: noQL.URL, Bucket: "caretaker"})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	for range 2 {
		var got bytes.Buffer
		if err := in.ReadingsFunc(ctx, q, func(p devices.Point) error { fmt.Fprintf(&got, "%s=%g ", p.Metric, p.Value); return nil }); err != nil {
			t.Fatal(err)
		}
		if got.String() != "lel_pct=1.5 lel_pct=2.5 " {
			t.Errorf("through Flux: %q", got.String())
		}
	}
	if qlAsked != 1 || fluxAsked != 2 {
		t.Errorf("/query asked %d times, Flux %d; want once, then Flux for both reads", qlAsked, fluxAsked)
	}

	// A server that refuses InfluxQL before any value (InfluxDB 2.x with
	// a bucket that has no database mapping answers "database not
	// found") is read with Flux that time; /query is asked again next.
	qlAsked, fluxAsked = 0, 0
	unmapped := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/query":
			qlAsked++
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"results":[{"statement_id":0,"error":"database not found: caretaker"}]}`)
			return
		case "/api/v2/query":
			fluxAsked++
		}
		proxy.ServeHTTP(w, r)
	}))
	defer unmapped.Close()
	v2, err := Open(Config{URL: unmapped.URL, Bucket: "caretaker"})
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	for range 2 {
		var got bytes.Buffer
		if err := v2.ReadingsFunc(ctx, q, func(p devices.Point) error { fmt.Fprintf(&got, "%s=%g ", p.Metric, p.Value); return nil }); err != nil {
			t.Fatal(err)
		}
		if got.String() != "lel_pct=1.5 lel_pct=2.5 " {
			t.Errorf("through Flux after InfluxQL's refusal: %q", got.String())
		}
	}
	if qlAsked != 2 || fluxAsked != 2 {
		t.Errorf("/query asked %d times, Flux %d; want each read tried with InfluxQL, then read with Flux", qlAsked, fluxAsked)
	}

	// A 404 after the first window is an error, not a second read of the
	// period with Flux: nothing is handed over twice.
	var asked int
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/query" {
			if asked++; asked > 1 {
				http.NotFound(w, r)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer flaky.Close()
	mid, err := Open(Config{URL: flaky.URL, Bucket: "caretaker", ReadWindow: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer mid.Close()
	n := 0
	err = mid.ReadingsFunc(ctx, q, func(devices.Point) error { n++; return nil })
	if err == nil || n != 2 || mid.noQL.Load() {
		t.Errorf("404 in the second window: err %v, %d values handed over (want an error after 2), Flux from then on %v", err, n, mid.noQL.Load())
	}
}

// bufferedProxy reads a request's body before handing it to p. Go's
// HTTP/1 server closes the inbound body when the answer starts; the
// transport then reads that body once more to check its length, fails,
// and cuts the answer already streaming back (golang/go#40747). A test
// proxy in front of InfluxDB must not cut answers of its own accord.
func bufferedProxy(p http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		p.ServeHTTP(w, r)
	})
}

package influx

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// poster writes batches of line protocol to /api/v2/write (InfluxDB 2.x,
// and 1.8's compatibility endpoint: bucket "db" or "db/rp", token
// "user:password"), one request per batch, gzip-compressed. The client
// library builds a gzip writer (about 800 kB of state), a pipe and a
// goroutine for every request; here the compressors and buffers are
// pooled and the lines are compressed as they are, without joining them
// first. Several requests may run at once.
type poster struct {
	http  *http.Client
	url   string
	auth  string
	gz    sync.Pool // *gzip.Writer
	bufs  sync.Pool // *bytes.Buffer
	agent string
}

func newPoster(cfg Config, conns int) (*poster, error) {
	u, err := url.Parse(strings.TrimSuffix(cfg.URL, "/") + "/api/v2/write")
	if err != nil {
		return nil, fmt.Errorf("influx.url: %w", err)
	}
	q := u.Query()
	q.Set("org", cfg.Org)
	q.Set("bucket", cfg.Bucket)
	q.Set("precision", "ms")
	u.RawQuery = q.Encode()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns + 1
	p := &poster{http: &http.Client{Transport: tr, Timeout: cfg.WriteTimeout}, url: u.String(), agent: "caretaker"}
	if cfg.Token != "" {
		p.auth = "Token " + cfg.Token
	}
	return p, nil
}

// write sends the lines of chunks (or raw, lines already joined) with
// one request. An error that carries no status
// (no connection, timeout) or a non-2xx status is an *http2.Error, as the
// client library's, so retryable tells them apart the same way.
func (p *poster) write(ctx context.Context, chunks [][]string, raw []byte) error {
	buf, _ := p.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	defer p.bufs.Put(buf)
	zw, _ := p.gz.Get().(*gzip.Writer)
	if zw == nil {
		zw, _ = gzip.NewWriterLevel(buf, gzip.BestSpeed)
	} else {
		zw.Reset(buf)
	}
	first := true
	for _, lines := range chunks {
		for _, l := range lines {
			if !first {
				_, _ = zw.Write([]byte{'\n'})
			}
			first = false
			_, _ = io.WriteString(zw, l)
		}
	}
	_, _ = zw.Write(raw)
	if err := zw.Close(); err != nil {
		return &http2.Error{Err: err}
	}
	p.gz.Put(zw)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(buf.Bytes()))
	if err != nil {
		return &http2.Error{Err: err}
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("User-Agent", p.agent)
	if p.auth != "" {
		req.Header.Set("Authorization", p.auth)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return &http2.Error{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return &http2.Error{StatusCode: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(msg))}
}

// close drops the idle connections.
func (p *poster) close() { p.http.CloseIdleConnections() }

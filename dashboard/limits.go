package dashboard

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// checkHost refuses (403) a request whose Host is neither an IP address,
// nor localhost, nor one of the configured hosts: a page of another site
// whose name was rebound to this server's address (DNS rebinding) sends
// its own name, and so reads nothing, not even /metrics or /healthz.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			s.refused.WithLabelValues("host").Inc()
			writeError(w, http.StatusForbidden, "host "+quoteShort(r.Host)+" is not served here: name it in http.hosts", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) hostAllowed(hostport string) bool {
	if !validHostPort(hostport) {
		return false
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), "."))
	if net.ParseIP(host) != nil || host == "localhost" {
		return true
	}
	return s.hosts[host]
}

// validHostName is a DNS name: letters, digits, dots and hyphens.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validHostPort is a Host header of names, IPv4 or bracketed IPv6
// addresses and a port: no character a header value could be broken by.
func validHostPort(h string) bool {
	if h == "" || len(h) > 300 {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return false
		}
	}
	return true
}

// limitListener accepts at most max connections at once; one more is
// answered 503 (on plain HTTP) and closed at once, so a flood of idle
// connections cannot starve the process of file descriptors.
type limitListener struct {
	net.Listener
	sem     chan struct{}
	plain   bool
	log     *slog.Logger
	refused atomic.Int64
	counted prometheus.Counter
}

func newLimitListener(ln net.Listener, max int, plain bool, log *slog.Logger, counted prometheus.Counter) *limitListener {
	return &limitListener{Listener: ln, sem: make(chan struct{}, max), plain: plain, log: log, counted: counted}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
		}
		l.counted.Inc()
		n := l.refused.Add(1)
		if n == 1 || n%100 == 0 {
			l.log.Warn("http connection refused: too many open connections", "max", cap(l.sem), "remote", c.RemoteAddr().String(), "refused", n)
		}
		if l.plain {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			body := `{"error":"too many connections"}` + "\n"
			_, _ = c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: " +
				strconv.Itoa(len(body)) + "\r\n\r\n" + body))
		}
		_ = c.Close()
	}
}

// limitConn gives its place back once closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// wsSlots counts the open WebSockets per token name and in all.
type wsSlots struct {
	perToken, max int

	mu    sync.Mutex
	held  map[string]int
	total int
}

// take reserves a WebSocket for name: 0 when it may, else the status of
// the refusal (429: this token has too many; 503: the server has) and why.
func (w *wsSlots) take(name string) (int, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.held[name] >= w.perToken:
		return http.StatusTooManyRequests, "too many WebSockets for this token (at most " + strconv.Itoa(w.perToken) + "); close some first"
	case w.total >= w.max:
		return http.StatusServiceUnavailable, "too many WebSockets open on this server (at most " + strconv.Itoa(w.max) + "); try again later"
	}
	w.held[name]++
	w.total++
	return 0, ""
}

func (w *wsSlots) give(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total--
	if w.held[name]--; w.held[name] <= 0 {
		delete(w.held, name)
	}
}

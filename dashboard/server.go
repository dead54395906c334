package dashboard

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/caretaker-iot/caretaker/internal/promreg"
	"github.com/caretaker-iot/caretaker/internal/ratelog"
)

// Server is the HTTP side of Caretaker: API, WebSocket and web UI.
type Server struct {
	cfg       Config
	log       *slog.Logger
	tokens    atomic.Pointer[tokenBook]
	authFails *failLimiter
	authLog   *ratelog.Logger
	origins   map[string]bool
	hosts     map[string]bool
	ws        wsSlots
	refused   *prometheus.CounterVec // by reason
	tls       *tls.Config            // nil: plain HTTP
	handler   http.Handler

	addrOnce sync.Once
	ready    chan struct{}
	addr     string
}

// NewServer checks the configuration and builds the routes.
func NewServer(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dashboard config: %w", err)
	}
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "dashboard"),
		authFails: newFailLimiter(cfg.AuthFailBurst, cfg.AuthFailEvery, cfg.Now),
		origins:   make(map[string]bool, len(cfg.AllowedOrigins)),
		hosts:     make(map[string]bool, len(cfg.Hosts)),
		ws:        wsSlots{perToken: cfg.WSPerToken, max: cfg.WSMax, held: map[string]int{}},
		ready:     make(chan struct{}),
	}
	s.authLog = ratelog.New(s.log, 10*time.Second, cfg.Now)
	s.refused = promreg.Register(cfg.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caretaker_http_refused_total",
		Help: "HTTP requests and connections refused at the door, by reason.",
	}, []string{"reason"}))
	s.tokens.Store(newTokenBook(cfg.Tokens))
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("dashboard config: tls: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	for _, h := range cfg.Hosts {
		s.hosts[strings.ToLower(h)] = true
	}
	for _, o := range cfg.AllowedOrigins {
		n, _ := normalizeOrigin(o) // checked by Validate
		s.origins[n] = true
	}
	s.handler = s.routes()
	return s, nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}))

	mux.HandleFunc("GET /api/openapi.json", s.openapi)
	mux.HandleFunc("GET /api/me", s.requireRole(actRead, s.me))
	mux.HandleFunc("GET /api/devices", s.requireRole(actRead, s.listDevices))
	mux.HandleFunc("GET /api/devices/{id}", s.requireRole(actRead, s.getDevice))
	mux.HandleFunc("GET /api/devices/{id}/readings", s.requireRole(actRead, s.deviceReadings))
	mux.HandleFunc("POST /api/tickets", s.requireRole(actReport, s.reportTicket))
	mux.HandleFunc("GET /api/tickets", s.requireRole(actRead, s.listTickets))
	mux.HandleFunc("GET /api/tickets/{id}", s.requireRole(actRead, s.getTicket))
	mux.HandleFunc("POST /api/tickets/{id}/actions", s.requireRole(actWork, s.ticketAction))
	mux.HandleFunc("POST /api/tickets/{id}/photos", s.requireRole(actReport, s.uploadPhoto))
	mux.HandleFunc("GET /api/tickets/{id}/photos/{photo}", s.requireRole(actRead, s.getPhoto))
	mux.HandleFunc("GET /api/tickets/{id}/notifications", s.requireRole(actRead, s.ticketNotifications))
	mux.HandleFunc("GET /api/tickets/{id}/technicians", s.requireRole(actRead, s.ticketTechnicians))
	mux.HandleFunc("GET /api/duty", s.requireRole(actRead, s.duty))
	mux.HandleFunc("GET /api/sites", s.requireRole(actRead, s.sites))
	mux.HandleFunc("GET /api/stats", s.requireRole(actStats, s.stats))
	mux.HandleFunc("GET /api/alarms", s.requireRole(actRead, s.listAlarms))
	mux.HandleFunc("POST /api/alarms/{id}/ack", s.requireRole(actAck, s.ackAlarm))
	mux.HandleFunc("GET /api/triage", s.requireRole(actRead, s.triageQueue))
	mux.HandleFunc("GET /api/triage/stats", s.requireRole(actFalseAlarms, s.falseAlarms))
	mux.HandleFunc("POST /api/triage/{id}/ticket", s.requireRole(actTriage, s.triageTicket))
	mux.HandleFunc("POST /api/triage/{id}/snooze", s.requireRole(actTriage, s.triageSnooze))
	mux.HandleFunc("POST /api/triage/{id}/dismiss", s.requireRole(actTriage, s.triageDismiss))
	mux.HandleFunc("GET /api/rules", s.requireRole(actRead, s.listRules))
	mux.HandleFunc("GET /api/rules/{id}", s.requireRole(actRead, s.getRule))
	mux.HandleFunc("GET /api/rules/{id}/history", s.requireRole(actRead, s.ruleHistory))
	mux.HandleFunc("PUT /api/rules/{id}", s.requireRole(actTune, s.putRule))
	mux.HandleFunc("POST /api/rules/{id}/rollback", s.requireRole(actTune, s.rollbackRule))
	mux.HandleFunc("POST /api/rules/{id}/promote", s.requireRole(actTune, s.promoteRule))
	mux.HandleFunc("POST /api/rules/{id}/backtest", s.requireRole(actTune, s.backtestRule))
	mux.HandleFunc("POST /api/rules/{id}/service", s.requireRole(actServe, s.recordService))
	mux.HandleFunc("/api/", s.requireRole(actRead, func(w http.ResponseWriter, r *http.Request, _ principal) {
		writeErrorCode(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, "", "no_endpoint", nil)
	}))
	mux.HandleFunc("GET /ack/{token}", s.ackShow)
	mux.HandleFunc("POST /ack", s.ackPost)
	mux.HandleFunc("GET /ack/r/{token}", s.reporterShow)
	mux.HandleFunc("POST /ack/r", s.reporterPost)
	s.placeCodesRoutes(mux)
	s.commandRoutes(mux)
	s.floorRoutes(mux)
	mux.HandleFunc("GET /ws", s.requireRoleOrQuery(actRead, s.serveWS))
	mux.Handle("/", webHandler())
	return s.securityHeaders(s.checkHost(s.logRequests(mux)))
}

// Handler is the whole HTTP surface, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// SetTokens replaces the API tokens (on SIGHUP): from the next request on,
// a removed token is refused and a new one accepted, and the WebSockets
// opened with a removed token, or one whose role or sites changed, are
// closed (the page then finds its token refused). The tokens are checked
// as NewServer checks them; on error nothing changes.
func (s *Server) SetTokens(tokens []Token) error {
	if err := checkTokens(tokens, 8); err != nil {
		return err
	}
	book := newTokenBook(tokens)
	s.tokens.Store(book)
	valid := make(map[string]bool, len(book.entries))
	for _, e := range book.entries {
		valid[e.who.identity()] = true
	}
	if n := s.cfg.Hub.closeRevoked(valid); n > 0 {
		s.log.Info("websockets of revoked tokens closed", "count", n)
	}
	return nil
}

// Run listens on cfg.Listen and serves until ctx is done, then shuts down
// gracefully (open WebSockets are closed by the hub).
func (s *Server) Run(ctx context.Context) error {
	tlsCfg := s.tls
	raw, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", s.cfg.Listen, err)
	}
	ln := newLimitListener(raw, s.cfg.MaxConns, tlsCfg == nil, s.log, s.refused.WithLabelValues("connections"))
	var served net.Listener = ln
	if tlsCfg != nil {
		served = tls.NewListener(ln, tlsCfg)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	srv.RegisterOnShutdown(s.cfg.Hub.closeAll)
	s.addrOnce.Do(func() {
		s.addr = ln.Addr().String()
		close(s.ready)
	})
	s.log.Info("dashboard listening", "addr", s.addr, "tls", tlsCfg != nil)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(served) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http serve: %w", err)
	}
	return nil
}

// Ready is closed once Run is listening; Addr is valid from then on.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address Run listens on (useful with port 0), or "" before.
func (s *Server) Addr() string {
	select {
	case <-s.ready:
		return s.addr
	default:
		return ""
	}
}

// statusRecorder remembers the status code for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController (and the WebSocket upgrade) reach
// the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack lets the WebSocket upgrade take the connection over.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot be hijacked")
	}
	r.status = http.StatusSwitchingProtocols
	return h.Hijack()
}

// logRequests logs method, path (never the query: /ws may carry a token
// there; never an ack link's token), status and duration at debug level.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		path := r.URL.Path
		if strings.HasPrefix(path, "/ack/") {
			path = "/ack/…" // the link's token is a credential
		}
		s.log.Debug("http request", "method", r.Method, "path", path, "status", rec.status, "took", s.cfg.Now().Sub(start))
	})
}

// securityHeaders sets the headers every answer carries. The page may
// connect to its own host only (its WebSocket included: 'self' does not
// cover ws: in every browser), send forms to it only, and be framed by
// no one.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		connect := "'self'"
		if validHostPort(r.Host) { // checked by checkHost; never a quote or a semicolon
			scheme := "ws://"
			if r.TLS != nil {
				scheme = "wss://"
			}
			connect += " " + scheme + r.Host
		}
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src "+connect+
			"; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

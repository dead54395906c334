package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// Snapshot is the data of the first message on a new connection.
type Snapshot struct {
	Alarms  any                `json:"alarms"`
	Tickets []ticketing.Ticket `json:"tickets"`
	Devices []DeviceStatus     `json:"devices"`
	// Paging is the paging state of the open tickets (see PagingStates);
	// absent when paging is not wired.
	Paging any `json:"paging,omitempty"`
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 4096,
	// A write buffer only while a frame is written: most clients are
	// quiet phones most of the time, and hold none.
	WriteBufferPool: &sync.Pool{},
	// The origin is checked before upgrading, so that a refusal is a JSON
	// error like every other.
	CheckOrigin: func(*http.Request) bool { return true },
}

// serveWS upgrades GET /ws (token in the header or ?token=) and hands the
// connection to the hub. ?since=SEQ&epoch=E asks for the events missed
// since SEQ; SEQ counts only within its epoch E (one life of the hub), so
// without E, or with another, the client gets a fresh snapshot.
// ?batch=true asks for every message as a JSON array of events (several
// in one frame when they wait); without it, one JSON object per message.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request, p principal) {
	if !s.originAllowed(r) {
		writeError(w, http.StatusForbidden, "origin not allowed", "")
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		writeError(w, http.StatusBadRequest, "this endpoint speaks WebSocket only", "")
		return
	}
	if s.cfg.Hub.isClosed() {
		writeError(w, http.StatusServiceUnavailable, "server shutting down", "")
		return
	}
	var since *uint64
	if v := r.URL.Query().Get("since"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: "+quoteShort(v)+" is not an event number", "since")
			return
		}
		since = &n
	}
	epoch := r.URL.Query().Get("epoch") // any other value than the hub's: a snapshot
	batch := false
	if v := r.URL.Query().Get("batch"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "batch: "+quoteShort(v)+" is not true or false", "batch")
			return
		}
		batch = b
	}
	if status, why := s.ws.take(p.Name); status != 0 {
		reason := "ws_max"
		if status == http.StatusTooManyRequests {
			reason = "ws_per_token"
		}
		s.refused.WithLabelValues(reason).Inc()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "30")
		}
		s.log.Warn("websocket refused", "token", p.Name, "remote", clientAddr(r), "reason", why)
		writeError(w, status, why, "")
		return
	}
	defer s.ws.give(p.Name)
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	s.cfg.Hub.serve(context.WithoutCancel(r.Context()), conn, since, epoch, batch, p, func(ctx context.Context) (any, error) {
		return s.snapshot(ctx, p)
	})
}

// snapshot gathers the live alarms (active, or cleared and not yet
// acknowledged), open tickets with their clocks and escalations, and
// device status, of the sites p sees.
func (s *Server) snapshot(ctx context.Context, p principal) (any, error) {
	alarms, err := s.cfg.Alarms.Alarms(ctx, ticketing.AlarmsLive)
	if err != nil {
		return nil, fmt.Errorf("active alarms: %w", err)
	}
	alarms = visibleAlarms(p, alarms)
	tickets, err := s.cfg.Tickets.OpenTickets(ctx)
	if err != nil {
		return nil, fmt.Errorf("open tickets: %w", err)
	}
	tickets = phonesForList(p, visibleTickets(p, tickets))
	var status []DeviceStatus
	if s.cfg.Live != nil {
		status = s.cfg.Live.Statuses()
	} else {
		for _, d := range s.cfg.Registry.Devices() {
			status = append(status, DeviceStatus{Device: d.ID, Kind: d.Kind, Site: d.Site, Building: d.Building, Location: d.Location})
		}
	}
	status = visibleStatuses(p, status)
	snap := Snapshot{Alarms: orEmptyList(alarms), Tickets: tickets, Devices: status}
	if ps, ok := s.cfg.Notifications.(PagingStates); ok {
		if snap.Paging, err = ps.Paging(ctx); err != nil {
			return nil, fmt.Errorf("paging: %w", err)
		}
		if p.Sites != nil {
			if snap.Paging, err = pagingOf(snap.Paging, tickets); err != nil {
				return nil, fmt.Errorf("paging: %w", err)
			}
		}
	}
	return snap, nil
}

// originAllowed lets in clients without an Origin (not a browser), the
// page's own host, and the configured extra origins.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	n, err := normalizeOrigin(origin)
	return err == nil && s.origins[n]
}

// normalizeOrigin reduces an origin to lower-case scheme://host[:port].
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil {
		return "", fmt.Errorf("%q is not an origin: %w", o, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("%q is not an origin such as https://ops.example.com", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

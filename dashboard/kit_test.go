package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/rules"
	"github.com/caretaker-iot/caretaker/ticketing"
)

// Tokens of the test estate, one per role.
const (
	tokPatrol   = "patrol-token-0001"
	tokTech     = "technician-token-0001"
	tokOperator = "operator-token-0001"
	tokEngineer = "engineer-token-0001"
	tokAdmin    = "admin-token-0001"
	tokManager  = "manager-token-0001"
)

var testTokens = []Token{
	{Name: "pat1", Role: RolePatrol, Token: tokPatrol},
	{Name: "tech1", Role: RoleTechnician, Token: tokTech},
	{Name: "ops1", Role: RoleOperator, Token: tokOperator},
	{Name: "eng1", Role: RoleEngineer, Token: tokEngineer},
	{Name: "root", Role: RoleAdmin, Token: tokAdmin},
	{Name: "pm1", Role: RoleManager, Token: tokManager},
}

var errNotFound = errors.New("not found")

// fieldError stands in for ticketing.FieldError.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string     { return e.field + ": " + e.msg }
func (e *fieldError) FieldName() string { return e.field }

// fakeTickets is an in-memory ticketing service.
type fakeTickets struct {
	mu       sync.Mutex
	reports  []ticketing.Report
	actors   []ticketing.Actor
	filters  []ticketing.Filter
	open     []ticketing.Ticket
	merge    bool
	err      error
	nextID   int64
	byID     map[int64]ticketing.Ticket
	openErr  error
	reported chan struct{}
}

func newFakeTickets() *fakeTickets {
	return &fakeTickets{byID: map[int64]ticketing.Ticket{}, nextID: 41}
}

func (f *fakeTickets) Report(_ context.Context, by ticketing.Actor, r ticketing.Report) (ticketing.Ticket, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return ticketing.Ticket{}, false, f.err
	}
	f.reports = append(f.reports, r)
	f.actors = append(f.actors, by)
	f.nextID++
	t := ticketing.Ticket{ID: f.nextID, Number: "BX20261123-0042", Source: r.Source, Status: ticketing.StatusNew,
		Level: 2, Category: r.Category, Site: r.Site, Building: r.Building, Location: r.Location,
		Description: r.Description, CreatedBy: by.Name}
	f.byID[t.ID] = t
	return t, f.merge, nil
}

func (f *fakeTickets) List(_ context.Context, flt ticketing.Filter) ([]ticketing.Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, flt)
	return nil, nil
}

func (f *fakeTickets) Get(_ context.Context, id int64) (ticketing.Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.byID[id]
	if !ok {
		return ticketing.Ticket{}, errNotFound
	}
	return t, nil
}

func (f *fakeTickets) OpenTickets(context.Context) ([]ticketing.Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open, f.openErr
}

// fakeAlarms is an in-memory alarm store.
type fakeAlarms struct {
	mu      sync.Mutex
	active  []rules.Alarm
	acks    []string
	filters []ticketing.AlarmFilter
}

func (f *fakeAlarms) Alarms(context.Context, string) ([]ticketing.StoredAlarm, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]ticketing.StoredAlarm, len(f.active))
	for i, a := range f.active {
		out[i] = ticketing.StoredAlarm{Alarm: a}
	}
	return out, nil
}

func (f *fakeAlarms) FindAlarms(ctx context.Context, flt ticketing.AlarmFilter) ([]ticketing.StoredAlarm, error) {
	all, _ := f.Alarms(ctx, flt.State)
	f.mu.Lock()
	f.filters = append(f.filters, flt)
	f.mu.Unlock()
	out := []ticketing.StoredAlarm{}
	for _, a := range all {
		if len(flt.Sites) == 0 || slices.Contains(flt.Sites, a.Site) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeAlarms) Alarm(_ context.Context, id string) (ticketing.StoredAlarm, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.active {
		if a.ID == id {
			return ticketing.StoredAlarm{Alarm: a}, nil
		}
	}
	return ticketing.StoredAlarm{}, ticketing.ErrNotFound
}

func (f *fakeAlarms) AckAlarm(_ context.Context, by ticketing.Actor, id string) (ticketing.StoredAlarm, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "missing" {
		return ticketing.StoredAlarm{}, errNotFound
	}
	f.acks = append(f.acks, by.Name+":"+id)
	return ticketing.StoredAlarm{Alarm: rules.Alarm{ID: id}, Acked: true, AckedBy: by.Name}, nil
}

// estate is a test server with fakes behind it.
type estate struct {
	srv     *Server
	hub     *Hub
	live    *LiveState
	tickets *fakeTickets
	alarms  *fakeAlarms
	reg     *devices.Registry
	http    *httptest.Server
}

func newEstate(t *testing.T, hubCfg HubConfig, mutate ...func(*Config)) *estate {
	t.Helper()
	reg, err := devices.NewRegistry(devices.Catalog{Devices: []devices.Device{
		{ID: "gas-b2-07", Kind: devices.KindGas, Site: "s1", Building: "B2", Location: "B2 boiler room"},
		{ID: "leak-b1-01", Kind: devices.KindWaterLeak, Site: "s2", Building: "B1", Location: "B1 pump room"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	hub := NewHub(hubCfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = hub.Run(ctx); close(done) }()
	e := &estate{hub: hub, tickets: newFakeTickets(), alarms: &fakeAlarms{}, reg: reg}
	e.live = NewLiveState(hub, reg, nil)
	cfg := Config{
		Tokens: testTokens, Hosts: []string{"example.com"}, AuthFailBurst: 1 << 30, Registry: reg, Tickets: e.tickets, Alarms: e.alarms,
		Hub: hub, Live: e.live, NotFound: errNotFound,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	e.srv, err = NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() {
		cancel()
		<-done
		e.http.Close()
	})
	return e
}

// do sends one request and returns status and body.
func (e *estate) do(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// notify hands the hub an event as the ticket service would, with its
// site and device read from the data the test wrote.
func notify(h *Hub, typ string, data any) {
	raw, _ := json.Marshal(data)
	var where struct {
		Site   string `json:"site"`
		Device string `json:"device_id"`
	}
	_ = json.Unmarshal(raw, &where)
	h.Notify(ticketing.Event{Type: typ, Site: where.Site, Device: where.Device, Data: data})
}

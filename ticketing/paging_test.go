package ticketing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/rules"
)

// stepPager is a Pager with a fixed escalation policy, as plain logic:
// step i pages its people at OpenedAt + after unless the subject was
// acknowledged by then. Ids are stable per ticket, opening, step and
// person, as the real planner's are.
type stepPager struct {
	steps []pagerStep
	mu    sync.Mutex
	esc   []string // target/clock of every Escalation call
}

type pagerStep struct {
	after time.Duration
	to    []string
}

func (p *stepPager) id(sub PageSubject, step, who string) string {
	return fmt.Sprintf("d-%d-%d-%s-%s", sub.Ticket.ID, sub.OpenedAt.UnixMilli(), step, who)
}

func (p *stepPager) Due(sub PageSubject, now time.Time) ([]OutboxPage, time.Time) {
	if sub.AckedAt != nil && !sub.AckedAt.After(now) {
		return nil, time.Time{}
	}
	var out []OutboxPage
	for i, st := range p.steps {
		at := sub.OpenedAt.Add(st.after)
		if at.After(now) {
			return out, at
		}
		for _, who := range st.to {
			step := fmt.Sprint(i + 1)
			msg, _ := json.Marshal(map[string]any{"number": sub.Ticket.Number, "alarm": sub.Alarm != nil, "code": sub.Code})
			out = append(out, OutboxPage{ID: p.id(sub, step, who), Step: step, Recipient: who, Channel: "hook", DueAt: at, Message: msg})
		}
	}
	return out, time.Time{}
}

func (p *stepPager) Escalation(sub PageSubject, target, clock string, at time.Time) []OutboxPage {
	p.mu.Lock()
	p.esc = append(p.esc, target+"/"+clock)
	p.mu.Unlock()
	step := "esc:" + clock
	return []OutboxPage{{ID: p.id(sub, step, target), Step: step, Recipient: target, Channel: "hook", DueAt: at}}
}

// pagingFixture is a store with the policy "tech1 at once, sup1 after
// 5m, pm1 after 15m", counting the wake-ups of the sender; at each
// wake-up it reads the due pages as the sender would, from outside the
// transaction.
type pagingFixture struct {
	*fixture
	pager *stepPager
	mu    sync.Mutex
	woken []int // due pages seen at each wake-up
}

func newPagingFixture(t *testing.T, mutate ...func(*Config)) *pagingFixture {
	t.Helper()
	pf := &pagingFixture{pager: &stepPager{steps: []pagerStep{
		{0, []string{"tech1"}}, {5 * time.Minute, []string{"sup1"}}, {15 * time.Minute, []string{"pm1"}},
	}}}
	pf.fixture = newFixture(t, append([]func(*Config){func(c *Config) {
		c.Pager = pf.pager
		c.PagesQueued = func() {
			due, err := pf.svc.DuePages(context.Background(), pf.clock.Now().Add(time.Hour), 1000)
			if err != nil {
				t.Errorf("DuePages at wake-up: %v", err)
			}
			pf.mu.Lock()
			pf.woken = append(pf.woken, len(due))
			pf.mu.Unlock()
		}
	}}, mutate...)...)
	return pf
}

func (pf *pagingFixture) wakeups() []int {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	return slices.Clone(pf.woken)
}

func (pf *pagingFixture) recipients(t *testing.T, id int64) []string {
	t.Helper()
	ns, err := pf.svc.Notifications(context.Background(), id)
	if err != nil {
		t.Fatalf("Notifications(%d): %v", id, err)
	}
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Step + ":" + n.Recipient
	}
	return out
}

func (pf *pagingFixture) tick(t *testing.T) {
	t.Helper()
	if err := pf.svc.Tick(context.Background()); err != nil {
		t.Fatalf("Tick: %v", err)
	}
}

// The first step is queued in the transaction that opens the ticket (a
// sensor ticket and a manual report alike), with a history row, and the
// sender is woken only after the commit, when it can read the page.
func TestPagesQueuedWithTheTicket(t *testing.T) {
	pf := newPagingFixture(t)
	ctx := context.Background()
	mustHandle(t, pf.fixture, gasAlarm(pf.fixture, 35))
	sensor := mustOpenTickets(t, pf.fixture)[0]
	if got := pf.recipients(t, sensor.ID); !slices.Equal(got, []string{"1:tech1"}) {
		t.Fatalf("sensor ticket pages = %v, want [1:tech1]", got)
	}
	if w := pf.wakeups(); !slices.Equal(w, []int{1}) {
		t.Fatalf("wake-ups saw %v due pages, want [1]: the page must be committed when the sender wakes", w)
	}
	ns, _ := pf.svc.Notifications(ctx, sensor.ID)
	var msg map[string]any
	if err := json.Unmarshal(ns[0].Message, &msg); err != nil || msg["number"] != sensor.Number || msg["alarm"] != true {
		t.Fatalf("stored message = %s (%v)", ns[0].Message, err)
	}
	if ns[0].State != PageQueued || ns[0].Attempts != 0 || ns[0].NextAt == nil || !ns[0].NextAt.Equal(t0) {
		t.Fatalf("stored page = %+v", ns[0])
	}
	if h := actions(mustGet(t, pf.fixture, sensor.ID).History); !slices.Contains(h, "page_queued") {
		t.Fatalf("history %v has no page_queued", h)
	}

	// The same alarm replayed, and an update of it, page nobody again.
	mustHandle(t, pf.fixture, gasAlarm(pf.fixture, 35))
	up := gasAlarm(pf.fixture, 40)
	up.State = rules.Updated
	mustHandle(t, pf.fixture, up)
	if got := pf.recipients(t, sensor.ID); len(got) != 1 {
		t.Fatalf("after replay and update, pages = %v", got)
	}

	manual, _, err := pf.svc.Report(ctx, patrol, Report{Source: SourcePatrol, Category: "gas", Level: 1, Site: "s1",
		Building: "B3", Location: "kitchen", Description: "smell of gas"})
	if err != nil {
		t.Fatal(err)
	}
	if got := pf.recipients(t, manual.ID); !slices.Equal(got, []string{"1:tech1"}) {
		t.Fatalf("manual ticket pages = %v", got)
	}
	if w := pf.wakeups(); !slices.Equal(w, []int{1, 2}) {
		t.Fatalf("wake-ups saw %v due pages, want [1 2]", w)
	}
}

// Later steps are queued by the clock runner when their time comes, once
// each, across a restart of the store; acknowledgement (an operator acks
// the alarm, a technician claims or accepts) stops the steps not yet
// paged.
func TestLaterStepsOnTheClockUntilAcknowledged(t *testing.T) {
	techs := func(c *Config) { c.Technicians = []Technician{{Name: "tech1", Skills: []string{"gas"}, OnDuty: true}} }
	tests := []struct {
		name string
		pool bool
		ack  func(t *testing.T, pf *pagingFixture, tk Ticket)
		want []string // pages at +20m
	}{
		{name: "nobody answers", want: []string{"1:tech1", "2:sup1", "3:pm1"}},
		{name: "operator acks the alarm", pool: true, ack: func(t *testing.T, pf *pagingFixture, tk Ticket) {
			if _, err := pf.svc.AckAlarm(context.Background(), operator, tk.AlarmID); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"1:tech1", "2:sup1"}},
		{name: "technician claims", pool: true, ack: func(t *testing.T, pf *pagingFixture, tk Ticket) {
			mustAct(t, pf.fixture, tech1, tk.ID, ActionRequest{Action: ActClaim})
		}, want: []string{"1:tech1", "2:sup1"}},
		{name: "technician accepts the dispatch", ack: func(t *testing.T, pf *pagingFixture, tk Ticket) {
			mustAct(t, pf.fixture, tech1, tk.ID, ActionRequest{Action: ActAccept})
		}, want: []string{"1:tech1", "2:sup1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pf := newPagingFixture(t, techs, func(c *Config) {
				if tc.pool {
					c.Dispatch = DispatchPool
				}
				c.SLA.ClaimTimeout = time.Hour // no clock escalation in this timeline
			})
			mustHandle(t, pf.fixture, gasAlarm(pf.fixture, 35))
			tk := mustOpenTickets(t, pf.fixture)[0]

			pf.clock.Advance(4*time.Minute + 59*time.Second)
			pf.tick(t)
			if got := pf.recipients(t, tk.ID); !slices.Equal(got, []string{"1:tech1"}) {
				t.Fatalf("+4m59s: pages = %v", got)
			}
			pf.clock.Advance(time.Second)
			pf.tick(t)
			if got := pf.recipients(t, tk.ID); !slices.Equal(got, []string{"1:tech1", "2:sup1"}) {
				t.Fatalf("+5m: pages = %v", got)
			}
			// A restart, and ticks again: nobody is paged twice.
			pf.reopen(t)
			pf.tick(t)
			pf.tick(t)
			if got := pf.recipients(t, tk.ID); len(got) != 2 {
				t.Fatalf("+5m after a restart: pages = %v", got)
			}
			pf.clock.Advance(5 * time.Minute)
			if tc.ack != nil {
				tc.ack(t, pf, tk)
			}
			pf.clock.Advance(10 * time.Minute)
			pf.tick(t)
			// Policy steps only: a missed SLA clock pages on its own.
			got := slices.DeleteFunc(pf.recipients(t, tk.ID), func(s string) bool { return strings.HasPrefix(s, "esc:") })
			if !slices.Equal(got, tc.want) {
				t.Fatalf("+20m: pages = %v, want %v", got, tc.want)
			}
		})
	}
}

// The latest step's pages are those of the step last queued, without
// the skipped recipient's.
func TestLatestStepPages(t *testing.T) {
	techs := func(c *Config) { c.Technicians = []Technician{{Name: "tech1", Skills: []string{"gas"}, OnDuty: true}} }
	pf := newPagingFixture(t, techs, func(c *Config) { c.SLA.ClaimTimeout = time.Hour })
	ctx := context.Background()
	mustHandle(t, pf.fixture, gasAlarm(pf.fixture, 35))
	tk := mustOpenTickets(t, pf.fixture)[0]
	steps := func(skip string) []string {
		t.Helper()
		rows, err := pf.svc.LatestStepPages(ctx, tk.ID, skip)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, r.Step+":"+r.Recipient)
		}
		return out
	}
	if got := steps(""); !slices.Equal(got, []string{"1:tech1"}) {
		t.Fatalf("at once: %v", got)
	}
	pf.clock.Advance(5 * time.Minute)
	pf.tick(t)
	if got := steps(""); !slices.Equal(got, []string{"2:sup1"}) {
		t.Fatalf("+5m: %v", got)
	}
	if got := steps("sup1"); !slices.Equal(got, []string{"1:tech1"}) {
		t.Fatalf("+5m without sup1: %v", got)
	}
	if got, err := pf.svc.LatestStepPages(ctx, tk.ID+100, ""); err != nil || len(got) != 0 {
		t.Fatalf("unknown ticket: %v, %v", got, err)
	}
}

// A missed SLA clock pages the target of its escalation, in the same
// transaction as the escalation.
func TestClockEscalationPages(t *testing.T) {
	pf := newPagingFixture(t, func(c *Config) { c.Dispatch = DispatchPool })
	pf.pager.steps = nil // only the escalation pages in this timeline
	mustHandle(t, pf.fixture, gasAlarm(pf.fixture, 35))
	tk := mustOpenTickets(t, pf.fixture)[0]
	pf.clock.Advance(5*time.Minute + time.Second) // the claim clock (5m) is missed
	pf.tick(t)
	if got := pf.recipients(t, tk.ID); !slices.Equal(got, []string{"esc:claim:supervisor"}) {
		t.Fatalf("pages = %v, want the supervisor's claim escalation (calls %v)", got, pf.pager.esc)
	}
}

// RecordPage keeps each attempt's outcome; the ticket's history gets the
// first failed try, and the page sent or failed; a page no longer queued
// is not changed by a late record.
func TestRecordPageOutcomes(t *testing.T) {
	pf := newPagingFixture(t)
	ctx := context.Background()
	mustHandle(t, pf.fixture, gasAlarm(pf.fixture, 35))
	tk := mustOpenTickets(t, pf.fixture)[0]
	ns, _ := pf.svc.Notifications(ctx, tk.ID)
	id := ns[0].ID
	steps := []PageOutcome{
		{State: PageQueued, Attempts: 1, Status: 503, Body: "busy", Error: "answered 503", NextAt: t0.Add(2 * time.Second), At: t0},
		{State: PageQueued, Attempts: 2, Status: 503, Error: "answered 503", NextAt: t0.Add(6 * time.Second), At: t0.Add(2 * time.Second)},
		{State: PageSent, Attempts: 3, Status: 200, Body: "ok", At: t0.Add(6 * time.Second)},
		{State: PageFailed, Attempts: 4, Error: "late", At: t0.Add(7 * time.Second)}, // ignored: already sent
	}
	for _, o := range steps {
		if err := pf.svc.RecordPage(ctx, id, o); err != nil {
			t.Fatal(err)
		}
	}
	if due, _ := pf.svc.DuePages(ctx, t0.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("due after sent: %+v", due)
	}
	ns, _ = pf.svc.Notifications(ctx, tk.ID)
	n := ns[0]
	if n.State != PageSent || n.Attempts != 3 || n.LastStatus != 200 || n.LastBody != "ok" || n.LastError != "" ||
		n.DoneAt == nil || !n.DoneAt.Equal(t0.Add(6*time.Second)) || n.NextAt != nil {
		t.Fatalf("page = %+v", n)
	}
	var pageRows []string
	for _, a := range actions(mustGet(t, pf.fixture, tk.ID).History) {
		if len(a) > 5 && a[:5] == "page_" {
			pageRows = append(pageRows, a)
		}
	}
	if !slices.Equal(pageRows, []string{"page_queued", "page_retrying", "page_sent"}) {
		t.Fatalf("page history = %v", pageRows)
	}
	if n, _ := pf.svc.PendingPages(ctx); n != 0 {
		t.Fatalf("pending = %d", n)
	}
	if _, err := pf.svc.Notifications(ctx, 999); err == nil {
		t.Fatal("notifications of an unknown ticket: no error")
	}
}

package ticketing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	tech2 = Actor{Name: "tech2", Role: "technician"}
	admin = Actor{Name: "root", Role: "admin"}
)

// ticketIn files a public report at a fresh place and drives it to st.
func ticketIn(t *testing.T, f *fixture, st Status) int64 {
	t.Helper()
	r := validReport()
	r.Location = fmt.Sprintf("spot %d", time.Now().UnixNano())
	tk, _, err := f.svc.Report(context.Background(), patrol, r)
	if err != nil {
		t.Fatal(err)
	}
	id := tk.ID
	switch st {
	case StatusNew:
	case StatusDispatched:
		mustAct(t, f, operator, id, ActionRequest{Action: ActAssign, Technician: "tech1"})
	case StatusAccepted:
		mustAct(t, f, tech1, id, ActionRequest{Action: ActClaim})
	case StatusOnSite:
		mustAct(t, f, tech1, id, ActionRequest{Action: ActClaim})
		mustAct(t, f, tech1, id, ActionRequest{Action: ActArrive})
	case StatusResolved:
		resolveTicket(t, f, id, "fixed")
	case StatusClosed:
		resolveTicket(t, f, id, "fixed")
		mustAct(t, f, operator, id, ActionRequest{Action: ActConfirm})
	case StatusCancelled:
		mustAct(t, f, operator, id, ActionRequest{Action: ActCancel, Reason: "duplicate"})
	}
	if got := mustGet(t, f, id).Status; got != st {
		t.Fatalf("set-up: ticket is %s, want %s", got, st)
	}
	return id
}

func TestStateMachine(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var fieldErr *FieldError
	tests := []struct {
		from    Status
		by      Actor
		req     ActionRequest
		want    Status // status after, when legal
		wantErr error  // ErrIllegal, ErrForbidden, or errFieldErr
	}{
		{StatusNew, tech1, ActionRequest{Action: ActClaim}, StatusAccepted, nil},
		{StatusNew, operator, ActionRequest{Action: ActClaim}, "", ErrForbidden},
		{StatusNew, patrol, ActionRequest{Action: ActAssign, Technician: "tech1"}, "", ErrForbidden},
		{StatusNew, operator, ActionRequest{Action: ActAssign, Technician: "tech1"}, StatusDispatched, nil},
		{StatusNew, operator, ActionRequest{Action: ActAssign}, "", errFieldErr},
		{StatusNew, tech1, ActionRequest{Action: ActAccept}, "", ErrIllegal},
		{StatusNew, tech1, ActionRequest{Action: ActResolve, Note: "x"}, "", ErrIllegal},
		{StatusNew, operator, ActionRequest{Action: ActCancel}, "", errFieldErr},
		{StatusNew, operator, ActionRequest{Action: ActCancel, Reason: "duplicate"}, StatusCancelled, nil},
		{StatusDispatched, tech1, ActionRequest{Action: ActAccept}, StatusAccepted, nil},
		{StatusDispatched, tech2, ActionRequest{Action: ActAccept}, "", ErrForbidden},
		{StatusDispatched, tech2, ActionRequest{Action: ActClaim}, "", ErrIllegal},
		{StatusDispatched, operator, ActionRequest{Action: ActAssign, Technician: "tech2"}, StatusDispatched, nil},
		{StatusAccepted, tech1, ActionRequest{Action: ActArrive}, StatusOnSite, nil},
		{StatusAccepted, tech2, ActionRequest{Action: ActArrive}, "", ErrForbidden},
		{StatusAccepted, tech1, ActionRequest{Action: ActResolve, Note: "x"}, "", ErrIllegal}, // L2: needs a visit
		{StatusAccepted, tech1, ActionRequest{Action: ActConfirm}, "", ErrForbidden},
		{StatusAccepted, operator, ActionRequest{Action: ActConfirm}, "", ErrIllegal},
		{StatusOnSite, tech1, ActionRequest{Action: ActResolve}, "", errFieldErr},
		{StatusOnSite, tech1, ActionRequest{Action: ActResolve, Note: "replaced bulb", Parts: []Part{{"bulb", 1}}}, StatusResolved, nil},
		{StatusOnSite, admin, ActionRequest{Action: ActResolve, Note: "done by admin"}, StatusResolved, nil},
		{StatusOnSite, tech1, ActionRequest{Action: ActArrive}, "", ErrIllegal},
		{StatusResolved, operator, ActionRequest{Action: ActConfirm}, StatusClosed, nil},
		{StatusResolved, operator, ActionRequest{Action: ActCallback, Score: 5}, StatusClosed, nil},
		{StatusResolved, operator, ActionRequest{Action: ActCallback, Score: 6}, "", errFieldErr},
		{StatusResolved, tech1, ActionRequest{Action: ActCallback, Score: 5}, "", ErrForbidden},
		{StatusResolved, operator, ActionRequest{Action: ActReopen, Reason: "leaks again"}, StatusNew, nil},
		{StatusResolved, operator, ActionRequest{Action: ActCancel, Reason: "x"}, "", ErrIllegal},
		{StatusClosed, operator, ActionRequest{Action: ActConfirm}, "", ErrIllegal},
		{StatusClosed, operator, ActionRequest{Action: ActCallback, Score: 4}, StatusClosed, nil},
		{StatusClosed, operator, ActionRequest{Action: ActReopen}, StatusNew, nil},
		{StatusCancelled, operator, ActionRequest{Action: ActReopen}, "", ErrIllegal},
		{StatusCancelled, tech1, ActionRequest{Action: ActClaim}, "", ErrIllegal},
		{StatusCancelled, operator, ActionRequest{Action: ActComment, Note: "why cancelled: duplicate of 7"}, StatusCancelled, nil},
		{StatusNew, patrol, ActionRequest{Action: ActComment, Note: "still dark"}, StatusNew, nil},
		{StatusAccepted, tech2, ActionRequest{Action: ActComment, Note: "not mine"}, "", ErrForbidden},
		{StatusNew, operator, ActionRequest{Action: ActComment}, "", errFieldErr},
		{StatusNew, operator, ActionRequest{Action: "fly"}, "", errFieldErr},
		{StatusNew, Actor{Name: "eng1", Role: "engineer"}, ActionRequest{Action: ActComment, Note: "x"}, "", ErrForbidden},
		{StatusNew, operator, ActionRequest{Action: ActLevel, Level: 1}, "", errFieldErr},
		{StatusNew, operator, ActionRequest{Action: ActLevel, Level: 2, Reason: "same"}, "", ErrIllegal},
		{StatusNew, operator, ActionRequest{Action: ActNewCode}, "", ErrIllegal}, // public: no code
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s/%s/%s", tc.from, tc.by.Role, tc.req.Action)
		t.Run(name, func(t *testing.T) {
			id := ticketIn(t, f, tc.from)
			before := mustGet(t, f, id)
			res, err := f.svc.Act(ctx, tc.by, id, tc.req)
			switch {
			case tc.wantErr == errFieldErr:
				if !errors.As(err, &fieldErr) {
					t.Fatalf("err %v, want a FieldError", err)
				}
			case tc.wantErr != nil:
				var ae *ActionError
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &ae) || ae.Reason == "" {
					t.Fatalf("err %v, want %v with a reason", err, tc.wantErr)
				}
			case err != nil:
				t.Fatalf("Act: %v", err)
			}
			after := mustGet(t, f, id)
			if tc.wantErr != nil {
				if after.Status != before.Status || len(after.History) != len(before.History) {
					t.Fatalf("refused action changed the ticket: %s -> %s, history %d -> %d", before.Status, after.Status,
						len(before.History), len(after.History))
				}
				return
			}
			if res.Status != tc.want || after.Status != tc.want {
				t.Fatalf("status %s (stored %s), want %s", res.Status, after.Status, tc.want)
			}
			last := after.History[len(after.History)-1]
			if tc.req.Action != ActReopen && (last.Actor != tc.by.Name || last.Role != tc.by.Role || !last.At.Equal(f.clock.Now())) {
				t.Errorf("last history %+v, want by %s (%s) at %v", last, tc.by.Name, tc.by.Role, f.clock.Now())
			}
		})
	}
}

// errFieldErr marks a case that wants a *FieldError.
var errFieldErr = errors.New("field error")

func TestEveryStepIsInTheHistory(t *testing.T) {
	f := newFixture(t)
	id := ticketIn(t, f, StatusNew)
	f.clock.Advance(time.Minute)
	mustAct(t, f, operator, id, ActionRequest{Action: ActAssign, Technician: "tech1", Note: "nearest"})
	f.clock.Advance(time.Minute)
	mustAct(t, f, tech1, id, ActionRequest{Action: ActAccept})
	mustAct(t, f, tech1, id, ActionRequest{Action: ActComment, Note: "on my way, ETA 10 min"})
	f.clock.Advance(10 * time.Minute)
	mustAct(t, f, tech1, id, ActionRequest{Action: ActArrive})
	f.clock.Advance(20 * time.Minute)
	mustAct(t, f, tech1, id, ActionRequest{Action: ActResolve, Note: "replaced the ballast", ActualFault: "ballast, not bulb",
		Parts: []Part{{"ballast 36W", 1}}, Paid: true, FeeCents: 3500})
	tk := mustGet(t, f, id)
	want := []string{"created", ActAssign, ActAccept, ActComment, ActArrive, ActResolve}
	if got := actions(tk.History); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	res := tk.History[5]
	for _, s := range []string{"replaced the ballast", "ballast, not bulb", "ballast 36W x1", "fee ¥35.00"} {
		if !strings.Contains(res.Note, s) {
			t.Errorf("resolve note %q lacks %q", res.Note, s)
		}
	}
	if tk.Resolution != "replaced the ballast" || tk.ActualFault != "ballast, not bulb" || len(tk.Parts) != 1 ||
		tk.Parts[0].Qty != 1 || !tk.Paid || tk.FeeCents != 3500 {
		t.Errorf("completion fields %+v", tk)
	}
	if tk.History[1].Actor != "ops1" || tk.History[1].Role != "operator" || !tk.History[1].At.Equal(t0.Add(time.Minute)) ||
		!strings.Contains(tk.History[1].Note, "nearest") {
		t.Errorf("assign history %+v", tk.History[1])
	}
}

func inHome() Report {
	return Report{Source: SourcePhone, Category: "water_electric", Site: "s1", Building: "B3", Scope: ScopeInHome,
		Unit: "2", Floor: "12", Room: "1201", Location: "kitchen", Description: "tap drips", Reporter: Reporter{Name: "Wang", Phone: "139"}}
}

func TestArriveNeedsTheVerificationCodeAndLocksAfterTooManyWrongOnes(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxCodeAttempts = 3 })
	ctx := context.Background()
	tk, _, err := f.svc.Report(ctx, operator, inHome())
	if err != nil {
		t.Fatal(err)
	}
	code := tk.VerificationCode
	wrong := fmt.Sprintf("%06d", (mustAtoi(t, code)+1)%1_000_000)
	mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActClaim})

	// The technician never sees the code.
	got, err := f.svc.Act(ctx, tech1, tk.ID, ActionRequest{Action: ActComment, Note: "calling the owner"})
	if err != nil || got.VerificationCode != "" || strings.Contains(fmt.Sprint(got), code) {
		t.Fatalf("technician's view carries the code (err %v)", err)
	}
	var fe *FieldError
	if _, err := f.svc.Act(ctx, tech1, tk.ID, ActionRequest{Action: ActArrive}); !errors.As(err, &fe) || fe.Field != "code" {
		t.Fatalf("arrive without code: %v, want a FieldError on code", err)
	}
	for i := 1; i <= 2; i++ {
		_, err := f.svc.Act(ctx, tech1, tk.ID, ActionRequest{Action: ActArrive, Code: wrong})
		if !errors.Is(err, ErrIllegal) || !strings.Contains(err.Error(), fmt.Sprintf("%d of 3", i)) {
			t.Fatalf("wrong code %d: %v, want refused, %d of 3", i, err, i)
		}
	}
	if _, err := f.svc.Act(ctx, tech1, tk.ID, ActionRequest{Action: ActArrive, Code: wrong}); !errors.Is(err, ErrLocked) {
		t.Fatalf("third wrong code: %v, want ErrLocked", err)
	}
	// Locked: even the right code is refused now.
	if _, err := f.svc.Act(ctx, tech1, tk.ID, ActionRequest{Action: ActArrive, Code: code}); !errors.Is(err, ErrLocked) {
		t.Fatalf("right code after lock: %v, want ErrLocked", err)
	}
	after := mustGet(t, f, tk.ID)
	if after.Status != StatusAccepted || after.CodeFailures != 3 {
		t.Fatalf("status %s failures %d, want accepted and 3", after.Status, after.CodeFailures)
	}
	for _, h := range after.History {
		if strings.Contains(h.Note, code) || strings.Contains(h.Note, wrong) {
			t.Errorf("history shows a code: %+v", h)
		}
	}
	if n := strings.Count(strings.Join(actions(after.History), " "), "code_refused"); n != 3 {
		t.Errorf("%d code_refused in history, want 3", n)
	}

	// The operator issues a new code; the old one no longer works, the new one does.
	res := mustAct(t, f, operator, tk.ID, ActionRequest{Action: ActNewCode, Reason: "owner asked"})
	if len(res.VerificationCode) != 6 {
		t.Fatalf("new code %q", res.VerificationCode)
	}
	if res.VerificationCode != code {
		if _, err := f.svc.Act(ctx, tech1, tk.ID, ActionRequest{Action: ActArrive, Code: code}); !errors.Is(err, ErrIllegal) {
			t.Fatalf("old code after reissue: %v, want refused", err)
		}
	}
	on := mustAct(t, f, tech1, tk.ID, ActionRequest{Action: ActArrive, Code: res.VerificationCode})
	if on.Status != StatusOnSite || on.VerificationCode != "" {
		t.Fatalf("arrive with the new code: %s, code shown %q", on.Status, on.VerificationCode)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLevelChangeReplansFromFirstReport(t *testing.T) {
	f := newFixture(t)
	id := ticketIn(t, f, StatusNew) // L2 at t0
	f.clock.Advance(20 * time.Minute)
	mustAct(t, f, operator, id, ActionRequest{Action: ActLevel, Level: 1, Reason: "water now reaching the switch room"})
	tk := mustGet(t, f, id)
	if tk.Level != 1 {
		t.Fatalf("level %d", tk.Level)
	}
	due := map[string]time.Time{}
	for _, d := range tk.Deadlines {
		due[d.Clock] = d.DueAt
	}
	// From the first report at t0, not from the change at t0+20m: the L1
	// dispatch limit (15m) is already missed.
	want := map[string]time.Time{clockDispatch: t0.Add(15 * time.Minute), clockArrive: t0.Add(30 * time.Minute),
		clockClose: t0.Add(4 * time.Hour), clockProgress: t0.Add(50 * time.Minute), clockClaim: t0.Add(5 * time.Minute)}
	for k, w := range want {
		if !due[k].Equal(w) {
			t.Errorf("%s due %v, want %v", k, due[k], w)
		}
	}
	last := tk.History[len(tk.History)-1]
	if last.Action != "level_changed" || !strings.Contains(last.Note, "L2 -> L1") || !strings.Contains(last.Note, "switch room") ||
		!strings.Contains(last.Note, "from the first report at 2026-11-23T01:00:00+08:00") {
		t.Errorf("history %+v", last)
	}
	// The missed dispatch limit escalates at the next tick.
	f.rec.reset()
	if err := f.svc.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	var clocks []string
	for _, e := range f.rec.eventsOf(EventTicketEscalated) {
		clocks = append(clocks, e.(ClockEvent).Clock)
	}
	slices.Sort(clocks)
	if !slices.Equal(clocks, []string{clockClaim, clockDispatch}) {
		t.Errorf("escalated clocks %v, want claim and dispatch", clocks)
	}
}

package ticketing

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// The reporter's link confirms or disputes the resolved work along the
// flow, with the callback score when given, and the history says it was
// the reporter through the link; it can do nothing else.
func TestReporterByLink(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tests := []struct {
		name        string
		status      Status
		v           ReporterVerdict
		wantErr     error // errors.Is; nil: accepted
		wantField   bool
		wantStatus  Status
		wantOutcome string
		wantScore   int
		wantActions []string // the last history rows
		wantRew     bool
	}{
		{name: "confirm", status: StatusResolved, v: ReporterVerdict{Action: ActConfirm},
			wantStatus: StatusClosed, wantOutcome: OutcomeConfirmed, wantActions: []string{ActConfirm}},
		{name: "confirm with score and note", status: StatusResolved, v: ReporterVerdict{Action: ActConfirm, Score: 5, Note: "quick and tidy"},
			wantStatus: StatusClosed, wantOutcome: OutcomeConfirmed, wantScore: 5, wantActions: []string{ActConfirm, ActCallback}},
		{name: "confirm with a low score opens rework", status: StatusResolved, v: ReporterVerdict{Action: ActConfirm, Score: 2},
			wantStatus: StatusClosed, wantOutcome: OutcomeRework, wantScore: 2, wantActions: []string{ActConfirm, ActCallback}, wantRew: true},
		{name: "dispute", status: StatusResolved, v: ReporterVerdict{Action: ActDispute, Reason: "still drips", Score: 1},
			wantStatus: StatusClosed, wantOutcome: OutcomeDisputed, wantScore: 1, wantActions: []string{ActDispute, ActCallback}},
		{name: "dispute needs a reason", status: StatusResolved, v: ReporterVerdict{Action: ActDispute}, wantField: true},
		{name: "score out of range", status: StatusResolved, v: ReporterVerdict{Action: ActConfirm, Score: 6}, wantField: true},
		{name: "no other action", status: StatusResolved, v: ReporterVerdict{Action: ActReopen}, wantField: true},
		{name: "not resolved yet", status: StatusOnSite, v: ReporterVerdict{Action: ActConfirm}, wantErr: ErrIllegal},
		{name: "decided already", status: StatusClosed, v: ReporterVerdict{Action: ActConfirm}, wantErr: ErrIllegal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := ticketIn(t, f, tc.status)
			before := len(mustGet(t, f, id).History)
			tk, err := f.svc.ReporterByLink(ctx, id, tc.v)
			var fe *FieldError
			switch {
			case tc.wantField:
				if !errors.As(err, &fe) {
					t.Fatalf("err %v, want a field error", err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			got := mustGet(t, f, id)
			if tc.wantErr != nil || tc.wantField {
				if len(got.History) != before || got.Status != tc.status {
					t.Errorf("refused, yet the ticket changed: %s, history %v", got.Status, actions(got.History))
				}
				return
			}
			if tk.ID != id || got.Status != tc.wantStatus || got.Outcome != tc.wantOutcome {
				t.Errorf("ticket %s %s, want %s %s", got.Status, got.Outcome, tc.wantStatus, tc.wantOutcome)
			}
			if score := got.Score; (score == nil) != (tc.wantScore == 0) || (score != nil && *score != tc.wantScore) {
				t.Errorf("score %v, want %d", score, tc.wantScore)
			}
			added := got.History[before:]
			if a := actions(added); strings.Join(a, ",") != strings.Join(tc.wantActions, ",") {
				t.Fatalf("history added %v, want %v", a, tc.wantActions)
			}
			for _, h := range added {
				if h.Role != RoleReporterLink || h.Actor != "Li Wei" || !strings.Contains(h.Note, "reporter's link") {
					t.Errorf("history row %+v: want by the reporter via the link", h)
				}
			}
			if tc.v.Note != "" && !strings.Contains(added[len(added)-1].Note, tc.v.Note) {
				t.Errorf("the note is not in the history: %+v", added)
			}
			if (got.Outcome == OutcomeRework) != tc.wantRew {
				t.Errorf("outcome %s, rework %v", got.Outcome, tc.wantRew)
			}
		})
	}
}

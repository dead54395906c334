package ticketing

import (
	"context"
	"errors"
	"testing"

	"github.com/caretaker-iot/caretaker/internal/fence"
)

// A leader that lost its partition's lease writes nothing: the alarm it
// raises late is refused by the store, and the leader of the new epoch
// writes it. Writes without a token (API requests) are never fenced.
func TestWritesOfADeposedLeaderAreRefused(t *testing.T) {
	f := newFixtureOn(t, onPostgreSQL)
	if _, err := f.svc.db.Exec(`CREATE TABLE ` + fence.LeaseTable + ` (partition TEXT PRIMARY KEY, holder TEXT NOT NULL,
		epoch BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);
		INSERT INTO ` + fence.LeaseTable + ` VALUES ('north', 'b', 8, now() + interval '1 hour')`); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := gasAlarm(f, 35)
	old := fence.With(ctx, fence.Token{Partition: "north", Epoch: 7})
	if err := f.svc.HandleAlarm(old, a); !errors.Is(err, fence.ErrDeposed) {
		t.Fatalf("raise of the deposed leader: %v, want ErrDeposed", err)
	}
	if n := len(mustOpenTickets(t, f)); n != 0 || len(f.rec.types()) != 0 {
		t.Fatalf("deposed leader's raise left %d tickets and events %v", n, f.rec.types())
	}
	if err := f.svc.HandleAlarm(fence.With(ctx, fence.Token{Partition: "north", Epoch: 8}), a); err != nil {
		t.Fatalf("raise of the leader: %v", err)
	}
	tk := mustOpenTickets(t, f)
	if len(tk) != 1 {
		t.Fatalf("%d tickets after the leader's raise, want 1", len(tk))
	}
	if _, err := f.svc.Act(old, operator, tk[0].ID, ActionRequest{Action: ActComment, Note: "late"}); !errors.Is(err, fence.ErrDeposed) {
		t.Fatalf("action under the old token: %v, want ErrDeposed", err)
	}
	if _, err := f.svc.AckAlarm(ctx, operator, a.ID); err != nil {
		t.Fatalf("an operator's ack (no token): %v", err)
	}
}

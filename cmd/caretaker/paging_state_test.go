package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/caretaker-iot/caretaker/ticketing"
)

func TestPagingStates(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 31, 0, 0, time.UTC)
	row := func(ticket int64, step, who, ch, state string, attempts int, at time.Time) ticketing.Notification {
		return ticketing.Notification{TicketID: ticket, Step: step, Recipient: who, Channel: ch, State: state, Attempts: attempts, QueuedAt: at}
	}
	tests := []struct {
		name string
		rows []ticketing.Notification
		want []pagingState
	}{
		{"none", nil, []pagingState{}},
		{"one step, a channel retrying", []ticketing.Notification{
			row(1, "1", "tech1", "email", "sent", 1, t0),
			row(1, "1", "tech1", "hook", "queued", 2, t0),
			row(1, "1", "desk", "hook", "sent", 1, t0),
		}, []pagingState{{TicketID: 1, Step: "1", Recipients: []string{"tech1", "desk"}, At: t0,
			Channels: []channelState{{"email", "sent"}, {"hook", "retrying"}}}}},
		{"the latest step counts; the reporter is no page", []ticketing.Notification{
			row(2, "1", "reporter", "sms", "sent", 1, t0),
			row(2, "1", "tech1", "hook", "failed", 9, t0),
			row(2, "2", "sup1", "hook", "queued", 0, t0.Add(5*time.Minute)),
			row(2, "2", "reporter", "sms", "queued", 0, t0.Add(6*time.Minute)),
		}, []pagingState{{TicketID: 2, Step: "2", Recipients: []string{"sup1"}, At: t0.Add(5 * time.Minute),
			Channels: []channelState{{"hook", "queued"}}}}},
		{"failed wins over sent", []ticketing.Notification{
			row(3, "1", "a", "hook", "sent", 1, t0),
			row(3, "1", "b", "hook", "failed", 3, t0),
		}, []pagingState{{TicketID: 3, Step: "1", Recipients: []string{"a", "b"}, At: t0,
			Channels: []channelState{{"hook", "failed"}}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := pagingStates(tc.rows); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("pagingStates = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

package dashboard

import (
	"context"
	"io"

	"github.com/caretaker-iot/caretaker/ticketing"
)

// The repair-flow side of fakeTickets: the API tests of the flow run
// against the real ticketing service (flow_api_test.go), so these only
// make the fake satisfy Tickets.

func (f *fakeTickets) Act(context.Context, ticketing.Actor, int64, ticketing.ActionRequest) (ticketing.ActionResult, error) {
	return ticketing.ActionResult{}, errNotFound
}

func (f *fakeTickets) AddReportPhoto(context.Context, ticketing.Actor, int64, int64, string, io.Reader) (ticketing.Photo, error) {
	return ticketing.Photo{}, errNotFound
}

func (f *fakeTickets) OpenPhoto(context.Context, int64, int64) (ticketing.Photo, io.ReadSeekCloser, error) {
	return ticketing.Photo{}, nil, errNotFound
}

func (f *fakeTickets) Stats(context.Context, ticketing.StatsQuery) (ticketing.Stats, error) {
	return ticketing.Stats{}, nil
}

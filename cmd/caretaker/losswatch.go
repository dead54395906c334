package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/caretaker-iot/caretaker/devices"
	"github.com/caretaker-iot/caretaker/ingest/tsdb"
)

// InfluxStatusID is the entry under which the dashboard's device list and
// its device.status events show the InfluxDB writer: offline while it
// loses readings (spool full, or batches refused), online again once it
// loses nothing and its spool is empty.
const InfluxStatusID = "store:influx"

// EmbeddedStoreStatusID is the same for the embedded store: offline while
// it drops readings (its file refused writes until its buffer was full),
// online again once it loses nothing and its buffer is written.
const EmbeddedStoreStatusID = "store:embedded"

// lossCounter is a store as the watch sees it.
type lossCounter interface {
	Lost() int64    // readings lost so far
	Spooled() int64 // readings waiting to be written (spool, buffer)
}

// lossSource is a store the watch looks at, and how its reports name it.
type lossSource struct {
	id   string // the status entry (InfluxStatusID, EmbeddedStoreStatusID)
	what string // "InfluxDB writer"
	why  string // what losing means, and the metric that counts it
	w    lossCounter
}

// lossSourceOf is the watch's view of the serving store; ok is false for
// a store that counts no losses.
func lossSourceOf(store readingStore) (lossSource, bool) {
	switch s := store.(type) {
	case *tsdb.Store:
		return lossSource{id: EmbeddedStoreStatusID, what: "embedded store",
			why: "its file refused writes until the buffer was full; see caretaker_embedded_store_points_lost_total",
			w:   embeddedLoss{s}}, true
	case lossCounter:
		return lossSource{id: InfluxStatusID, what: "InfluxDB writer",
			why: "spool full or batches refused; see caretaker_influx_points_lost_total", w: s}, true
	}
	return lossSource{}, false
}

// embeddedLoss gives the embedded store the watch's method names.
type embeddedLoss struct{ s *tsdb.Store }

func (e embeddedLoss) Lost() int64    { return e.s.Lost() }
func (e embeddedLoss) Spooled() int64 { return e.s.Buffered() }

// statusSink takes reachability reports (the dashboard's live state).
type statusSink interface {
	Status(ctx context.Context, s devices.Status)
}

// watchLoss looks at the store's loss counter at every tick and tells
// sink when readings start being lost and when that is over, so the loss
// is on the control room's screen and not only in the log and on
// /metrics. It returns when ctx ends.
func watchLoss(ctx context.Context, src lossSource, sink statusSink, tick <-chan time.Time, now func() time.Time, log *slog.Logger) error {
	w := src.w
	last, losing := w.Lost(), false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
		}
		n := w.Lost()
		switch {
		case n > last:
			reason := fmt.Sprintf("%s lost %d readings since the last check, %d since start (%s)", src.what, n-last, n, src.why)
			if !losing {
				log.Error("readings are being lost", "store", src.id, "lost_total", n)
			}
			losing = true
			sink.Status(ctx, devices.Status{Device: src.id, Online: false, Time: now(), Reason: reason})
		case losing && w.Spooled() == 0:
			losing = false
			log.Info("store loses nothing any more; nothing waits to be written", "store", src.id, "lost_total", n)
			sink.Status(ctx, devices.Status{Device: src.id, Online: true, Time: now(),
				Reason: fmt.Sprintf("writing again; %d readings were lost in all", n)})
		}
		last = n
	}
}

// runLossWatch runs watchLoss every 2 s for a store that counts its
// losses (InfluxDB, the embedded store); for any other it only waits.
func runLossWatch(ctx context.Context, store readingStore, sink statusSink, log *slog.Logger) error {
	src, ok := lossSourceOf(store)
	if !ok {
		return nil
	}
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	return watchLoss(ctx, src, sink, t.C, time.Now, log.With("component", "store-loss"))
}

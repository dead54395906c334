package influx

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// How the writer works. WriteReading encodes a point to line protocol
// (line.go) and appends it to pending (memory). One goroutine (Run)
// takes batches of up to BatchSize from pending when one is full or
// FlushInterval has passed (sooner while an acknowledgement waits, see
// durable.go) and sends each with one request, up to Writes at once.
// While the spool holds anything, new batches go behind it, one request
// at a time, so InfluxDB gets them in the order they came.
// A batch InfluxDB cannot take (no connection, timeout, 5xx, 429, 401/403,
// 404 for a missing database) goes to the spool; the spool is replayed
// oldest first after a pause that doubles from RetryMin to RetryMax while
// InfluxDB stays away. A batch refused as malformed (400, 413, 422) would
// be refused forever: it is dropped, counted as lost and logged. When
// pending grows past MaxPending (a write hanging until its timeout), the
// excess spills straight to the spool instead of holding up the pipeline.
// Only a full spool loses points, and that is counted and logged.

func (in *Store) enqueue(line string) {
	in.mu.Lock()
	in.pending = append(in.pending, line)
	in.track.enq++
	n := len(in.pending)
	var spill []queued
	if n > in.cfg.MaxPending && in.spool != nil {
		spill = in.takeLocked(n)
	}
	in.mu.Unlock()
	if spill != nil {
		for _, q := range spill {
			in.toSpool(q, "write backlog")
			in.settled(q)
		}
		in.kickRun()
		return
	}
	if n >= in.cfg.BatchSize {
		in.kickRun()
	}
}

// queued is a batch taken from pending with its place in the spool, should
// it end up there.
type queued struct {
	lines []string
	seq   uint64
	span  *span // its lines in the durability count (influx_durable.go)
}

// takeLocked takes up to n pending lines in batches, each with a spool
// place reserved in the order taken. in.mu must be held.
func (in *Store) takeLocked(n int) []queued {
	var out []queued
	for n > 0 && len(in.pending) > 0 {
		k := min(n, len(in.pending), in.cfg.BatchSize)
		q := queued{lines: in.pending[:k:k], span: in.track.take(k)}
		if in.spool != nil {
			q.seq = in.spool.Reserve()
		}
		out = append(out, q)
		in.pending = in.pending[k:]
		n -= k
	}
	if len(in.pending) == 0 {
		in.pending = nil
	}
	return out
}

func (in *Store) kickRun() {
	select {
	case in.kick <- struct{}{}:
	default:
	}
}

// Run sends batches when they are due, replays the spool and keeps the
// durability promises (AfterDurable) until ctx ends or Close is called;
// then it waits for the writes under way, writes (or spools) what is
// pending and returns nil. A batch taken from pending is first made
// durable in the journal (its acknowledgements go then), then queued for
// one of Writes senders, goroutines of Run's own: a sender joins what
// waits in the queue, up to BatchSize points, into one request. So
// acknowledgements do not wait on InfluxDB's answer, and a slow InfluxDB
// gets fewer, larger requests. At most 4×Writes batches wait to be
// written; beyond that what is pending waits too, and so, once the
// in-flight window is full, does the broker. Nothing is sent before the
// first batch is due. Points written while Run is not running wait for
// it, for Flush or for Close.
func (in *Store) Run(ctx context.Context) error {
	in.runMu.Lock()
	defer in.runMu.Unlock()
	select {
	case <-in.stop:
		return nil // closed already
	default:
	}
	quit := make(chan struct{})
	var senders sync.WaitGroup
	for range in.cfg.Writes {
		senders.Add(1)
		go func() {
			defer senders.Done()
			in.sender(quit)
		}()
	}
	stopSenders := func() {
		in.sends.Wait() // every batch taken is written or spooled
		close(quit)
		senders.Wait()
	}
	tick := time.NewTicker(in.cfg.FlushInterval)
	defer tick.Stop()
	// A spool left by an earlier run is replayed at once; otherwise the
	// retry timer waits for a failed write to arm it.
	retry := time.NewTimer(0)
	if in.spool == nil || in.spool.Len() == 0 {
		retry.Stop()
	}
	defer retry.Stop()
	backoff := time.Duration(0)
	var retryAt time.Time
	durable := time.NewTimer(in.cfg.DurableWait)
	durable.Stop()
	defer durable.Stop()
	due := false // what is pending should leave as soon as there is room
	for {
		stopping := false
		select {
		case <-in.waiting:
			durable.Reset(in.cfg.DurableWait)
			continue
		case <-durable.C:
			due = true
		case <-in.kick:
		case <-tick.C:
			due = true
		case <-in.freed:
		case <-retry.C:
		case <-ctx.Done():
			stopping = true
		case <-in.stop:
			stopping = true
		}
		if stopping {
			stopSenders()
			in.sendMu.Lock()
			in.sendPending()
			in.sendMu.Unlock()
			return nil
		}
		in.sendMu.Lock()
		if in.spool != nil && in.spool.Len() > 0 {
			// Behind the spool, in order: one request at a time.
			in.sends.Wait()
			in.sendPending()
			due = false
			if !time.Now().Before(retryAt) {
				if in.replay() {
					backoff = 0
				} else {
					backoff = min(max(2*backoff, in.cfg.RetryMin), in.cfg.RetryMax)
					retryAt = time.Now().Add(backoff)
					retry.Reset(backoff)
				}
			}
		} else {
			due = in.dispatch(due)
		}
		in.sendMu.Unlock()
	}
}

// outItem is a batch taken from pending on its way to InfluxDB.
type outItem struct {
	q         queued
	seg       uint64 // its journal segment, when journaled
	journaled bool
}

// dispatch takes each batch that is ready while there is room in the
// queue: a full batch; DurableBatch lines that an acknowledgement waits
// on; or anything, once due (a tick, DurableWait). Each is journaled in
// a goroutine of its own and queued for the senders. It tells whether
// what is pending is still due (the queue was full).
func (in *Store) dispatch(due bool) bool {
	for {
		in.mu.Lock()
		n := len(in.pending)
		waited := len(in.track.waiters) > 0 && in.track.waiters[len(in.track.waiters)-1].end > in.track.taken
		ready := n >= in.cfg.BatchSize || (n > 0 && due) || (waited && n >= in.cfg.DurableBatch)
		if !ready {
			in.mu.Unlock()
			return false
		}
		select {
		case in.room <- struct{}{}:
		default:
			in.mu.Unlock()
			return due || n >= in.cfg.BatchSize
		}
		q := in.takeLocked(in.cfg.BatchSize)[0]
		more := len(in.pending) > 0
		in.mu.Unlock()
		in.sends.Add(1)
		go in.journalAndQueue(q)
		due = due && more
	}
}

// journalAndQueue writes one batch to the journal, which makes it durable
// (its acknowledgements go at once), and queues it for a sender. Without
// a journal, or when it fails, the batch is settled once InfluxDB
// answered (or it was spooled).
func (in *Store) journalAndQueue(q queued) {
	it := outItem{q: q}
	if in.journal != nil {
		seg, err := in.journal.append(q.lines, len(q.lines))
		if err != nil {
			in.rlog.Warn("influx-journal", "influx journal write failed; acknowledging after InfluxDB answers", "error", err)
		} else {
			it.seg, it.journaled = seg, true
			in.settled(q)
		}
	}
	in.outMu.Lock()
	in.out = append(in.out, it)
	in.outMu.Unlock()
	signal(in.outReady)
}

// sender writes queued batches until quit is closed and the queue is
// empty: what waits, joined up to BatchSize points, in one request.
func (in *Store) sender(quit <-chan struct{}) {
	for {
		in.outMu.Lock()
		var items []outItem
		points := 0
		for len(in.out) > 0 && (len(items) == 0 || points+len(in.out[0].q.lines) <= in.cfg.BatchSize) {
			items = append(items, in.out[0])
			points += len(in.out[0].q.lines)
			in.out = in.out[1:]
		}
		left := len(in.out)
		if left == 0 {
			in.out = nil
		}
		in.outMu.Unlock()
		if left > 0 {
			signal(in.outReady) // another sender may take the rest
		}
		if len(items) == 0 {
			select {
			case <-in.outReady:
				continue
			case <-quit:
				return
			}
		}
		chunks := make([][]string, len(items))
		for i, it := range items {
			chunks[i] = it.q.lines
		}
		if err := in.send(chunks, nil, points); err != nil {
			for _, it := range items {
				in.failed(it.q, err)
			}
		}
		for _, it := range items {
			if it.journaled {
				in.journal.settle(it.seg)
			} else {
				in.settled(it.q)
			}
			<-in.room
			in.sends.Done()
		}
		signal(in.freed)
	}
}

var errNoJournal = errors.New("no journal")

// sendPending sends pending in batches, one request at a time: full ones,
// and the last partial one too (it is due: a flush or the stop). While
// the spool is not empty they join its end instead, so one failed write
// is the most a stop with InfluxDB away waits for.
func (in *Store) sendPending() {
	for {
		in.mu.Lock()
		qs := in.takeLocked(in.cfg.BatchSize)
		in.mu.Unlock()
		if len(qs) == 0 {
			return
		}
		q := qs[0]
		if in.spool != nil && in.spool.Len() > 0 {
			in.toSpool(q, "spool not yet replayed")
			in.settled(q)
			continue
		}
		if err := in.send([][]string{q.lines}, nil, len(q.lines)); err != nil {
			in.failed(q, err)
		}
		in.settled(q)
	}
}

// replay sends spooled batches oldest first until the spool is empty
// (true) or InfluxDB fails again (false).
func (in *Store) replay() bool {
	for {
		b, ok, err := in.spool.Oldest()
		if err != nil {
			in.log.Error("influx spool unreadable", "error", err)
			return false
		}
		if !ok {
			in.log.Info("influx spool replayed")
			return true
		}
		if err := in.send(nil, b.Data, b.Points); err != nil {
			if retryable(err) {
				in.rlog.Warn("influx-replay", "influx still unavailable; spool kept", "error", err, "spooled_points", in.spool.Points())
				return false
			}
			in.lose(b.Points, "rejected", err)
		}
		if err := in.spool.Remove(b.Seq); err != nil {
			in.log.Error("influx spool: cannot remove a replayed batch", "error", err)
			return false
		}
		in.spoolGauges()
	}
}

// send writes one batch (lines, in chunks, or raw from the spool) with
// one request.
func (in *Store) send(lines [][]string, raw []byte, points int) error {
	ctx, cancel := context.WithTimeout(context.Background(), in.cfg.WriteTimeout)
	defer cancel()
	start := time.Now()
	err := in.post.write(ctx, lines, raw)
	in.metrics.latency.Observe(time.Since(start).Seconds())
	if err != nil {
		in.nerrs.Add(1)
		in.metrics.errors.Inc()
		return err
	}
	in.metrics.batch.Observe(float64(points))
	in.metrics.written.Add(float64(points))
	in.sent.Add(int64(points))
	return nil
}

// failed puts a batch InfluxDB did not take into the spool, or counts it
// lost when it can never be taken.
func (in *Store) failed(q queued, err error) {
	if !retryable(err) {
		in.lose(len(q.lines), "rejected", err)
		return
	}
	in.rlog.Warn("influx-down", "influx write failed; spooling", "error", err)
	in.toSpool(q, "influx unavailable")
}

// toSpool puts a batch in the spool at its reserved place.
func (in *Store) toSpool(q queued, why string) {
	if in.spool == nil {
		in.lose(len(q.lines), "no_spool", errors.New(why))
		return
	}
	if err := in.spool.Put(q.seq, []byte(strings.Join(q.lines, "\n")), len(q.lines)); err != nil {
		in.lose(len(q.lines), "spool_full", err)
		return
	}
	in.spoolGauges()
}

func (in *Store) lose(points int, reason string, err error) {
	in.lost.Add(int64(points))
	in.metrics.lost.WithLabelValues(reason).Add(float64(points))
	in.rlog.Error("influx-lost:"+reason, "influx points lost", "points", points, "reason", reason, "error", err,
		"lost_total", in.lost.Load())
}

func (in *Store) spoolGauges() {
	in.metrics.spoolBytes.Set(float64(in.spool.Bytes()))
	in.metrics.spoolPoints.Set(float64(in.spool.Points()))
}

// retryable tells whether a failed write may succeed later unchanged.
func retryable(err error) bool {
	var he *http2.Error
	if !errors.As(err, &he) || he.StatusCode == 0 {
		return true // no answer at all
	}
	switch he.StatusCode {
	case 400, 413, 422:
		return false
	}
	return true
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

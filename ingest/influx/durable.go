package influx

// How the InfluxDB writer tells what is durable (DurableWriter). Every
// line appended to pending gets the next number (enq); a batch taken from
// pending covers a span of numbers. A batch is settled once InfluxDB
// answered 2xx, it is synced into the spool, or it is counted lost. Lines
// before the oldest unsettled span that have been taken are durable; an
// AfterDurable callback waits for the number of the last line written
// before it. While a callback waits on lines still in pending, the writer
// sends them within DurableWait, or at once once DurableBatch lines are
// pending, instead of waiting for a full batch or FlushInterval.

// durableTrack is the writer's bookkeeping; Store.mu guards it.
type durableTrack struct {
	enq, taken uint64   // lines ever appended to pending, ever taken from it
	open       []*span  // taken batches not settled yet, oldest first
	waiters    []waiter // oldest (smallest end) first
}

type span struct {
	start, end uint64
	settled    bool
}

type waiter struct {
	end  uint64
	done func()
}

// durable is the number of lines from the first that are safe.
func (t *durableTrack) durable() uint64 {
	if len(t.open) > 0 {
		return t.open[0].start
	}
	return t.taken
}

// take records that the next k pending lines leave in one batch.
func (t *durableTrack) take(k int) *span {
	sp := &span{start: t.taken, end: t.taken + uint64(k)}
	t.taken = sp.end
	t.open = append(t.open, sp)
	return sp
}

// settle marks a batch safe and returns the callbacks that may run now.
func (t *durableTrack) settle(sp *span) []func() {
	if sp == nil {
		return nil
	}
	sp.settled = true
	i := 0
	for i < len(t.open) && t.open[i].settled {
		i++
	}
	if i == 0 {
		return nil
	}
	t.open = t.open[i:]
	if len(t.open) == 0 {
		t.open = nil
	}
	d := t.durable()
	j := 0
	for j < len(t.waiters) && t.waiters[j].end <= d {
		j++
	}
	if j == 0 {
		return nil
	}
	fns := make([]func(), j)
	for k, w := range t.waiters[:j] {
		fns[k] = w.done
	}
	t.waiters = t.waiters[j:]
	if len(t.waiters) == 0 {
		t.waiters = nil
	}
	return fns
}

// AfterDurable calls done once every reading and event written so far has
// been answered 2xx by InfluxDB, synced into the spool, or counted lost
// (DurableWriter).
func (in *Store) AfterDurable(done func()) {
	in.mu.Lock()
	t := &in.track
	if t.durable() >= t.enq {
		in.mu.Unlock()
		done()
		return
	}
	// A timer is already running for pending lines when an earlier
	// callback waits on some of them.
	armed := len(t.waiters) > 0 && t.waiters[len(t.waiters)-1].end > t.taken
	t.waiters = append(t.waiters, waiter{end: t.enq, done: done})
	pending := t.enq - t.taken
	in.mu.Unlock()
	switch {
	case pending >= uint64(in.cfg.DurableBatch):
		in.kickRun()
	case pending > 0 && !armed:
		signal(in.waiting)
	}
}

// settled releases the callbacks a batch that is now safe held back.
func (in *Store) settled(q queued) {
	in.mu.Lock()
	fns := in.track.settle(q.span)
	in.mu.Unlock()
	in.acks.Go(fns...)
}

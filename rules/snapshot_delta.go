package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// The saved rule state is kept by device: one row per device holding the
// episodes of it worth keeping, and a head row (the layout's format, the
// alarm changes the sink has not taken). The engine keeps the set of
// devices whose state may have changed since the last save (unsaved), and
// a save writes only those: a device's row is written again, or removed
// once nothing of it is worth keeping; a save with nothing changed writes
// nothing. The rows are read from the engine a few devices at a time and
// encoded one device at a time, so a save holds neither a copy of the
// whole state nor its whole JSON. What the stored rows say together is
// what the engine kept: a device not written again had not changed.

// deltaFormat is the version of the head row's layout (a device's row is
// a JSON array of episodes as saved, episodeState without the device).
const deltaFormat = 2

// deltaChunk is how many devices a save copies under the lock at a
// time; deltaBatch how many it hands the store at a time, to write in
// one transaction.
const (
	deltaChunk = 256
	deltaBatch = 1024
)

// ErrStateUnreadable is wrapped by RestoreState's error when saved rows
// could not be read back: they were skipped (and are rewritten at the
// next save), the rest was taken back.
var ErrStateUnreadable = errors.New("saved rule state unreadable")

// StateStore keeps the saved rule state. SaveState writes one batch in
// one transaction (it may run it again). The engine is not locked while
// it runs: a store that shares its database with the alarm sink does not
// wait for the engine, nor the engine for it.
type StateStore interface {
	SaveState(ctx context.Context, b StateBatch) error
}

// StateBatch is part of what changed in the engine's state since its
// last save: some devices' rows, and with the last batch of a save the
// head row if it changed.
type StateBatch struct {
	Devices []DeviceState
	// Head is the head row to write, nil if it is unchanged; it comes
	// with the last batch, after every device's row, and then the whole
	// snapshot an older instance saved can go.
	Head []byte
}

// DeviceState is a device's row: its episodes worth keeping as saved (a
// JSON array of episodeState without the device), nil when there are
// none (the row is to be removed).
type DeviceState struct {
	Device string
	Body   []byte
}

// StateLoader reads the saved rule state back: fn gets the head first
// (device ""; an older instance's whole snapshot if there is no head),
// then each device's row.
type StateLoader interface {
	LoadState(ctx context.Context, fn func(device string, body []byte) error) error
}

// batch reads the rows of devices as they are now, a few devices at a
// time under the engine's lock.
func (e *Engine) batch(devices []string) ([]DeviceState, error) {
	var (
		buf  bytes.Buffer
		eps  []savedEpisode
		ends []int
		es   episodeState // encode's scratch
	)
	out := make([]DeviceState, 0, len(devices))
	enc := json.NewEncoder(&buf)
	for from := 0; from < len(devices); from += deltaChunk {
		ids := devices[from:min(from+deltaChunk, len(devices))]
		eps, ends = eps[:0], ends[:0]
		e.mu.Lock()
		for _, id := range ids {
			eps = e.saveDevice(id, eps)
			ends = append(ends, len(eps))
		}
		e.mu.Unlock()
		start := 0
		for j, id := range ids {
			mine := eps[start:ends[j]]
			start = ends[j]
			if len(mine) == 0 {
				out = append(out, DeviceState{Device: id})
				continue
			}
			buf.Reset()
			for i := range mine {
				if i == 0 {
					buf.WriteByte('[')
				} else {
					buf.WriteByte(',')
				}
				if err := mine[i].encode(enc, &buf, &es, false); err != nil {
					return nil, fmt.Errorf("rule state of %s: %w", id, err)
				}
			}
			buf.WriteByte(']')
			out = append(out, DeviceState{Device: id, Body: bytes.Clone(buf.Bytes())})
		}
		clear(eps) // let the copies go
	}
	return out, nil
}

// saveDevice appends the device's episodes worth keeping, by rule key.
// Under the lock.
func (e *Engine) saveDevice(device string, eps []savedEpisode) []savedEpisode {
	ds := e.state.devs[device]
	if ds == nil {
		return eps
	}
	from := len(eps)
	for i := range ds.slots {
		if sv, ok := e.saveSlot(device, *ds.rules.keys[i], &ds.slots[i]); ok {
			eps = append(eps, sv)
		}
	}
	mine := eps[from:]
	slices.SortFunc(mine, func(a, b savedEpisode) int { return strings.Compare(a.k.rule, b.k.rule) })
	return eps
}

// unsave marks a device's state as changed since the last save. Under
// the lock.
func (e *Engine) unsave(device string) {
	l := e.lastFor(device)
	if l.unsaved {
		return
	}
	if _, ok := e.unsaved[device]; !ok {
		e.unsaved[device] = struct{}{}
	}
	l.unsaved = true
}

// head is the head row: the format and the alarm changes waiting. Under
// the lock.
func (e *Engine) head() ([]byte, error) {
	return json.Marshal(struct {
		Format   int     `json:"format"`
		Handoffs []Alarm `json:"handoffs,omitempty"`
	}{deltaFormat, e.handoffList()})
}

// SaveChanges writes to the store what changed since the last save, and
// returns how many devices it wrote (or removed). Nothing changed:
// nothing is written. It hands the store a batch of devices at a time,
// each read from the engine as it is now, and the head with the last; on
// a failure the devices not written yet stay to be saved next time.
func (e *Engine) SaveChanges(ctx context.Context, to StateStore) (int, error) {
	e.saving.Lock()
	defer e.saving.Unlock()
	e.mu.Lock()
	head, err := e.head()
	if err != nil {
		e.mu.Unlock()
		return 0, fmt.Errorf("rule state head: %w", err)
	}
	if bytes.Equal(head, e.savedHead) {
		head = nil
	}
	devices := make([]string, 0, len(e.unsaved))
	for id := range e.unsaved {
		devices = append(devices, id)
	}
	e.unsaved, e.last.unsaved = map[string]struct{}{}, false // a new one: a map does not shrink
	e.mu.Unlock()
	if head == nil && len(devices) == 0 {
		return 0, nil
	}
	slices.Sort(devices)
	written := 0
	for written < len(devices) || head != nil {
		ids := devices[written:min(written+deltaBatch, len(devices))]
		b := StateBatch{}
		if b.Devices, err = e.batch(ids); err == nil {
			if written+len(ids) == len(devices) {
				b.Head = head
			}
			err = to.SaveState(ctx, b)
		}
		if err != nil {
			e.mu.Lock()
			for _, id := range devices[written:] {
				e.unsave(id)
			}
			e.mu.Unlock()
			return written, err
		}
		written += len(ids)
		if b.Head != nil {
			e.mu.Lock()
			e.savedHead = b.Head
			e.mu.Unlock()
			head = nil
		}
	}
	return written, nil
}

// RestoreState takes back the state a StateStore saved (or an older
// instance's whole snapshot), before any reading comes; it returns how
// many episodes it took back. The state of a rule that is gone, or now
// tests something else, is dropped (and the device's row rewritten at
// the next save). A row that cannot be read is skipped: the error then
// wraps ErrStateUnreadable. Call it before Restore.
func (e *Engine) RestoreState(ctx context.Context, from StateLoader) (episodes int, err error) {
	var bad []string
	var firstBad error
	err = from.LoadState(ctx, func(device string, body []byte) error {
		if device == "" {
			n, err := e.restoreHead(body)
			if err != nil {
				bad = append(bad, "head")
				if firstBad == nil {
					firstBad = err
				}
			}
			episodes += n
			return nil
		}
		var eps []episodeState
		if err := json.Unmarshal(body, &eps); err != nil {
			if firstBad == nil {
				firstBad = err
			}
			bad = append(bad, device)
			e.mu.Lock()
			e.unsave(device) // rewritten, or removed, at the next save
			e.mu.Unlock()
			return nil
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, es := range eps {
			es.Device = device
			if e.restoreEpisode(es) {
				episodes++
			} else {
				e.unsave(device)
			}
		}
		return nil
	})
	if err != nil {
		return episodes, fmt.Errorf("load rule state: %w", err)
	}
	if len(bad) > 0 {
		return episodes, fmt.Errorf("%w: %d rows skipped (%s): %v", ErrStateUnreadable, len(bad), bad[0], firstBad)
	}
	return episodes, nil
}

// restoreHead takes back the head row, or an older instance's whole
// snapshot.
func (e *Engine) restoreHead(body []byte) (int, error) {
	var h struct {
		Format   int     `json:"format"`
		Handoffs []Alarm `json:"handoffs"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return 0, fmt.Errorf("rule state head: %w", err)
	}
	switch h.Format {
	case snapshotFormat:
		return e.RestoreSnapshot(body)
	case deltaFormat:
	default:
		return 0, fmt.Errorf("rule state head: format %d, want %d", h.Format, deltaFormat)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range h.Handoffs {
		e.handoffs.add(a)
	}
	head, err := e.head()
	if err == nil {
		e.savedHead = head // as stored: a save with nothing changed writes nothing
	}
	return 0, nil
}

// Snapshotter saves what changed in the engine's state every Interval
// until ctx ends; the caller saves once more at shutdown (Save) once no
// reading is left to handle.
type Snapshotter struct {
	Engine   *Engine
	Store    StateStore
	Interval time.Duration // default DefaultSnapshotInterval
	Logger   *slog.Logger
}

// DefaultSnapshotInterval is how often the rule state is saved when
// nothing says otherwise (rules.snapshot_interval): what a kill -9 may
// cost of pending for/clear_for timers.
const DefaultSnapshotInterval = 10 * time.Second

// Run saves periodically until ctx ends. A failed save is logged and
// tried again at the next interval.
func (s *Snapshotter) Run(ctx context.Context) error {
	iv := s.Interval
	if iv <= 0 {
		iv = DefaultSnapshotInterval
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := s.Save(ctx); err != nil && ctx.Err() == nil {
				s.log().Error("rule state not saved; tried again at the next interval", "err", err)
			}
		}
	}
}

// Save writes what changed since the last save.
func (s *Snapshotter) Save(ctx context.Context) error {
	n, err := s.Engine.SaveChanges(ctx, s.Store)
	if err != nil {
		return fmt.Errorf("save rule state: %w", err)
	}
	if n > 0 {
		s.log().Debug("rule state saved", "devices", n)
	}
	return nil
}

func (s *Snapshotter) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// saveMark is what Tick may change in an episode (advance: a for or a
// clear_for completing, a held raise released, flapping settling): when
// it changed, the device's state is saved again.
type saveMark struct {
	on, announced, held, flapping bool
	pendingSince, clearSince      stamp
	toggles                       int
	lastToggle                    time.Time
}

func (st *episode) saveMark() saveMark {
	m := saveMark{on: st.on, announced: st.announced, held: st.held, flapping: st.flapping,
		pendingSince: st.pendingSince, clearSince: st.clearSince}
	if ts := st.toggles(); len(ts) > 0 {
		m.toggles, m.lastToggle = len(ts), ts[len(ts)-1]
	}
	return m
}

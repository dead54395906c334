package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ErrFull is returned by Append when the batch would take the spool past
// its byte limit.
var ErrFull = errors.New("spool full")

const suffix = ".batch"

// entry is one spooled batch: file <seq>-<points>.batch.
type entry struct {
	seq    uint64
	points int
	size   int64
}

func (e entry) name() string { return fmt.Sprintf("%020d-%d%s", e.seq, e.points, suffix) }

// Spool is a directory of batches. It is safe for concurrent use.
type Spool struct {
	dir string
	max int64
	// syncDir makes a folder's entries durable (fsync of the folder);
	// tests replace it to see it called.
	syncDir func(dir string) error

	mu      sync.Mutex
	full    bool    // a batch was refused for lack of room; no room made since
	entries []entry // oldest first
	next    uint64
	bytes   int64
	points  int64
}

// Open opens (creating it if needed) the spool in dir, limited to maxBytes
// of batches, and finds the batches a previous run left there.
func Open(dir string, maxBytes int64) (*Spool, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("spool %s: max bytes must be positive, not %d", dir, maxBytes)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	// The folder may be new: its entry in its parent must survive a power
	// cut too, or so would none of the batches in it.
	if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, max: maxBytes, next: 1, syncDir: syncDir}
	for _, de := range des {
		name := de.Name()
		if strings.HasSuffix(name, ".tmp") { // a write a crash interrupted
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		e, ok := parseName(name)
		if !ok {
			continue
		}
		info, err := de.Info()
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		e.size = info.Size()
		s.entries = append(s.entries, e)
		s.bytes += e.size
		s.points += int64(e.points)
		if e.seq >= s.next {
			s.next = e.seq + 1
		}
	}
	sort.Slice(s.entries, func(i, j int) bool { return s.entries[i].seq < s.entries[j].seq })
	return s, nil
}

func parseName(name string) (entry, bool) {
	base, ok := strings.CutSuffix(name, suffix)
	if !ok {
		return entry{}, false
	}
	seqS, ptsS, ok := strings.Cut(base, "-")
	if !ok {
		return entry{}, false
	}
	seq, err1 := strconv.ParseUint(seqS, 10, 64)
	pts, err2 := strconv.Atoi(ptsS)
	if err1 != nil || err2 != nil || pts < 0 {
		return entry{}, false
	}
	return entry{seq: seq, points: pts}, true
}

// Append adds a batch of points at the end, durably: when it returns nil
// the batch is on disk.
func (s *Spool) Append(batch []byte, points int) error {
	return s.Put(s.Reserve(), batch, points)
}

// Reserve hands out the place in the queue of a batch that may be put
// later: a batch taken for a write before others were spooled keeps its
// place ahead of them if the write fails. An unused reservation costs
// nothing.
func (s *Spool) Reserve() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := s.next
	s.next++
	return seq
}

// Put adds a batch at the place Reserve gave it, durably: the file is
// written under a temporary name and synced, renamed, and the folder is
// synced, so the new name survives a power cut as well as the data.
func (s *Spool) Put(seq uint64, batch []byte, points int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bytes+int64(len(batch)) > s.max {
		s.full = true
		return fmt.Errorf("%w: %d bytes spooled, limit %d, batch of %d", ErrFull, s.bytes, s.max, len(batch))
	}
	e := entry{seq: seq, points: points, size: int64(len(batch))}
	path := filepath.Join(s.dir, e.name())
	if err := writeSynced(path+".tmp", batch); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		_ = os.Remove(path + ".tmp")
		return fmt.Errorf("spool: %w", err)
	}
	if err := s.syncDir(s.dir); err != nil {
		// Not known to be durable: not in the spool. A copy that made it
		// to disk all the same is only replayed twice, which InfluxDB
		// takes as one point.
		_ = os.Remove(path)
		return fmt.Errorf("spool: %w", err)
	}
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].seq > seq })
	s.entries = append(s.entries, entry{})
	copy(s.entries[i+1:], s.entries[i:])
	s.entries[i] = e
	s.bytes += e.size
	s.points += int64(points)
	s.full = false
	return nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir fsyncs a folder, so that the names created or renamed in it are
// on disk.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return f.Close()
}

// Batch is a spooled batch as Oldest returns it.
type Batch struct {
	Seq    uint64
	Points int
	Data   []byte
}

// Oldest returns the oldest batch without removing it; ok is false when the
// spool is empty.
func (s *Spool) Oldest() (b Batch, ok bool, err error) {
	s.mu.Lock()
	if len(s.entries) == 0 {
		s.mu.Unlock()
		return Batch{}, false, nil
	}
	e := s.entries[0]
	s.mu.Unlock()
	data, err := os.ReadFile(filepath.Join(s.dir, e.name()))
	if err != nil {
		return Batch{}, false, fmt.Errorf("spool: %w", err)
	}
	return Batch{Seq: e.seq, Points: e.points, Data: data}, true, nil
}

// Remove deletes the oldest batch once it is safe elsewhere; seq must be
// the one Oldest returned.
func (s *Spool) Remove(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) == 0 || s.entries[0].seq != seq {
		return fmt.Errorf("spool: batch %d is not the oldest", seq)
	}
	e := s.entries[0]
	if err := os.Remove(filepath.Join(s.dir, e.name())); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: %w", err)
	}
	s.entries = s.entries[1:]
	s.bytes -= e.size
	s.points -= int64(e.points)
	s.full = false
	return nil
}

// Full tells whether the spool refused a batch for lack of room and has
// neither taken one nor given one back since: what comes now is lost.
func (s *Spool) Full() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.full
}

// Len is the number of spooled batches.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// Bytes and Points are what the spool holds.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Points is the number of points in the spooled batches.
func (s *Spool) Points() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.points
}

package influx

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// journal makes a batch durable on local disk before InfluxDB has it, so
// that the messages it carries can be acknowledged at the speed of a disk
// sync rather than of InfluxDB's answer (which, with InfluxDB busy on the
// same machine, is several times slower): while the broker's in-flight
// window waits on acknowledgements, every reading behind it waits too,
// the alarms it would raise with it.
//
// Batches are appended to segment files (journal/<n>.wal) as records:
// length (4 bytes), points (4 bytes), CRC-32 of the data (4 bytes), data.
// Writers append concurrently and share the sync (group commit). Once
// every batch of a segment other than the one being written is settled
// (InfluxDB took it, it was put in the spool, or it was counted lost),
// the segment is deleted. On start, what a previous run left there goes
// to the spool and is replayed from there: a batch InfluxDB took before a
// crash is then written twice, which InfluxDB takes as one point.
type journal struct {
	dir     string
	segMax  int64
	syncDir func(string) error

	mu     sync.Mutex
	f      *os.File
	seg    uint64
	size   int64
	open   map[uint64]int   // segment -> batches not yet settled
	synced map[uint64]int64 // segment -> bytes known to be on disk

	syncMu sync.Mutex // held while a segment is synced or rotated

	observe func(seconds float64) // each sync's duration; may be nil
}

// journalRecord is a batch found on start.
type journalRecord struct {
	data   []byte
	points int
}

const journalSuffix = ".wal"

// openJournal opens the journal in dir and returns the batches a previous
// run left in it; the caller puts them somewhere durable and then calls
// dropLeftovers.
func openJournal(dir string, segMax int64) (*journal, []journalRecord, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	if err := syncDirectory(filepath.Dir(filepath.Clean(dir))); err != nil {
		return nil, nil, fmt.Errorf("journal: %w", err)
	}
	j := &journal{dir: dir, segMax: segMax, syncDir: syncDirectory, open: map[uint64]int{}, synced: map[uint64]int64{}}
	segs, err := j.segments()
	if err != nil {
		return nil, nil, err
	}
	var left []journalRecord
	for _, s := range segs {
		recs, err := readSegment(j.path(s))
		if err != nil {
			return nil, nil, err
		}
		left = append(left, recs...)
		if s >= j.seg {
			j.seg = s
		}
	}
	return j, left, nil
}

func (j *journal) path(seg uint64) string {
	return filepath.Join(j.dir, fmt.Sprintf("%020d%s", seg, journalSuffix))
}

// segments lists the segment numbers in the folder, oldest first.
func (j *journal) segments() ([]uint64, error) {
	des, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var out []uint64
	for _, de := range des {
		base, ok := strings.CutSuffix(de.Name(), journalSuffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(base, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out, nil
}

// readSegment reads the records of one segment up to the first torn or
// damaged one (a crash in the middle of an append that was never synced,
// so never acknowledged).
func readSegment(path string) ([]journalRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var out []journalRecord
	var hdr [12]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return out, nil
		}
		n := binary.LittleEndian.Uint32(hdr[0:4])
		pts := binary.LittleEndian.Uint32(hdr[4:8])
		sum := binary.LittleEndian.Uint32(hdr[8:12])
		if n > 1<<30 {
			return out, nil
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil || crc32.ChecksumIEEE(data) != sum {
			return out, nil
		}
		out = append(out, journalRecord{data: data, points: int(pts)})
	}
}

// dropLeftovers deletes the segments found on start, once their batches
// are safe elsewhere.
func (j *journal) dropLeftovers() error {
	segs, err := j.segments()
	if err != nil {
		return err
	}
	for _, s := range segs {
		if err := os.Remove(j.path(s)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("journal: %w", err)
		}
	}
	return j.syncDir(j.dir)
}

// append writes one batch and returns once it is on disk, with the
// segment that holds it (for settle).
func (j *journal) append(lines []string, points int) (uint64, error) {
	size := 0
	for i, l := range lines {
		if i > 0 {
			size++
		}
		size += len(l)
	}
	rec := make([]byte, 12, 12+size)
	for i, l := range lines {
		if i > 0 {
			rec = append(rec, '\n')
		}
		rec = append(rec, l...)
	}
	binary.LittleEndian.PutUint32(rec[0:4], uint32(size))
	binary.LittleEndian.PutUint32(rec[4:8], uint32(points))
	binary.LittleEndian.PutUint32(rec[8:12], crc32.ChecksumIEEE(rec[12:]))

	j.mu.Lock()
	if j.f == nil || j.size >= j.segMax {
		// No sync may be under way on the segment being closed: take
		// syncMu first (the lock order is syncMu, then mu).
		j.mu.Unlock()
		j.syncMu.Lock()
		j.mu.Lock()
		var err error
		if j.f == nil || j.size >= j.segMax {
			err = j.rotateLocked()
		}
		j.syncMu.Unlock()
		if err != nil {
			j.mu.Unlock()
			return 0, err
		}
	}
	f, seg := j.f, j.seg
	if _, err := f.Write(rec); err != nil {
		j.mu.Unlock()
		return 0, fmt.Errorf("journal: %w", err)
	}
	j.size += int64(len(rec))
	end := j.size
	j.open[seg]++
	j.mu.Unlock()
	if err := j.syncTo(f, seg, end); err != nil {
		j.settle(seg)
		return 0, err
	}
	return seg, nil
}

// syncTo returns once the segment is on disk up to end: one sync covers
// every append made before it (group commit).
func (j *journal) syncTo(f *os.File, seg uint64, end int64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	j.mu.Lock()
	if j.synced[seg] >= end {
		j.mu.Unlock()
		return nil
	}
	upto := end
	if j.seg == seg {
		upto = j.size
	}
	j.mu.Unlock()
	start := time.Now()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if j.observe != nil {
		j.observe(time.Since(start).Seconds())
	}
	j.mu.Lock()
	j.synced[seg] = max(j.synced[seg], upto)
	j.mu.Unlock()
	return nil
}

// rotateLocked starts a new segment; the old one is synced, closed, and
// deleted if nothing in it waits. j.mu and j.syncMu must be held.
func (j *journal) rotateLocked() error {
	old, oldSeg := j.f, j.seg
	if old != nil {
		if err := old.Sync(); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		j.synced[oldSeg] = j.size
	}
	f, err := os.OpenFile(j.path(j.seg+1), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := j.syncDir(j.dir); err != nil {
		f.Close()
		return fmt.Errorf("journal: %w", err)
	}
	j.seg++
	j.f, j.size = f, 0
	if old != nil {
		_ = old.Close()
		if j.open[oldSeg] == 0 {
			j.removeLocked(oldSeg)
		}
	}
	return nil
}

// settle records that a batch of segment seg is safe elsewhere (or lost,
// counted); a finished segment with none left is deleted.
func (j *journal) settle(seg uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.open[seg]--
	if j.open[seg] <= 0 && seg != j.seg {
		j.removeLocked(seg)
	}
}

func (j *journal) removeLocked(seg uint64) {
	delete(j.open, seg)
	delete(j.synced, seg)
	_ = os.Remove(j.path(seg))
}

// close closes the current segment; it stays on disk (what it holds was
// settled or is replayed on the next start).
func (j *journal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
		if j.open[j.seg] == 0 {
			j.removeLocked(j.seg)
		}
	}
}

// syncDirectory fsyncs a folder, so that the names created in it are on
// disk.
func syncDirectory(dir string) error {
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

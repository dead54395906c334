package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestSpoolFIFOAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := s.Append([]byte(fmt.Sprintf("batch %d", i)), i); err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() != 3 || s.Points() != 6 || s.Bytes() != 21 {
		t.Fatalf("len %d points %d bytes %d", s.Len(), s.Points(), s.Bytes())
	}
	b, ok, err := s.Oldest()
	if err != nil || !ok || string(b.Data) != "batch 1" || b.Points != 1 {
		t.Fatalf("Oldest = %+v %v %v", b, ok, err)
	}
	if err := s.Remove(b.Seq); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(b.Seq); err == nil {
		t.Error("removing a batch twice succeeded")
	}
	// A crash mid-write leaves a .tmp file; reopening ignores and removes it.
	if err := os.WriteFile(filepath.Join(dir, "00000000000000000009-1.batch.tmp"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}

	s2, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Len() != 2 || s2.Points() != 5 || s2.Bytes() != 14 {
		t.Fatalf("after reopen: len %d points %d bytes %d", s2.Len(), s2.Points(), s2.Bytes())
	}
	if err := s2.Append([]byte("batch 4"), 4); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		b, ok, err := s2.Oldest()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		got = append(got, string(b.Data))
		if err := s2.Remove(b.Seq); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(got) != "[batch 2 batch 3 batch 4]" {
		t.Errorf("replayed %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000009-1.batch.tmp")); !errors.Is(err, os.ErrNotExist) {
		t.Error("left-over .tmp file not removed")
	}
}

func TestSpoolFull(t *testing.T) {
	s, err := Open(t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append([]byte("123456"), 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Append([]byte("12345"), 1); !errors.Is(err, ErrFull) {
		t.Fatalf("Append past the limit = %v, want ErrFull", err)
	}
	if err := s.Append([]byte("1234"), 1); err != nil {
		t.Fatalf("Append up to the limit = %v", err)
	}
	if _, err := Open(t.TempDir(), 0); err == nil {
		t.Error("a spool of 0 bytes opened")
	}
}

// TestPutSyncsFolderAfterRename: every batch put is followed by an fsync
// of the spool's folder, after the rename (so the new name is what is
// made durable); a folder sync that fails leaves the batch out of the
// spool, on disk and in memory, and says so.
func TestPutSyncsFolderAfterRename(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var synced []string
	var fail error
	s.syncDir = func(d string) error {
		names, err := filepath.Glob(filepath.Join(d, "*"+suffix))
		if err != nil {
			t.Fatal(err)
		}
		synced = append(synced, fmt.Sprintf("%s:%d", d, len(names)))
		if fail != nil {
			return fail
		}
		return syncDir(d)
	}
	for i := 1; i <= 2; i++ {
		if err := s.Append([]byte("batch"), 1); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{dir + ":1", dir + ":2"}; fmt.Sprint(synced) != fmt.Sprint(want) {
		t.Errorf("folder syncs (folder:batches renamed in by then) %v, want %v", synced, want)
	}

	fail = errors.New("EIO")
	if err := s.Append([]byte("batch"), 1); !errors.Is(err, fail) {
		t.Fatalf("Append with a failing folder sync: %v, want the sync's error", err)
	}
	if s.Len() != 2 || s.Points() != 2 {
		t.Errorf("after the failed sync: %d batches, %d points; want 2, 2", s.Len(), s.Points())
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 2 {
		t.Errorf("files in the spool after the failed sync: %v, want the 2 good batches", names)
	}
}

// TestFullUntilRoomIsMade: Full is set by a batch refused for lack of
// room and cleared once a batch leaves (or one fits again).
func TestFullUntilRoomIsMade(t *testing.T) {
	s, err := Open(t.TempDir(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append([]byte("12345678"), 1); err != nil || s.Full() {
		t.Fatalf("first batch: %v, full %v", err, s.Full())
	}
	if err := s.Append([]byte("123"), 1); !errors.Is(err, ErrFull) || !s.Full() {
		t.Fatalf("batch past the limit: %v, full %v; want ErrFull and full", err, s.Full())
	}
	b, _, _ := s.Oldest()
	if err := s.Remove(b.Seq); err != nil || s.Full() {
		t.Fatalf("after a batch left: %v, full %v; want not full", err, s.Full())
	}
}

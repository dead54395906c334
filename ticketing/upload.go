package ticketing

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// upload is a file taken from a request body into a folder (photos,
// floor plans): written to a temporary file first, typed by its first
// bytes (never by its name or the client's word), capped in size, and
// given its final name only once whole and synced, so that a refused or
// broken upload leaves nothing behind.
type upload struct {
	tmp   *os.File
	dir   string
	ctype string // the sniffed content type
	ext   string // its file extension
	size  int64
	kept  bool
}

// takeUpload reads body into a temporary file in dir (made if missing).
// types maps the content types taken to their extensions; what names the
// file in errors; errType and errTooLarge are wrapped when the type is
// not taken or the body is longer than max. The caller discards the
// upload unless it keeps it.
func takeUpload(dir string, body io.Reader, max int64, types map[string]string, what string, errType, errTooLarge error) (*upload, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s folder: %w", what, err)
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	u := &upload{tmp: tmp, dir: dir}
	head := make([]byte, 512)
	n, err := io.ReadFull(body, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		u.discard()
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	head = head[:n]
	u.ctype = http.DetectContentType(head)
	ext, ok := types[u.ctype]
	if n == 0 || !ok {
		u.discard()
		return nil, fmt.Errorf("%s is %s: %w", what, u.ctype, errType)
	}
	u.ext = ext
	if _, err := tmp.Write(head); err != nil {
		u.discard()
		return nil, fmt.Errorf("write %s: %w", what, err)
	}
	rest, err := io.Copy(tmp, io.LimitReader(body, max-int64(n)+1))
	if err != nil {
		u.discard()
		return nil, fmt.Errorf("write %s: %w", what, err)
	}
	u.size = int64(n) + rest
	if u.size > max {
		u.discard()
		return nil, fmt.Errorf("more than %d bytes: %w", max, errTooLarge)
	}
	return u, nil
}

// keep syncs the file and gives it the name prefix + random + extension
// in its folder; it returns the name.
func (u *upload) keep(prefix, what string) (string, error) {
	if err := u.tmp.Sync(); err != nil {
		return "", fmt.Errorf("write %s: %w", what, err)
	}
	if err := u.tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", what, err)
	}
	rnd := make([]byte, 12)
	if _, err := rand.Read(rnd); err != nil {
		return "", fmt.Errorf("%s name: %w", what, err)
	}
	name := prefix + hex.EncodeToString(rnd) + u.ext
	if err := os.Rename(u.tmp.Name(), filepath.Join(u.dir, name)); err != nil {
		return "", fmt.Errorf("store %s: %w", what, err)
	}
	u.kept = true
	return name, nil
}

// discard removes the temporary file, unless it was kept.
func (u *upload) discard() {
	if u.kept {
		return
	}
	u.tmp.Close()
	os.Remove(u.tmp.Name())
}

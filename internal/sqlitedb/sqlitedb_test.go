package sqlitedb

import (
	"context"
	"testing"
)

func TestOpenRefusesQueryInPath(t *testing.T) {
	if _, err := Open(context.Background(), "x.db?_pragma=foo", 0); err == nil {
		t.Fatal("path with ? accepted")
	}
}

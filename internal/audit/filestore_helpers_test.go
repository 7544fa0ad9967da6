package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testKey is a chain key for tests.
var testKey = bytes.Repeat([]byte("K"), 32)

// openStore opens a file store at path with the clock c.
func openStore(t *testing.T, path string, key []byte, c *fakeClock) *FileStore {
	t.Helper()
	s, err := OpenFile(path, FileOptions{ChainKey: key, Now: c.Now})
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newStore opens a file store in a fresh private directory.
func newStore(t *testing.T, key []byte) (*FileStore, *fakeClock) {
	t.Helper()
	c := newClock()
	return openStore(t, filepath.Join(t.TempDir(), "state", "audit.jsonl"), key, c), c
}

func storeAppend(t *testing.T, s Store, r Record) Record {
	t.Helper()
	got, err := s.Append(context.Background(), r)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return got
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fill appends n varied records, a second apart.
func fill(t *testing.T, s Store, c *fakeClock, n int) {
	t.Helper()
	for _, r := range sampleRecords(n) {
		storeAppend(t, s, r)
		c.Advance(time.Second)
	}
}

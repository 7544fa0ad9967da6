package audit_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/audit/storetest"
)

// TestFileStoreConformance runs the Store conformance suite on the file
// store, unkeyed and keyed.
func TestFileStoreConformance(t *testing.T) {
	for _, tt := range []struct {
		name string
		key  []byte
	}{{"unkeyed", nil}, {"keyed", bytes.Repeat([]byte("k"), 32)}} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			storetest.Run(t, func(t *testing.T, name string, now func() time.Time) audit.Store {
				path := filepath.Join(base, filepath.FromSlash(t.Name()), name, "audit.jsonl")
				s, err := audit.OpenFile(path, audit.FileOptions{ChainKey: tt.key, Now: now})
				if err != nil {
					t.Fatalf("OpenFile: %v", err)
				}
				if s.Keyed() != (tt.key != nil) {
					t.Fatalf("Keyed = %v", s.Keyed())
				}
				return s
			})
		})
	}
}

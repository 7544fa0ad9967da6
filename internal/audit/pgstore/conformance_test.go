// This file runs the shared conformance suite (internal/audit/storetest)
// on PostgreSQL, as the file store's tests run it on the file.

package pgstore

import (
	"sync"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/audit/storetest"
)

// TestConformance runs storetest.Run, unkeyed and keyed: a name not seen
// before in a test gets a fresh database, the same name the same one.
func TestConformance(t *testing.T) {
	baseURL(t)
	for _, tt := range []struct {
		name string
		key  []byte
	}{{"unkeyed", nil}, {"keyed", chainKey}} {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu  sync.Mutex
				dbs = map[string]string{}
			)
			storetest.Run(t, func(t *testing.T, name string, now func() time.Time) audit.Store {
				mu.Lock()
				k := t.Name() + "\x00" + name
				u, ok := dbs[k]
				if !ok {
					u = freshDB(t)
					dbs[k] = u
				}
				mu.Unlock()
				s, err := Open(ctxT(t), u, Options{ChainKey: tt.key, Now: now})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				return s
			})
		})
	}
}

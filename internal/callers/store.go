package callers

import (
	"crypto/subtle"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// Store answers token lookups from a callers file. Each lookup checks (one
// lstat) whether the file changed since it was read, and re-reads it if so:
// `caller remove` revokes a token without a restart. A file that becomes
// unreadable or invalid fails closed: every lookup returns an error until
// it is fixed. Safe for concurrent use.
type Store struct {
	path string
	// mu serialises re-reads; lookups use snap without it.
	mu   sync.Mutex
	snap atomic.Pointer[snapshot]
}

// snapshot is one read of the file: its entries, or why it could not be used.
type snapshot struct {
	id      fileID
	entries []Entry
	err     error
}

// Open reads the callers file at path. A missing, insecure or invalid file
// is an error (a configuration error at start-up).
func Open(path string) (*Store, error) {
	entries, id, err := read(path)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path}
	s.snap.Store(&snapshot{id: id, entries: entries})
	return s, nil
}

// Lookup finds the caller whose token this is. It reports false for a token
// no entry has. The token's SHA-256 is compared with every entry's in
// constant time, so the time taken says nothing about which entry (if any)
// came close. An error means the file cannot be used now (removed, made
// insecure, invalid): no token is accepted then. Errors never contain the
// token.
func (s *Store) Lookup(token string) (keys.Caller, bool, error) {
	snap, err := s.current()
	if err != nil {
		return keys.Caller{}, false, err
	}
	if !strings.HasPrefix(token, TokenPrefix) {
		return keys.Caller{}, false, nil
	}
	h := hashToken(token)
	found := -1
	for i := range snap.entries {
		if subtle.ConstantTimeCompare(h[:], snap.entries[i].Hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return keys.Caller{}, false, nil
	}
	e := snap.entries[found]
	return keys.Caller{Kind: keys.CallerToken, TokenName: e.Name, Scopes: slices.Clone(e.Scopes)}, true, nil
}

// current returns the snapshot for the file as it is now, re-reading it
// when its identity changed.
func (s *Store) current() (*snapshot, error) {
	id, statErr := s.stat()
	snap := s.snap.Load()
	if statErr == nil && snap.id == id {
		return snap, snap.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap = s.snap.Load()
	if statErr == nil && snap.id == id {
		return snap, snap.err
	}
	entries, newID, err := read(s.path)
	if err != nil {
		// Keep the failing identity so the next lookup does not re-read a
		// file that has not changed; a missing file has a zero identity and
		// is re-checked every time.
		s.snap.Store(&snapshot{id: id, err: err})
		return nil, err
	}
	next := &snapshot{id: newID, entries: entries}
	s.snap.Store(next)
	return next, nil
}

// stat is the identity of the file now.
func (s *Store) stat() (fileID, error) {
	fi, err := os.Lstat(s.path)
	if err != nil {
		return fileID{}, fmt.Errorf("callers file: %w", err)
	}
	return idOf(fi), nil
}

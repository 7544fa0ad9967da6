package remote

import (
	"net/http"
	"sync"
	"time"
)

// sessionHeader is the Streamable HTTP session header.
const sessionHeader = "Mcp-Session-Id"

// Bounds of the session-owner table.
const (
	maxSessions = 100_000
	sessionTTL  = 24 * time.Hour
)

// sessionOwners remembers which caller each MCP session was issued to, so
// that no other caller can use it: a 2025-11-25 client answers a
// confirmation on a new request that carries only its session id and the
// request id, and mcp-go hands that answer to the call waiting in the
// session, whoever sends it. A session id this process did not issue (on
// another replica, or before a restart) is claimed by the first caller that
// uses it here.
type sessionOwners struct {
	now func() time.Time

	mu    sync.Mutex
	owner map[string]sessionOwner
}

type sessionOwner struct {
	caller string
	seen   time.Time
}

func newSessionOwners(now func() time.Time) *sessionOwners {
	return &sessionOwners{now: now, owner: make(map[string]sessionOwner)}
}

// allow reports whether caller may use session id, claiming it when it is
// unknown.
func (s *sessionOwners) allow(id, caller string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if o, ok := s.owner[id]; ok && now.Sub(o.seen) < sessionTTL {
		if o.caller != caller {
			return false
		}
	}
	s.put(id, caller, now)
	return true
}

// issued records that a session id was given to caller.
func (s *sessionOwners) issued(id, caller string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(id, caller, s.now())
}

// put records an owner; the caller holds mu. Past the bound, stale
// entries go first, then any.
func (s *sessionOwners) put(id, caller string, now time.Time) {
	if _, ok := s.owner[id]; !ok && len(s.owner) >= maxSessions {
		for k, o := range s.owner {
			if now.Sub(o.seen) >= sessionTTL {
				delete(s.owner, k)
			}
		}
		for k := range s.owner {
			if len(s.owner) < maxSessions {
				break
			}
			delete(s.owner, k)
		}
	}
	s.owner[id] = sessionOwner{caller: caller, seen: now}
}

// ownerRecorder notes the session id the MCP handler issues in its answer,
// before the client can see it.
type ownerRecorder struct {
	http.ResponseWriter
	note func(id string)
	done bool
}

func (o *ownerRecorder) record() {
	if o.done {
		return
	}
	o.done = true
	if id := o.Header().Get(sessionHeader); id != "" {
		o.note(id)
	}
}

// WriteHeader records the session id, then writes the header.
func (o *ownerRecorder) WriteHeader(code int) {
	o.record()
	o.ResponseWriter.WriteHeader(code)
}

// Write records the session id, then writes.
func (o *ownerRecorder) Write(b []byte) (int, error) {
	o.record()
	return o.ResponseWriter.Write(b)
}

// Flush records the session id, then flushes (event streams).
func (o *ownerRecorder) Flush() {
	o.record()
	if f, ok := o.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (o *ownerRecorder) Unwrap() http.ResponseWriter { return o.ResponseWriter }

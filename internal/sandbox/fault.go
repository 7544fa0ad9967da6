package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Fault is a failure injected into the sandbox's answers with
// [Sandbox.Inject]. Of the effects, the first set in this order applies:
// Drop, Status, Malformed, OversizedBytes, SlowBody; Latency comes before any
// of them and may also be used alone.
//
// The mint tweaks (IgnorePermission, OmitPermission, DropTag, ExtraTag)
// instead change what a create mints, as an API that does not honour the
// request would; answer, listing and session all show the key as minted.
// They act only on POST /v3/auth/scoped-key (give Endpoint
// [EndpointCreate]), alone or with Latency or SlowBody, or with Commit under
// the effects that replace the answer.
type Fault struct {
	// Endpoint is the endpoint the fault applies to; "" means any of the five
	// allowed endpoints (not the data endpoints).
	Endpoint Endpoint
	// Nth is the 1-based number of the call to Endpoint, counted from the
	// injection, at which the fault starts; 0 means from the first call.
	Nth int
	// Times is how many consecutive calls from Nth the fault applies to. 0
	// means one call when Nth > 0, and every call when Nth is 0.
	Times int
	// Latency delays the response. If the client gives up meanwhile, nothing
	// is performed or sent.
	Latency time.Duration
	// Status answers with this status and an error JSON body, or Body if set.
	// It must be a valid HTTP status code (100–999) when set.
	Status int
	// RetryAfter sets the Retry-After header (seconds or an HTTP date) on a
	// Status response.
	RetryAfter string
	// Body is the raw body of a Status response, e.g. `{"message":"x"}`.
	Body string
	// Malformed answers 200 with a truncated, invalid JSON body.
	Malformed bool
	// OversizedBytes answers 200 with a valid JSON body of at least this many
	// bytes, streamed, shaped like the endpoint's answer (an object, or an
	// array for the tag list) with a large padding string.
	OversizedBytes int64
	// Drop reads the request, then closes the connection without a response.
	Drop bool
	// SlowBody sends the status and headers of the real answer at once, then
	// trickles its body over this duration. The real operation is performed.
	SlowBody time.Duration
	// Commit performs the real operation (a create does mint the key) before
	// the fault's effect replaces the answer: "done upstream, answer lost".
	// Without it, Drop, Status, Malformed and OversizedBytes perform nothing.
	Commit bool

	// IgnorePermission mints a write key whatever permission was asked.
	IgnorePermission bool
	// OmitPermission leaves permission out of the create answer and of the
	// new key's entry in every later listing (the key keeps the permission
	// it was minted with, which its session shows).
	OmitPermission bool
	// DropTag mints the key without the last tag asked for. A key asked for
	// one tag is then minted with none: a Full Access key.
	DropTag bool
	// ExtraTag, if set, mints the key with this tag besides those asked for
	// (no change if it was asked for). It must be a valid container tag.
	ExtraTag string
}

// tweakMint applies the fault's mint tweaks, if any, to the tags and
// permission a create asked for, and reports whether the permission is to be
// hidden. f may be nil. The tags returned are a new slice.
func (f *Fault) tweakMint(tags []string, perm string) ([]string, string, bool) {
	tags = append([]string(nil), tags...)
	if f == nil {
		return tags, perm, false
	}
	if f.DropTag && len(tags) > 0 {
		tags = tags[:len(tags)-1]
	}
	if f.ExtraTag != "" && !slices.Contains(tags, f.ExtraTag) {
		tags = append(tags, f.ExtraTag)
	}
	if f.IgnorePermission {
		perm = permWrite
	}
	return tags, perm, f.OmitPermission
}

// faultKind is the effect of a fault.
type faultKind int

const (
	faultNone faultKind = iota // latency only
	faultDrop
	faultStatus
	faultMalformed
	faultOversized
	faultSlow
)

func (f *Fault) kind() faultKind {
	switch {
	case f.Drop:
		return faultDrop
	case f.Status != 0:
		return faultStatus
	case f.Malformed:
		return faultMalformed
	case f.OversizedBytes > 0:
		return faultOversized
	case f.SlowBody > 0:
		return faultSlow
	}
	return faultNone
}

type faultEntry struct {
	f    Fault
	base int // the count of f.Endpoint's calls at injection
}

// matches reports whether the fault applies to a call to ep that made the
// counter of the fault's endpoint reach count.
func (fe *faultEntry) matches(ep Endpoint, count int) bool {
	f := &fe.f
	if f.Endpoint == "" && !ep.allowed() || f.Endpoint != "" && f.Endpoint != ep {
		return false
	}
	n := count - fe.base
	start, times := f.Nth, f.Times
	if start <= 0 {
		start = 1
	} else if times <= 0 {
		times = 1
	}
	return n >= start && (times <= 0 || n < start+times)
}

// Inject adds a fault and returns a function that removes it (safe to call
// more than once). Faults are tried in order of injection; the first that
// matches a call applies. Inject panics if f.Status is set but is not a valid
// HTTP status code, or f.ExtraTag is set but is not a valid container tag, as
// that is a bug in the calling test.
func (s *Sandbox) Inject(f Fault) (remove func()) {
	if f.Status != 0 && (f.Status < 100 || f.Status > 999) {
		panic(fmt.Sprintf("sandbox: Inject: invalid status %d", f.Status))
	}
	if f.ExtraTag != "" {
		if err := checkTag(f.ExtraTag); err != nil {
			panic(fmt.Sprintf("sandbox: Inject: extra tag: %v", err))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fe := &faultEntry{f: f, base: s.counterLocked(f.Endpoint)}
	s.faults = append(s.faults, fe)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.faults {
			if x == fe {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
				return
			}
		}
	}
}

// counterLocked is the number of calls so far to e, or to any of the five
// allowed endpoints for "".
func (s *Sandbox) counterLocked(e Endpoint) int {
	if e == "" {
		return s.allCount
	}
	return s.counts[e]
}

// begin records a request, counts it and picks the fault that applies.
func (s *Sandbox) begin(r *http.Request, ep Endpoint) (uint64, *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	rec := recorded{seq: s.seq, req: Request{
		Method:    r.Method,
		Path:      r.URL.Path,
		Endpoint:  ep,
		Forbidden: ep == EndpointForbidden,
		Time:      s.now(),
	}}
	s.requests = appendBounded(s.requests, rec)
	if rec.req.Forbidden {
		s.forbidden = appendBounded(s.forbidden, rec)
	}
	s.counts[ep]++
	s.active++
	if ep.allowed() {
		s.allCount++
	}
	for _, fe := range s.faults {
		if fe.matches(ep, s.counterLocked(fe.f.Endpoint)) {
			f := fe.f
			return s.seq, &f
		}
	}
	return s.seq, nil
}

// appendBounded appends, keeping at least the last maxRecorded entries.
func appendBounded(list []recorded, r recorded) []recorded {
	if len(list) >= 2*maxRecorded {
		list = append([]recorded(nil), list[len(list)-maxRecorded:]...)
	}
	return append(list, r)
}

// finish sets the status of a recorded request.
func (s *Sandbox) finish(seq uint64, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active--
	setStatus(s.requests, seq, status)
	setStatus(s.forbidden, seq, status)
}

func setStatus(list []recorded, seq uint64, status int) {
	for i := len(list) - 1; i >= 0 && list[i].seq >= seq; i-- {
		if list[i].seq == seq {
			list[i].req.Status = status
			return
		}
	}
}

// inFlight returns how many requests are being answered.
func (s *Sandbox) inFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// Requests returns the requests seen, in order of arrival (at least the last
// 10000). A request still being answered has Status 0.
func (s *Sandbox) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return plain(s.requests)
}

// ForbiddenRequests returns the requests to endpoints that mcp-keys must
// never call, in order of arrival.
func (s *Sandbox) ForbiddenRequests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return plain(s.forbidden)
}

func plain(list []recorded) []Request {
	out := make([]Request, len(list))
	for i, r := range list {
		out[i] = r.req
	}
	return out
}

// Count returns how many requests reached endpoint e.
func (s *Sandbox) Count(e Endpoint) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[e]
}

// serveWithFault answers a request, applying f if it is not nil, and returns
// the status sent (0 if none).
func (s *Sandbox) serveWithFault(w http.ResponseWriter, r *http.Request, ep Endpoint, f *Fault) int {
	if f == nil {
		return s.handle(r, ep, nil).write(w)
	}
	// Read the request body first: the request is then fully read, as Drop
	// promises, and the server notices a client that hangs up (it watches
	// the connection only once the body is consumed).
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		data = nil
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	ctx := r.Context()
	if f.Latency > 0 && !sleep(ctx, f.Latency) {
		return 0
	}
	kind := f.kind()
	if kind == faultNone {
		return s.handle(r, ep, f).write(w)
	}
	var real response
	if f.Commit || kind == faultSlow {
		real = s.handle(r, ep, f)
	}
	switch kind {
	case faultDrop:
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			// Not hijackable (HTTP/2, a recorder): abort the stream instead.
			panic(http.ErrAbortHandler)
		}
		_ = conn.Close()
		return 0
	case faultStatus:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		body := []byte(f.Body)
		if f.Body == "" {
			body = errorResponse(f.Status, http.StatusText(f.Status), "injected by the sandbox").body
		}
		return response{f.Status, body}.write(w)
	case faultMalformed:
		return response{http.StatusOK, []byte(malformedBody)}.write(w)
	case faultOversized:
		writeOversized(ctx, w, ep, f.OversizedBytes)
		return http.StatusOK
	default: // faultSlow
		writeSlowly(ctx, w, real, f.SlowBody)
		return real.status
	}
}

// malformedBody is a truncated JSON text that no decoder accepts.
const malformedBody = `{"keys":[{"id":"key_`

// writeOversized streams a valid JSON body of at least size bytes without
// holding it in memory.
func writeOversized(ctx context.Context, w http.ResponseWriter, ep Endpoint, size int64) {
	open, end := `{"padding":"`, `"}`
	if ep == EndpointListTags {
		open, end = `[{"padding":"`, `"}]`
	}
	pad := max(size-int64(len(open)+len(end)), 0)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.FormatInt(pad+int64(len(open)+len(end)), 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, open); err != nil {
		return
	}
	chunk := make([]byte, 32<<10)
	for i := range chunk {
		chunk[i] = 'x'
	}
	for pad > 0 {
		if ctx.Err() != nil {
			return
		}
		n := min(pad, int64(len(chunk)))
		if _, err := w.Write(chunk[:n]); err != nil {
			return
		}
		pad -= n
	}
	_, _ = io.WriteString(w, end)
}

// slowChunks is how many pieces a slow body is cut into.
const slowChunks = 8

// writeSlowly sends resp's status at once, then its body in pieces spread
// over d (the first piece at once unless the body is a single byte), stopping
// if the client goes away.
func writeSlowly(ctx context.Context, w http.ResponseWriter, resp response, d time.Duration) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	_ = rc.Flush()
	n := min(len(resp.body), slowChunks)
	if n <= 1 {
		if sleep(ctx, d) {
			_, _ = w.Write(resp.body)
		}
		return
	}
	for i := range n {
		if i > 0 && !sleep(ctx, d/time.Duration(n-1)) {
			return
		}
		if _, err := w.Write(resp.body[i*len(resp.body)/n : (i+1)*len(resp.body)/n]); err != nil {
			return
		}
		_ = rc.Flush()
	}
}

// sleep waits for d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

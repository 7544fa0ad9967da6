package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testKey is the operator key used by every test. No test output may hold it.
const testKey = "sm_testorg_SUPERSECRET0123456789abcdefXYZ"

// seen is one request as the test server saw it.
type seen struct {
	Method      string
	URI         string // exactly as on the wire
	Auth        string
	UserAgent   string
	Accept      string
	ContentType string
	Body        string
}

// recorder records every request a test server sees.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) add(s seen) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, s)
}

func (r *recorder) all() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// countMethod counts requests with this method.
func (r *recorder) countMethod(m string) int {
	n := 0
	for _, s := range r.all() {
		if s.Method == m {
			n++
		}
	}
	return n
}

// newServer starts a loopback server that records every request (method,
// raw URI, headers, body) and then passes it to h (nil: 200 with no body).
func newServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.add(seen{
			Method: r.Method, URI: r.RequestURI,
			Auth: r.Header.Get("Authorization"), UserAgent: r.Header.Get("User-Agent"),
			Accept: r.Header.Get("Accept"), ContentType: r.Header.Get("Content-Type"),
			Body: string(body),
		})
		r.Body = io.NopCloser(bytes.NewReader(body))
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, rec
}

// sleeps records the pauses a client asked for.
type sleeps struct {
	mu sync.Mutex
	ds []time.Duration
}

func (s *sleeps) add(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ds = append(s.ds, d)
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.ds...)
}

// newClient returns a client for baseURL with small backoffs and a fake
// sleep that records each pause and returns at once.
func newClient(t *testing.T, baseURL string, opts ...func(*Config)) (*Client, *sleeps) {
	t.Helper()
	cfg := Config{
		BaseURL:    baseURL,
		APIKey:     testKey,
		Timeout:    5 * time.Second,
		MinBackoff: time.Millisecond,
		MaxBackoff: 4 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	sl := &sleeps{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		sl.add(d)
		return ctx.Err()
	}
	t.Cleanup(c.CloseIdleConnections)
	return c, sl
}

// reply writes a status and a body.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// sequence answers the n-th request with hs[n], repeating the last.
func sequence(hs ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := hs[min(n, len(hs)-1)]
		n++
		mu.Unlock()
		h(w, r)
	}
}

// drop reads the request and closes the connection without an answer.
func drop(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	_ = conn.Close()
}

// hang waits until the client goes away.
func hang(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// asError returns err as *Error or fails the test.
func asError(t *testing.T, err error) *Error {
	t.Helper()
	if err == nil {
		t.Fatal("got nil error, want *Error")
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error: %v", err, err)
	}
	return e
}

// noSecret fails the test if any rendering of err holds one of the secrets.
// It reports lengths and positions, never the secret itself.
func noSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	var e *Error
	renders := []string{
		err.Error(),
		fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err),
		fmt.Sprintf("%s", err), fmt.Sprintf("%q", err),
	}
	if errors.As(err, &e) {
		renders = append(renders, e.Message, fmt.Sprintf("%#v", *e), fmt.Sprintf("%+v", *e))
		if e.Err != nil {
			renders = append(renders, e.Err.Error())
		}
	}
	for i, s := range renders {
		for _, sec := range append(secrets, testKey) {
			if j := strings.Index(s, sec); j >= 0 {
				t.Errorf("rendering %d of the error (len %d) holds a secret of len %d at %d", i, len(s), len(sec), j)
			}
		}
		if tr := keyTraces(s, testKey); len(tr) > 0 {
			t.Errorf("rendering %d of the error (len %d) holds traces of the key: %v", i, len(s), tr)
		}
	}
}

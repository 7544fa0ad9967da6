package sandbox

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testEpoch is the fixed start of test clocks.
var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// NewClock returns a stopped clock that reads start until it is advanced.
func NewClock(start time.Time) *Clock {
	return &Clock{stopped: true, start: start}
}

// env is a sandbox served over real HTTP for one test.
type env struct {
	t      *testing.T
	sb     *Sandbox
	clock  *Clock
	url    string
	client *http.Client
}

// newEnv serves a new sandbox with opts (its clock is set unless opts.Now is).
func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	c := NewClock(testEpoch)
	if opts.Now == nil {
		opts.Now = c.Now
	}
	sb, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(sb)
	// Keep-alives off: a dropped connection must not be retried by the
	// transport on a fresh one, which would hide the fault.
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return &env{t: t, sb: sb, clock: c, url: srv.URL, client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// result is an HTTP answer.
type result struct {
	status int
	header http.Header
	body   []byte
	err    error // transport error; status is 0 then
}

// call sends a request with key as bearer token ("" for none) and a raw body.
func (e *env) call(ctx context.Context, method, path, key, body string) result {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.url+path, rd)
	if err != nil {
		e.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: data, err: err}
}

// send sends a request with exactly the given headers and a raw body,
// failing the test on a transport error.
func (e *env) send(method, path string, h http.Header, body string) result {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatalf("new request %s %s: %v", method, path, err)
	}
	for name, values := range h {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: data}
}

// do is call with a background context that fails the test on a transport
// error.
func (e *env) do(method, path, key, body string) result {
	e.t.Helper()
	r := e.call(context.Background(), method, path, key, body)
	if r.err != nil {
		e.t.Fatalf("%s %s: %v", method, path, r.err)
	}
	return r
}

// decode decodes a JSON body into out, failing the test if it is not JSON.
func decode(t *testing.T, body []byte, out any) {
	t.Helper()
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("body is not the JSON expected (%v): %.200s", err, body)
	}
}

// errorBody is the sandbox's error shape.
type errorBody struct {
	Error   string `json:"error"`
	Details string `json:"details"`
}

// createResp is the answer of a create.
type createResp struct {
	Key              string   `json:"key"`
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	ContainerTag     string   `json:"containerTag"`
	ContainerTags    []string `json:"containerTags"`
	Permission       string   `json:"permission"`
	ExpiresAt        *string  `json:"expiresAt"`
	AllowedEndpoints []string `json:"allowedEndpoints"`
}

// mint creates a key through the API with the operator key.
func (e *env) mint(body string) createResp {
	e.t.Helper()
	r := e.do("POST", "/v3/auth/scoped-key", e.sb.OperatorKey(), body)
	if r.status != http.StatusOK {
		e.t.Fatalf("create %s: status %d: %.200s", body, r.status, r.body)
	}
	var c createResp
	decode(e.t, r.body, &c)
	return c
}

// keyItem is one item of GET /v3/auth/keys, with raw fields kept to tell
// absent from null.
type keyItem map[string]json.RawMessage

func (k keyItem) str(field string) string {
	var s string
	_ = json.Unmarshal(k[field], &s)
	return s
}

func (k keyItem) boolean(field string) bool {
	var b bool
	_ = json.Unmarshal(k[field], &b)
	return b
}

// listKeys lists the keys with the operator key.
func (e *env) listKeys() []keyItem {
	e.t.Helper()
	r := e.do("GET", "/v3/auth/keys", e.sb.OperatorKey(), "")
	if r.status != http.StatusOK {
		e.t.Fatalf("list keys: status %d: %.200s", r.status, r.body)
	}
	var out struct {
		Keys []keyItem `json:"keys"`
	}
	decode(e.t, r.body, &out)
	return out.Keys
}

func findKey(keys []keyItem, field, value string) keyItem {
	for _, k := range keys {
		if k.str(field) == value {
			return k
		}
	}
	return nil
}

// tagItem is one item of GET /v3/container-tags/list.
type tagItem map[string]json.RawMessage

// listTags lists the tags with the operator key.
func (e *env) listTags() []tagItem {
	e.t.Helper()
	r := e.do("GET", "/v3/container-tags/list", e.sb.OperatorKey(), "")
	if r.status != http.StatusOK {
		e.t.Fatalf("list tags: status %d: %.200s", r.status, r.body)
	}
	var out []tagItem
	decode(e.t, r.body, &out)
	return out
}

func tagNames(tags []tagItem) []string {
	var names []string
	for _, t := range tags {
		var s string
		_ = json.Unmarshal(t["containerTag"], &s)
		names = append(names, s)
	}
	return names
}

// waitIdle waits until the sandbox answers no request, failing after a
// deadline far longer than any test needs (but far shorter than the
// injected delays it is used to cut short).
func waitIdle(t *testing.T, sb *Sandbox) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for sb.inFlight() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("sandbox still answering %d request(s)", sb.inFlight())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCount waits until endpoint e has been hit n times.
func waitCount(t *testing.T, sb *Sandbox, e Endpoint, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for sb.Count(e) < n {
		if time.Now().After(deadline) {
			t.Fatalf("endpoint %s hit %d times, want %d", e, sb.Count(e), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

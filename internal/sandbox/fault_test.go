package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFaultStatus(t *testing.T) {
	tests := []struct {
		name       string
		fault      Fault
		wantStatus int
		wantRetry  string
		wantBody   string // exact body, or "" to expect the default error JSON
		wantMinted bool
	}{
		{"429 with Retry-After seconds", Fault{Status: 429, RetryAfter: "2"}, 429, "2", "", false},
		{"429 with Retry-After date", Fault{Status: 429, RetryAfter: "Wed, 21 Oct 2026 07:28:00 GMT"}, 429, "Wed, 21 Oct 2026 07:28:00 GMT", "", false},
		{"429 without Retry-After", Fault{Status: 429}, 429, "", "", false},
		{"500", Fault{Status: 500}, 500, "", "", false},
		{"502", Fault{Status: 502}, 502, "", "", false},
		{"503", Fault{Status: 503}, 503, "", "", false},
		{"message body", Fault{Status: 500, Body: `{"message":"x"}`}, 500, "", `{"message":"x"}`, false},
		{"non-string error", Fault{Status: 400, Body: `{"error":{"code":1}}`}, 400, "", `{"error":{"code":1}}`, false},
		{"503 after commit", Fault{Status: 503, Commit: true}, 503, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			tt.fault.Endpoint = EndpointCreate
			e.sb.Inject(tt.fault)
			before := e.sb.KeyCount()
			r := e.do("POST", "/v3/auth/scoped-key", e.sb.OperatorKey(), `{"containerTag":"demo-project"}`)
			if r.status != tt.wantStatus || r.header.Get("Retry-After") != tt.wantRetry {
				t.Errorf("status %d Retry-After %q, want %d %q", r.status, r.header.Get("Retry-After"), tt.wantStatus, tt.wantRetry)
			}
			if tt.wantBody != "" {
				if string(r.body) != tt.wantBody {
					t.Errorf("body %s, want %s", r.body, tt.wantBody)
				}
			} else {
				var body errorBody
				decode(t, r.body, &body)
				if body.Error != http.StatusText(tt.wantStatus) {
					t.Errorf("error %q, want %q", body.Error, http.StatusText(tt.wantStatus))
				}
			}
			if minted := e.sb.KeyCount() == before+1; minted != tt.wantMinted {
				t.Errorf("key minted = %v, want %v", minted, tt.wantMinted)
			}
			if got := e.sb.Requests()[0].Status; got != tt.wantStatus {
				t.Errorf("recorded status %d", got)
			}
		})
	}
}

func TestFaultNthAndTimes(t *testing.T) {
	const calls = 6
	tests := []struct {
		name    string
		faults  []Fault
		faulted []int // 1-based calls to list keys that get the fault
	}{
		{"every call", []Fault{{Endpoint: EndpointListKeys, Status: 503}}, []int{1, 2, 3, 4, 5, 6}},
		{"second call only", []Fault{{Endpoint: EndpointListKeys, Nth: 2, Status: 503}}, []int{2}},
		{"second and third", []Fault{{Endpoint: EndpointListKeys, Nth: 2, Times: 2, Status: 503}}, []int{2, 3}},
		{"first two", []Fault{{Endpoint: EndpointListKeys, Times: 2, Status: 503}}, []int{1, 2}},
		{"any endpoint", []Fault{{Nth: 3, Times: 2, Status: 503}}, []int{3, 4}},
		{"other endpoint", []Fault{{Endpoint: EndpointCreate, Status: 503}}, nil},
		{"first matching wins", []Fault{{Endpoint: EndpointListKeys, Nth: 2, Status: 502}, {Endpoint: EndpointListKeys, Status: 503}}, []int{1, 2, 3, 4, 5, 6}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			op := e.sb.OperatorKey()
			// Calls before the injection do not count.
			for range 3 {
				e.do("GET", "/v3/auth/keys", op, "")
			}
			for _, f := range tt.faults {
				e.sb.Inject(f)
			}
			// Calls to forbidden and unknown endpoints never count nor fault.
			e.do("GET", "/v3/auth/key", op, "")
			e.do("GET", "/nope", op, "")
			var got []int
			for i := 1; i <= calls; i++ {
				r := e.do("GET", "/v3/auth/keys", op, "")
				switch r.status {
				case http.StatusOK:
				case 502:
					if i != 2 {
						t.Errorf("call %d got the second fault", i)
					}
					got = append(got, i)
				case 503:
					got = append(got, i)
				default:
					t.Fatalf("call %d: status %d", i, r.status)
				}
			}
			if !equalJSON(got, tt.faulted) {
				t.Errorf("faulted calls %v, want %v", got, tt.faulted)
			}
		})
	}
}

func TestFaultRemove(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()
	remove := e.sb.Inject(Fault{Endpoint: EndpointSession, Status: 500})
	keep := e.sb.Inject(Fault{Endpoint: EndpointListTags, Status: 502})
	defer keep()
	if r := e.do("GET", "/v3/session", op, ""); r.status != 500 {
		t.Fatalf("status %d before remove", r.status)
	}
	remove()
	remove() // idempotent
	if r := e.do("GET", "/v3/session", op, ""); r.status != 200 {
		t.Errorf("status %d after remove", r.status)
	}
	if r := e.do("GET", "/v3/container-tags/list", op, ""); r.status != 502 {
		t.Errorf("other fault removed too: status %d", r.status)
	}
}

func TestInjectPanicsOnInvalidStatus(t *testing.T) {
	sb, err := New(Options{Unseeded: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range []int{-1, 42, 1000} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Inject(Status: %d) did not panic", status)
				}
			}()
			sb.Inject(Fault{Status: status})
		}()
	}
}

func TestFaultMalformed(t *testing.T) {
	for _, ep := range []Endpoint{EndpointSession, EndpointListKeys, EndpointListTags, EndpointCreate, EndpointRevoke} {
		t.Run(string(ep), func(t *testing.T) {
			e := newEnv(t, Options{})
			e.sb.Inject(Fault{Endpoint: ep, Malformed: true})
			method, path, _ := strings.Cut(string(ep), " ")
			path = strings.Replace(path, "{id}", "key_x", 1)
			before := e.sb.KeyCount()
			r := e.do(method, path, e.sb.OperatorKey(), `{"containerTag":"demo-project"}`)
			var v any
			if r.status != 200 || json.Unmarshal(r.body, &v) == nil || len(r.body) == 0 {
				t.Errorf("status %d body %q, want 200 with invalid JSON", r.status, r.body)
			}
			if e.sb.KeyCount() != before {
				t.Error("malformed answer without Commit performed the create")
			}
		})
	}
}

func TestFaultCommitRevokeMalformed(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.mint(`{"containerTag":"demo-project"}`)
	e.sb.Inject(Fault{Endpoint: EndpointRevoke, Malformed: true, Commit: true})
	r := e.do("DELETE", "/v3/auth/scoped-key/"+c.ID, e.sb.OperatorKey(), "")
	if json.Valid(r.body) {
		t.Errorf("body is valid JSON: %s", r.body)
	}
	if r := e.do("GET", "/v3/session", c.Key, ""); r.status != http.StatusUnauthorized {
		t.Errorf("key still works after a committed revoke: status %d", r.status)
	}
}

func TestFaultOversized(t *testing.T) {
	tests := []struct {
		ep    Endpoint
		path  string
		size  int64
		array bool
	}{
		{EndpointListKeys, "/v3/auth/keys", 5 << 20, false},
		{EndpointListTags, "/v3/container-tags/list", 3<<20 + 7, true},
		{EndpointSession, "/v3/session", 1, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.ep), func(t *testing.T) {
			e := newEnv(t, Options{})
			e.sb.Inject(Fault{Endpoint: tt.ep, OversizedBytes: tt.size})
			r := e.do("GET", tt.path, e.sb.OperatorKey(), "")
			if r.status != 200 || int64(len(r.body)) < tt.size {
				t.Fatalf("status %d, %d bytes, want 200 and at least %d", r.status, len(r.body), tt.size)
			}
			if cl := r.header.Get("Content-Length"); cl != strconv.Itoa(len(r.body)) {
				t.Errorf("Content-Length %s for %d bytes", cl, len(r.body))
			}
			if !json.Valid(r.body) {
				t.Fatal("oversized body is not valid JSON")
			}
			if isArray := r.body[0] == '['; isArray != tt.array {
				t.Errorf("body starts with %q", r.body[0])
			}
		})
	}
}

func TestFaultOversizedClientGivesUp(t *testing.T) {
	e := newEnv(t, Options{})
	e.sb.Inject(Fault{Endpoint: EndpointListKeys, OversizedBytes: 1 << 40})
	req, _ := http.NewRequest("GET", e.url+"/v3/auth/keys", nil)
	req.Header.Set("Authorization", "Bearer "+e.sb.OperatorKey())
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// Read a little as a size-capped client would, then hang up: the
	// sandbox must stop streaming (a terabyte would never finish).
	n, _ := io.CopyN(io.Discard, resp.Body, 1<<20)
	resp.Body.Close()
	if n != 1<<20 {
		t.Errorf("read %d bytes", n)
	}
	waitIdle(t, e.sb)
}

func TestFaultDrop(t *testing.T) {
	tests := []struct {
		name       string
		commit     bool
		wantMinted bool
	}{
		{"drop", false, false},
		{"commit then drop: created upstream, answer lost", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.sb.Inject(Fault{Endpoint: EndpointCreate, Drop: true, Commit: tt.commit})
			before := e.sb.KeyCount()
			r := e.call(context.Background(), "POST", "/v3/auth/scoped-key", e.sb.OperatorKey(), `{"containerTag":"lost-tag","name":"agent-lost"}`)
			if r.err == nil {
				t.Fatalf("client got status %d, want a transport error", r.status)
			}
			if minted := e.sb.KeyCount() == before+1; minted != tt.wantMinted {
				t.Errorf("minted = %v, want %v", minted, tt.wantMinted)
			}
			listed := findKey(e.listKeys(), "name", "agent-lost") != nil
			if listed != tt.wantMinted {
				t.Errorf("listed = %v, want %v", listed, tt.wantMinted)
			}
			if got := e.sb.Requests()[0]; got.Endpoint != EndpointCreate || got.Status != 0 {
				t.Errorf("recorded %+v, want status 0", got)
			}
		})
	}
}

func TestFaultDropWithoutHijacker(t *testing.T) {
	// A ResponseWriter that cannot hijack (an HTTP/2 stream, a recorder):
	// the handler aborts with http.ErrAbortHandler, which servers treat as a
	// dropped response.
	sb, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	sb.Inject(Fault{Drop: true})
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", v)
		}
		if got := sb.Requests(); len(got) != 1 || got[0].Status != 0 {
			t.Errorf("recorded %+v", got)
		}
	}()
	sb.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v3/session", nil))
}

func TestFaultLatency(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()

	// Latency alone: the normal answer, later.
	e.sb.Inject(Fault{Endpoint: EndpointSession, Latency: 20 * time.Millisecond, Times: 1, Nth: 1})
	if r := e.do("GET", "/v3/session", op, ""); r.status != http.StatusOK {
		t.Errorf("status %d after latency", r.status)
	}

	// A client that gives up: the sandbox stops waiting and performs nothing.
	e.sb.Inject(Fault{Endpoint: EndpointCreate, Latency: time.Minute, Commit: true, Status: 500})
	before := e.sb.KeyCount()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() { done <- e.call(ctx, "POST", "/v3/auth/scoped-key", op, `{"containerTag":"demo-project"}`) }()
	waitCount(t, e.sb, EndpointCreate, 1)
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Errorf("client error %v, want context.Canceled", r.err)
	}
	waitIdle(t, e.sb) // fails if the sandbox sat out the minute
	if e.sb.KeyCount() != before {
		t.Error("a create whose client gave up during latency was performed")
	}
	if got := e.sb.Requests(); got[len(got)-1].Status != 0 {
		t.Errorf("recorded status %d, want 0", got[len(got)-1].Status)
	}
}

func TestFaultSlowBody(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()
	want := e.do("GET", "/v3/container-tags/list", op, "").body

	// A short slow body arrives whole and equals the real answer.
	e.sb.Inject(Fault{Endpoint: EndpointListTags, SlowBody: 40 * time.Millisecond, Nth: 1})
	if r := e.do("GET", "/v3/container-tags/list", op, ""); r.status != 200 || string(r.body) != string(want) {
		t.Errorf("slow body: status %d, %d bytes, want the %d of the real answer", r.status, len(r.body), len(want))
	}

	// A slow create is performed; its key arrives whole.
	e.sb.Inject(Fault{Endpoint: EndpointCreate, SlowBody: 20 * time.Millisecond, Nth: 1})
	var c createResp
	decode(t, e.do("POST", "/v3/auth/scoped-key", op, `{"containerTag":"demo-project"}`).body, &c)
	if r := e.do("GET", "/v3/session", c.Key, ""); r.status != 200 {
		t.Errorf("key from a slow body: status %d", r.status)
	}

	// Headers come at once, the body trickles, and a client that gives up
	// stops the trickle.
	e.sb.Inject(Fault{Endpoint: EndpointListKeys, SlowBody: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/v3/auth/keys", nil)
	req.Header.Set("Authorization", "Bearer "+op)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 1<<16)
	n, err := resp.Body.Read(buf)
	if resp.StatusCode != 200 || n == 0 || err != nil {
		t.Fatalf("status %d, first read %d bytes, %v", resp.StatusCode, n, err)
	}
	if json.Valid(buf[:n]) {
		t.Error("first piece of a slow body is already the whole answer")
	}
	cancel()
	waitIdle(t, e.sb)
}

func TestFaultSlowBodyTiny(t *testing.T) {
	// A one-byte body is sent after the whole delay.
	rec := httptest.NewRecorder()
	writeSlowly(context.Background(), rec, response{200, []byte("1")}, time.Millisecond)
	if rec.Body.String() != "1" || rec.Code != 200 {
		t.Errorf("got %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	writeSlowly(ctx, rec, response{200, []byte("1")}, time.Minute)
	if rec.Body.Len() != 0 {
		t.Errorf("cancelled slow body sent %q", rec.Body.String())
	}
}

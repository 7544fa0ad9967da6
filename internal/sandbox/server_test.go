package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStartAddresses(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr error // nil: starts
		anyErr  bool
	}{
		{addr: ""},
		{addr: "127.0.0.1:0"},
		{addr: "localhost:0"},
		{addr: "0.0.0.0:0", wantErr: ErrNotLoopback},
		{addr: ":0", wantErr: ErrNotLoopback},
		{addr: "[::]:0", wantErr: ErrNotLoopback},
		{addr: "192.0.2.1:8787", wantErr: ErrNotLoopback},
		{addr: "example.invalid:8787", wantErr: ErrNotLoopback},
		{addr: "127.0.0.1", anyErr: true},
		{addr: "127.0.0.1:notaport", anyErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			srv, err := Start(Options{}, tt.addr)
			if tt.wantErr != nil || tt.anyErr {
				if err == nil {
					srv.Close()
					t.Fatal("Start succeeded")
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") && !strings.HasPrefix(srv.URL, "http://[::1]:") {
				t.Errorf("URL %s", srv.URL)
			}
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("GET", srv.URL+"/v3/auth/keys", nil)
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("keys without a key: status %d", resp.StatusCode)
			}
		})
	}
	if _, err := Start(Options{OrgID: "bad org"}, ""); err == nil {
		t.Error("Start with invalid options succeeded")
	}
}

func TestStartListenError(t *testing.T) {
	srv, err := Start(Options{}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	if other, err := Start(Options{}, addr); err == nil {
		other.Close()
		t.Fatal("second Start on the same port succeeded")
	}
}

// TestServerCloseCutsDelays checks that Close returns although requests are
// held by injected faults, and leaves no goroutine behind (TestMain checks).
func TestServerCloseCutsDelays(t *testing.T) {
	srv, err := Start(Options{}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Sandbox.Inject(Fault{Endpoint: EndpointSession, Latency: time.Hour})
	srv.Sandbox.Inject(Fault{Endpoint: EndpointListKeys, SlowBody: time.Hour})
	tr := &http.Transport{}
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for _, path := range []string{"/v3/session", "/v3/auth/keys"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+srv.Sandbox.OperatorKey())
			resp, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	waitCount(t, srv.Sandbox, EndpointSession, 1)
	waitCount(t, srv.Sandbox, EndpointListKeys, 1)
	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(4 * time.Second): // far less than the hour of the faults
		t.Fatal("Close waited for injected delays")
	}
	wg.Wait()
	tr.CloseIdleConnections()
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if srv.Sandbox.inFlight() != 0 {
		t.Errorf("%d requests still in flight after Close", srv.Sandbox.inFlight())
	}
}

// TestNewUserWalkthrough follows what a new user tries against
// `mcp-keys sandbox`.
func TestNewUserWalkthrough(t *testing.T) {
	srv, err := Start(Options{}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	e := &env{t: t, sb: srv.Sandbox, url: srv.URL, client: &http.Client{Transport: tr}}
	op := srv.Sandbox.OperatorKey()

	if r := e.do("GET", "/v3/auth/keys", op, ""); r.status != 200 || !strings.HasPrefix(string(r.body), `{"keys":[`) {
		t.Errorf("list keys: %d %.40s", r.status, r.body)
	}
	if r := e.do("GET", "/v3/auth/keys", "", ""); r.status != 401 {
		t.Errorf("list keys without a key: %d", r.status)
	}
	var bad errorBody
	r := e.do("POST", "/v3/auth/scoped-key", op, `{"containerTag":"bad tag!"}`)
	decode(t, r.body, &bad)
	if r.status != 400 || bad.Error == "" {
		t.Errorf("bad tag: %d %+v", r.status, bad)
	}
	var c createResp
	r = e.do("POST", "/v3/auth/scoped-key", op, `{"containerTag":"demo-project","expiresInDays":30}`)
	decode(t, r.body, &c)
	if r.status != 200 || !strings.HasPrefix(c.Key, "sm_") {
		t.Errorf("create: %d, key of %d chars", r.status, len(c.Key))
	}
	var tags []map[string]any
	r = e.do("GET", "/v3/container-tags/list", op, "")
	decode(t, r.body, &tags)
	if r.status != 200 || len(tags) == 0 {
		t.Errorf("tags: %d, %d tags", r.status, len(tags))
	}
	if r := e.do("POST", "/v3/auth/agent-key", op, `{}`); r.status != 403 {
		t.Errorf("agent-key: %d", r.status)
	}
	if got := srv.Sandbox.ForbiddenRequests(); len(got) != 1 || got[0].Path != "/v3/auth/agent-key" {
		t.Errorf("forbidden requests %+v", got)
	}
}

func TestConcurrentCreates(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()
	before := e.sb.KeyCount()
	const n = 50
	results := make([]createResp, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			r := e.call(context.Background(), "POST", "/v3/auth/scoped-key", op, `{"containerTag":"demo-project","expiresInDays":7}`)
			statuses[i] = r.status
			_ = json.Unmarshal(r.body, &results[i])
		}()
		go func() { // readers alongside the writers
			defer wg.Done()
			e.call(context.Background(), "GET", "/v3/auth/keys", op, "")
			_ = e.sb.Requests()
			_ = e.sb.KeyCount()
		}()
	}
	wg.Wait()
	ids := map[string]bool{}
	keys := map[string]bool{}
	for i, c := range results {
		if statuses[i] != 200 {
			t.Fatalf("create %d: status %d", i, statuses[i])
		}
		ids[c.ID], keys[c.Key] = true, true
	}
	if len(ids) != n || len(keys) != n {
		t.Errorf("%d distinct ids and %d distinct keys, want %d", len(ids), len(keys), n)
	}
	if e.sb.KeyCount() != before+n {
		t.Errorf("KeyCount %d, want %d", e.sb.KeyCount(), before+n)
	}
	if e.sb.Count(EndpointCreate) != n || e.sb.Count(EndpointListKeys) != n {
		t.Errorf("counts: %d creates, %d lists", e.sb.Count(EndpointCreate), e.sb.Count(EndpointListKeys))
	}
}

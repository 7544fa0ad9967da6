package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEndpointsSuccess(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		status     int
		body       string
		call       func(context.Context, *Client) (any, error)
		wantMethod string
		wantURI    string
		want       any
	}{
		{
			name:   "session",
			status: 200,
			body: `{"user":{"id":"u1","email":"a@b.c","name":"Ada"},"org":{"id":"org1","name":"Acme","slug":"acme"},
				"plan":"pro","role":"owner","accessType":"full","scope":{"type":"full","permission":"write"}}`,
			call:       func(ctx context.Context, c *Client) (any, error) { return c.Session(ctx) },
			wantMethod: "GET", wantURI: "/v3/session",
			want: &Session{UserID: "u1", UserEmail: "a@b.c", UserName: "Ada", OrgID: "org1", OrgName: "Acme", OrgSlug: "acme",
				Plan: "pro", Role: "owner", AccessType: "full", ScopeType: "full", ScopePermission: "write"},
		},
		{
			name:   "list keys",
			status: 200,
			body:   `{"keys":[{"id":"k1","name":"agent-a","start":"sm_org1_ab","isScoped":true,"containerTag":"proj-a","enabled":true}]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListKeys(ctx)
			},
			wantMethod: "GET", wantURI: "/v3/auth/keys",
			want: []Key{{ID: "k1", Name: "agent-a", Kind: KindScoped, Tags: []string{"proj-a"}, Prefix: "sm_org1_ab", Enabled: true}},
		},
		{
			name:       "list tags",
			status:     200,
			body:       `[{"id":"t1","name":"Proj A","containerTag":"proj-a","description":null,"documentCount":3,"memoryCount":7}]`,
			call:       func(ctx context.Context, c *Client) (any, error) { return c.ListTags(ctx) },
			wantMethod: "GET", wantURI: "/v3/container-tags/list",
			want: []Tag{{Tag: "proj-a", Name: "Proj A", DocumentCount: 3, MemoryCount: 7}},
		},
		{
			name:   "create 200",
			status: 200,
			body: `{"key":"sm_org1_MINTEDSECRET","id":"key_123","name":"agent-x","containerTag":"proj-a",
				"expiresAt":"2026-03-08T00:00:00.000Z","allowedEndpoints":["/v3/search","/v4/search"]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateScopedKey(ctx, CreateScopedKeyRequest{Tags: []string{"proj-a"}, Permission: "write", Name: "agent-x", ExpiresInDays: 30})
			},
			wantMethod: "POST", wantURI: "/v3/auth/scoped-key",
			want: &CreatedKey{Key: "sm_org1_MINTEDSECRET", ID: "key_123", Name: "agent-x", Tags: []string{"proj-a"},
				ExpiresAt: exp, AllowedEndpoints: []string{"/v3/search", "/v4/search"}},
		},
		{
			name:   "create 201",
			status: 201,
			body:   `{"key":"sm_org1_MINTED2","id":"key_124"}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateScopedKey(ctx, CreateScopedKeyRequest{Tags: []string{"proj-a"}, Permission: "write", ExpiresInDays: 1})
			},
			wantMethod: "POST", wantURI: "/v3/auth/scoped-key",
			want: &CreatedKey{Key: "sm_org1_MINTED2", ID: "key_124"},
		},
		{
			name:       "revoke",
			status:     200,
			body:       `{"success":true,"id":"key_123"}`,
			call:       func(ctx context.Context, c *Client) (any, error) { return c.RevokeKey(ctx, "key_123") },
			wantMethod: "DELETE", wantURI: "/v3/auth/scoped-key/key_123",
			want: &RevokeResult{ID: "key_123", Success: true},
		},
		{
			name:       "revoke 204 without body",
			status:     204,
			call:       func(ctx context.Context, c *Client) (any, error) { return c.RevokeKey(ctx, "Key-9_z") },
			wantMethod: "DELETE", wantURI: "/v3/auth/scoped-key/Key-9_z",
			want: &RevokeResult{ID: "Key-9_z", Success: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := newServer(t, reply(tt.status, tt.body))
			c, _ := newClient(t, srv.URL)
			got, err := tt.call(context.Background(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result:\n got %#v\nwant %#v", got, tt.want)
			}
			if ck, ok := got.(*CreatedKey); ok && ck.Key.Reveal() != tt.want.(*CreatedKey).Key.Reveal() {
				t.Errorf("created key secret differs (len %d)", len(ck.Key.Reveal()))
			}
			reqs := rec.all()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			if reqs[0].Method != tt.wantMethod || reqs[0].URI != tt.wantURI {
				t.Errorf("server saw %s %s, want %s %s", reqs[0].Method, reqs[0].URI, tt.wantMethod, tt.wantURI)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	t.Parallel()
	srv, rec := newServer(t, reply(200, `{"key":"sm_x_MINTED","id":"k"}`))
	c, _ := newClient(t, srv.URL, func(cfg *Config) { cfg.UserAgent = "mcp-keys/1.2.3" })
	ctx := context.Background()
	_, _ = c.Session(ctx)
	_, _ = c.CreateScopedKey(ctx, CreateScopedKeyRequest{Tags: []string{"t"}, Permission: "write", ExpiresInDays: 1})
	reqs := rec.all()
	if len(reqs) != 2 {
		t.Fatalf("server saw %d requests, want 2", len(reqs))
	}
	for _, r := range reqs {
		if r.Auth != "Bearer "+testKey {
			t.Errorf("%s: Authorization header is wrong (len %d)", r.Method, len(r.Auth))
		}
		if r.UserAgent != "mcp-keys/1.2.3" {
			t.Errorf("%s: User-Agent = %q", r.Method, r.UserAgent)
		}
		if r.Accept != "application/json" {
			t.Errorf("%s: Accept = %q", r.Method, r.Accept)
		}
		wantCT := ""
		if r.Method == http.MethodPost {
			wantCT = "application/json"
		}
		if r.ContentType != wantCT {
			t.Errorf("%s: Content-Type = %q, want %q", r.Method, r.ContentType, wantCT)
		}
	}
	// The default User-Agent.
	srv2, rec2 := newServer(t, reply(200, `{}`))
	c2, _ := newClient(t, srv2.URL)
	_, _ = c2.Session(ctx)
	if got := rec2.all()[0].UserAgent; got != "mcp-keys/dev" {
		t.Errorf("default User-Agent = %q, want mcp-keys/dev", got)
	}
}

func TestBasePathPrefix(t *testing.T) {
	t.Parallel()
	srv, rec := newServer(t, reply(200, `{"keys":[]}`))
	for _, base := range []string{srv.URL + "/sm", srv.URL + "/sm/"} {
		c, _ := newClient(t, base)
		if _, err := c.ListKeys(context.Background()); err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		// The server answers 200 to everything: a revoke succeeds too.
		if _, err := c.RevokeKey(context.Background(), "k1"); err != nil {
			t.Fatalf("RevokeKey: %v", err)
		}
	}
	want := []string{"/sm/v3/auth/keys", "/sm/v3/auth/scoped-key/k1", "/sm/v3/auth/keys", "/sm/v3/auth/scoped-key/k1"}
	var got []string
	for _, r := range rec.all() {
		got = append(got, r.URI)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("URIs = %q, want %q", got, want)
	}
}

func TestErrorCategories(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status   int
		body     string
		want     error
		attempts int // for a read (ListKeys) with MaxAttempts 3
		message  string
	}{
		{400, `{"error":"containerTag is invalid","details":"bad char"}`, ErrInvalidRequest, 1, "containerTag is invalid: bad char"},
		{401, `{"error":"Unauthorized"}`, ErrUnauthorized, 1, "Unauthorized"},
		{402, `{"message":"credits used up"}`, ErrPaymentRequired, 1, "credits used up"},
		{403, `{"error":{"code":"FORBIDDEN","status":403}}`, ErrForbidden, 1, `{"code":"FORBIDDEN","status":403}`},
		{404, ``, ErrNotFound, 1, "Not Found"},
		{409, `{"error":"conflict"}`, ErrInvalidRequest, 1, "conflict"},
		{422, `{"error":42}`, ErrInvalidRequest, 1, "42"},
		{429, `{"error":"slow down"}`, ErrRateLimited, 3, "slow down"},
		{500, `<html>oops</html>`, ErrServer, 1, "Internal Server Error"},
		{502, `{"error":null,"message":"bad gateway"}`, ErrServer, 3, "bad gateway"},
		{503, `{}`, ErrServer, 3, "Service Unavailable"},
		{504, `"upstream timed out"`, ErrServer, 3, "upstream timed out"},
		{599, ``, ErrServer, 1, "HTTP 599"},
		{418, `{"error":"teapot"}`, ErrBadResponse, 1, "teapot"},
		{405, ``, ErrBadResponse, 1, "Method Not Allowed"},
		{302, ``, ErrBadResponse, 1, "the API answered with a redirect, which is never followed"},
	}
	sentinels := []error{ErrUnauthorized, ErrForbidden, ErrNotFound, ErrRateLimited, ErrInvalidRequest,
		ErrPaymentRequired, ErrServer, ErrOutcomeUnknown, ErrUnavailable, ErrBadResponse}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status)+"_"+tt.want.Error()[:5], func(t *testing.T) {
			t.Parallel()
			srv, rec := newServer(t, reply(tt.status, tt.body))
			c, _ := newClient(t, srv.URL)
			_, err := c.ListKeys(context.Background())
			e := asError(t, err)
			for _, s := range sentinels {
				if got := errors.Is(err, s); got != (s == tt.want) {
					t.Errorf("errors.Is(err, %q) = %v", s, got)
				}
			}
			if e.Status != tt.status || e.Category != tt.want {
				t.Errorf("Status %d Category %v, want %d %v", e.Status, e.Category, tt.status, tt.want)
			}
			if e.Message != tt.message {
				t.Errorf("Message = %q, want %q", e.Message, tt.message)
			}
			if e.Attempts != tt.attempts || rec.count() != tt.attempts {
				t.Errorf("Attempts %d, server saw %d, want %d", e.Attempts, rec.count(), tt.attempts)
			}
			if e.Op != "list keys" || e.Method != "GET" || e.Endpoint != "/v3/auth/keys" {
				t.Errorf("Op %q Method %q Endpoint %q", e.Op, e.Method, e.Endpoint)
			}
			if !strings.Contains(err.Error(), "list keys (GET /v3/auth/keys)") || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Error() = %q lacks the operation or the message", err.Error())
			}
			noSecret(t, err)
		})
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	ok := reply(200, `{"keys":[]}`)
	tests := []struct {
		name     string
		handler  http.HandlerFunc
		call     func(context.Context, *Client) error
		wantErr  error // nil: success
		attempts int
	}{
		{"429 then 200", sequence(reply(429, ``), ok), listKeys, nil, 2},
		{"503 503 503", reply(503, ``), listKeys, ErrServer, 3},
		{"429 429 429", reply(429, ``), listKeys, ErrRateLimited, 3},
		{"502 504 200", sequence(reply(502, ``), reply(504, ``), ok), listKeys, nil, 3},
		{"400 not retried", reply(400, ``), listKeys, ErrInvalidRequest, 1},
		{"500 not retried on a read", reply(500, ``), listKeys, ErrServer, 1},
		{"401 not retried", reply(401, ``), session, ErrUnauthorized, 1},
		{"tags 503 then 200", sequence(reply(503, ``), reply(200, `[]`)), listTags, nil, 2},
		{"session drop then 200", sequence(drop, reply(200, `{}`)), session, nil, 2},
		{"drop drop 200", sequence(drop, drop, ok), listKeys, nil, 3},
		{"drop drop drop", drop, listKeys, ErrUnavailable, 3},
		{"revoke 500 then 200", sequence(reply(500, ``), ok), revoke, nil, 2},
		{"revoke 429 503 200", sequence(reply(429, ``), reply(503, ``), ok), revoke, nil, 3},
		{"revoke drop then 200", sequence(drop, ok), revoke, nil, 2},
		{"revoke 404", reply(404, `{"error":"Key not found"}`), revoke, ErrNotFound, 1},
		{"revoke 403", reply(403, ``), revoke, ErrForbidden, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := newServer(t, tt.handler)
			c, sl := newClient(t, srv.URL)
			err := tt.call(context.Background(), c)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
			} else {
				e := asError(t, err)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("got %v, want %v", err, tt.wantErr)
				}
				if e.Attempts != tt.attempts {
					t.Errorf("Attempts = %d, want %d", e.Attempts, tt.attempts)
				}
				noSecret(t, err)
			}
			if n := rec.count(); n != tt.attempts {
				t.Errorf("server saw %d requests, want %d", n, tt.attempts)
			}
			if n := len(sl.all()); n != tt.attempts-1 {
				t.Errorf("%d pauses, want %d", n, tt.attempts-1)
			}
		})
	}
}

func listKeys(ctx context.Context, c *Client) error { _, err := c.ListKeys(ctx); return err }
func listTags(ctx context.Context, c *Client) error { _, err := c.ListTags(ctx); return err }
func session(ctx context.Context, c *Client) error  { _, err := c.Session(ctx); return err }
func revoke(ctx context.Context, c *Client) error   { _, err := c.RevokeKey(ctx, "key_1"); return err }

func TestBackoffGrowsWithJitter(t *testing.T) {
	t.Parallel()
	srv, rec := newServer(t, reply(503, ``))
	c, sl := newClient(t, srv.URL, func(cfg *Config) {
		cfg.MaxAttempts = 5
		cfg.MinBackoff = 10 * time.Millisecond
		cfg.MaxBackoff = 25 * time.Millisecond
	})
	_, err := c.ListKeys(context.Background())
	if e := asError(t, err); e.Attempts != 5 || rec.count() != 5 {
		t.Fatalf("Attempts %d, server saw %d, want 5", e.Attempts, rec.count())
	}
	caps := []time.Duration{10, 20, 25, 25}
	got := sl.all()
	if len(got) != len(caps) {
		t.Fatalf("pauses %v, want %d", got, len(caps))
	}
	for i, d := range got {
		hi := caps[i] * time.Millisecond
		if d < hi/2 || d > hi {
			t.Errorf("pause %d = %v, want within [%v, %v]", i+1, d, hi/2, hi)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	withHeader := func(v string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", v)
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}
	tests := []struct {
		name      string
		header    string
		wantPause time.Duration // exact, or 0: a jittered backoff of at most 1ms
	}{
		{"seconds", "2", 2 * time.Second},
		{"seconds capped", "3600", 3 * time.Second},
		{"http date", now.Add(2 * time.Second).Format(http.TimeFormat), 2 * time.Second},
		{"http date capped", now.Add(time.Hour).Format(http.TimeFormat), 3 * time.Second},
		{"date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"zero", "0", 0},
		{"garbage", "soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := newServer(t, sequence(withHeader(tt.header), reply(200, `{"keys":[]}`)))
			c, sl := newClient(t, srv.URL, func(cfg *Config) {
				cfg.MinBackoff, cfg.MaxBackoff, cfg.MaxRetryAfter = time.Millisecond, time.Millisecond, 3*time.Second
			})
			c.now = func() time.Time { return now }
			if _, err := c.ListKeys(context.Background()); err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			got := sl.all()
			if len(got) != 1 || rec.count() != 2 {
				t.Fatalf("pauses %v, requests %d; want 1 pause and 2 requests", got, rec.count())
			}
			if tt.wantPause > 0 && got[0] != tt.wantPause {
				t.Errorf("pause = %v, want %v", got[0], tt.wantPause)
			}
			if tt.wantPause == 0 && got[0] > time.Millisecond {
				t.Errorf("pause = %v, want a backoff of at most 1ms", got[0])
			}
		})
	}
	t.Run("reported uncapped in the error", func(t *testing.T) {
		t.Parallel()
		srv, _ := newServer(t, withHeader("3600"))
		c, _ := newClient(t, srv.URL, func(cfg *Config) { cfg.MaxRetryAfter = time.Second })
		_, err := c.ListKeys(context.Background())
		e := asError(t, err)
		if e.RetryAfter != time.Hour || !errors.Is(err, ErrRateLimited) || e.Attempts != 3 {
			t.Errorf("RetryAfter %v Attempts %d err %v; want 1h, 3, rate limited", e.RetryAfter, e.Attempts, err)
		}
		if !strings.Contains(err.Error(), "retry after 1h0m0s") {
			t.Errorf("Error() = %q does not mention the wait", err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"  5 ", 5 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"99999999999999999999999", maxRetryAfterHeader, true},
		{"999999999999", maxRetryAfterHeader, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Sunday, 01-Jun-25 12:00:30 GMT", 30 * time.Second, true}, // RFC 850
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"tomorrow", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestContextCancelDuringBackoff(t *testing.T) {
	t.Parallel()
	srv, rec := newServer(t, reply(503, ``))
	c, _ := newClient(t, srv.URL, func(cfg *Config) { cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sleeping := make(chan struct{})
	c.sleep = func(ctx context.Context, d time.Duration) error {
		close(sleeping)
		return sleepContext(ctx, d) // the real one: returns when ctx ends
	}
	go func() {
		<-sleeping
		cancel()
	}()
	_, err := c.ListKeys(ctx)
	e := asError(t, err)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrServer) {
		t.Errorf("got %v, want the 503 and context.Canceled", err)
	}
	if e.Attempts != 1 || rec.count() != 1 {
		t.Errorf("Attempts %d, server saw %d; want 1", e.Attempts, rec.count())
	}
}

func TestContextDeadlineBeforeNextAttempt(t *testing.T) {
	t.Parallel()
	srv, rec := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	c, sl := newClient(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.ListKeys(ctx)
	if !errors.Is(err, ErrRateLimited) {
		t.Errorf("got %v, want rate limited", err)
	}
	if n := len(sl.all()); n != 0 || rec.count() != 1 {
		t.Errorf("%d pauses and %d requests; want no pause (the deadline comes first) and 1 request", n, rec.count())
	}
}

func TestContextAlreadyDone(t *testing.T) {
	t.Parallel()
	srv, rec := newServer(t, reply(200, `{"keys":[]}`))
	c, _ := newClient(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, call := range []func(context.Context, *Client) error{listKeys, listTags, session, revoke, create} {
		err := call(ctx, c)
		e := asError(t, err)
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrUnavailable) || e.Attempts != 0 || e.OutcomeUnknown {
			t.Errorf("%s: got %v (attempts %d)", e.Op, err, e.Attempts)
		}
	}
	if n := rec.count(); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

func TestAttemptTimeoutRetriedForReads(t *testing.T) {
	t.Parallel()
	srv, rec := newServer(t, sequence(hang, reply(200, `{"keys":[]}`)))
	c, _ := newClient(t, srv.URL, func(cfg *Config) { cfg.Timeout = 100 * time.Millisecond })
	if _, err := c.ListKeys(context.Background()); err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	if n := rec.count(); n != 2 {
		t.Errorf("server saw %d requests, want 2", n)
	}
	srv2, _ := newServer(t, hang)
	c2, _ := newClient(t, srv2.URL, func(cfg *Config) { cfg.Timeout = 50 * time.Millisecond; cfg.MaxAttempts = 1 })
	_, err := c2.ListKeys(context.Background())
	if e := asError(t, err); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) || e.Message != "no answer within 50ms" {
		t.Errorf("got %v (message %q), want unavailable after no answer within 50ms", err, e.Message)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t, nil)
	base := srv.URL
	srv.Close() // nothing listens there any more
	c, _ := newClient(t, base)
	_, err := c.ListKeys(context.Background())
	if e := asError(t, err); !errors.Is(err, ErrUnavailable) || e.Attempts != 3 || e.Err == nil {
		t.Errorf("ListKeys: got %v (attempts %d), want unavailable after 3", err, e.Attempts)
	}
	// A create that could not connect was never sent: not outcome unknown.
	_, err = c.CreateScopedKey(context.Background(), CreateScopedKeyRequest{Tags: []string{"a"}, Permission: "write", ExpiresInDays: 1})
	if e := asError(t, err); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOutcomeUnknown) || e.Attempts != 1 {
		t.Errorf("create: got %v (attempts %d), want unavailable, 1 attempt, outcome known", err, e.Attempts)
	}
}

func create(ctx context.Context, c *Client) error {
	_, err := c.CreateScopedKey(ctx, CreateScopedKeyRequest{Tags: []string{"proj-a"}, Permission: "write", ExpiresInDays: 30})
	return err
}

func TestCreateNeverRetried(t *testing.T) {
	t.Parallel()
	big := `{"key":"sm_x_MINTED","id":"k","pad":"` + strings.Repeat("x", 2048) + `"}`
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		want        error
		unknown     bool
		wantStatus  int
		smallBody   bool
		shortTimout bool
	}{
		{"429", reply(429, `{"error":"slow"}`), ErrRateLimited, false, 429, false, false},
		{"503", reply(503, ``), ErrServer, false, 503, false, false},
		{"500", reply(500, ``), ErrServer, true, 500, false, false},
		{"502", reply(502, ``), ErrServer, true, 502, false, false},
		{"504", reply(504, ``), ErrServer, true, 504, false, false},
		{"400", reply(400, `{"error":"bad tag"}`), ErrInvalidRequest, false, 400, false, false},
		{"dropped connection", drop, ErrOutcomeUnknown, true, 0, false, false},
		{"timeout", hang, ErrOutcomeUnknown, true, 0, false, true},
		{"malformed success", reply(200, `{"key":"sm_x_MINTED","id":`), ErrBadResponse, true, 200, false, false},
		{"success without key", reply(200, `{"id":"k"}`), ErrBadResponse, true, 200, false, false},
		{"success not an object", reply(200, `["sm_x_MINTED"]`), ErrBadResponse, true, 200, false, false},
		{"202", reply(202, `{"key":"sm_x_MINTED"}`), ErrBadResponse, true, 202, false, false},
		{"oversized success", reply(200, big), ErrBadResponse, true, 200, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := newServer(t, tt.handler)
			c, sl := newClient(t, srv.URL, func(cfg *Config) {
				if tt.smallBody {
					cfg.MaxBodyBytes = 1024
				}
				if tt.shortTimout {
					cfg.Timeout = 100 * time.Millisecond
				}
			})
			err := create(context.Background(), c)
			e := asError(t, err)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if got := errors.Is(err, ErrOutcomeUnknown); got != tt.unknown || e.OutcomeUnknown != tt.unknown {
				t.Errorf("outcome unknown = %v (field %v), want %v", got, e.OutcomeUnknown, tt.unknown)
			}
			text := err.Error()
			if tt.unknown && (!strings.Contains(text, "may or may not have been created") || !strings.Contains(text, "list keys to check")) {
				t.Errorf("Error() = %q does not say the key may exist and to list keys", text)
			}
			if !tt.unknown && strings.Contains(text, "may or may not") {
				t.Errorf("Error() = %q says the outcome is unknown", text)
			}
			if e.Status != tt.wantStatus {
				t.Errorf("Status = %d, want %d", e.Status, tt.wantStatus)
			}
			if n := rec.countMethod(http.MethodPost); n != 1 || e.Attempts != 1 {
				t.Errorf("server saw %d POSTs (Attempts %d), want exactly 1", n, e.Attempts)
			}
			if n := len(sl.all()); n != 0 {
				t.Errorf("%d pauses, want none", n)
			}
			noSecret(t, err, "sm_x_MINTED")
		})
	}
}

func TestCreateCancelledAfterSending(t *testing.T) {
	t.Parallel()
	got := make(chan struct{})
	srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(got)
		<-r.Context().Done()
	})
	c, _ := newClient(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-got
		cancel()
	}()
	err := create(ctx, c)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("got %v, want context.Canceled and outcome unknown", err)
	}
	if n := rec.count(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestBodySizeCap(t *testing.T) {
	t.Parallel()
	t.Run("9 MiB against the default 8 MiB", func(t *testing.T) {
		t.Parallel()
		srv, rec := newServer(t, func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[],"pad":"`))
			chunk := []byte(strings.Repeat("x", 64<<10))
			for i := 0; i < 9*16; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			_, _ = w.Write([]byte(`"}`))
		})
		c, _ := newClient(t, srv.URL)
		_, err := c.ListKeys(context.Background())
		e := asError(t, err)
		if !errors.Is(err, ErrBadResponse) || e.Status != 200 || !strings.Contains(e.Message, "larger than 8388608 bytes") {
			t.Errorf("got %v, want a bad response over 8388608 bytes", err)
		}
		if rec.count() != 1 {
			t.Errorf("server saw %d requests, want 1 (not retried)", rec.count())
		}
	})
	t.Run("boundary", func(t *testing.T) {
		t.Parallel()
		const limit = 256
		body := `{"keys":[]}`
		exact := body + strings.Repeat(" ", limit-len(body))
		srv, _ := newServer(t, sequence(reply(200, exact), reply(200, exact+" ")))
		c, _ := newClient(t, srv.URL, func(cfg *Config) { cfg.MaxBodyBytes = limit })
		if _, err := c.ListKeys(context.Background()); err != nil {
			t.Errorf("body of exactly the limit: %v", err)
		}
		if _, err := c.ListKeys(context.Background()); !errors.Is(err, ErrBadResponse) {
			t.Errorf("body one byte over the limit: got %v, want bad response", err)
		}
	})
	t.Run("large error body", func(t *testing.T) {
		t.Parallel()
		srv, _ := newServer(t, reply(400, `{"error":"`+strings.Repeat("e", 100<<10)+`"}`))
		c, _ := newClient(t, srv.URL)
		_, err := c.ListKeys(context.Background())
		e := asError(t, err)
		// Only the first 64 KiB are read: the JSON is cut, so the status text is used.
		if !errors.Is(err, ErrInvalidRequest) || e.Message != "Bad Request" {
			t.Errorf("got %v, want invalid request with the status text", err)
		}
	})
}

func TestMalformedBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		call func(context.Context, *Client) error
	}{
		{"keys truncated", `{"keys":[{"id":"k1"`, listKeys},
		{"keys not JSON", `<html>hello</html>`, listKeys},
		{"keys empty", ``, listKeys},
		{"keys wrong type", `{"keys":"k1"}`, listKeys},
		{"keys missing", `{"items":[]}`, listKeys},
		{"keys item not an object", `{"keys":["k1"]}`, listKeys},
		{"keys number", `42`, listKeys},
		{"tags object without tags", `{"items":[]}`, listTags},
		{"tags string", `"proj-a"`, listTags},
		{"tags wrong type", `{"tags":5}`, listTags},
		{"tags truncated", `[{"containerTag":"a"`, listTags},
		{"tags empty", ` `, listTags},
		{"tags object malformed", `{"tags":[}`, listTags},
		{"session array", `[]`, session},
		{"session truncated", `{"user":`, session},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := newServer(t, reply(200, tt.body))
			c, _ := newClient(t, srv.URL)
			err := tt.call(context.Background(), c)
			e := asError(t, err)
			if !errors.Is(err, ErrBadResponse) || e.Status != 200 || e.Err == nil {
				t.Errorf("got %v, want a bad response with a cause", err)
			}
			if rec.count() != 1 {
				t.Errorf("server saw %d requests, want 1 (not retried)", rec.count())
			}
		})
	}
}

func TestKeyIDInjection(t *testing.T) {
	t.Parallel()
	srv, rec := newServer(t, reply(200, `{"success":true}`))
	c, _ := newClient(t, srv.URL)
	bad := []string{
		"../auth/agent-key", "x?y=1", "%2e%2e", "a/b", "", strings.Repeat("a", 10<<10),
		"..", ".", "a b", "ключ", "a\x00b", "a#b", "a%2fb", "a\\b", "a\nb", "key.1",
		strings.Repeat("a", 129), "a\u200bb", "a;b", "a:b", "a@b", "~a",
	}
	for _, id := range bad {
		if err := ValidKeyID(id); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("ValidKeyID(%.40q) = %v, want invalid request", id, err)
		} else if len(id) > 0 && strings.Contains(err.Error(), id) {
			t.Errorf("ValidKeyID(%.40q) error quotes the id", id)
		}
		_, err := c.RevokeKey(context.Background(), id)
		e := asError(t, err)
		if !errors.Is(err, ErrInvalidRequest) || e.Attempts != 0 || e.Message == "" {
			t.Errorf("RevokeKey(%.40q) = %v, want a refusal before sending", id, err)
		}
		if len(err.Error()) > 300 {
			t.Errorf("RevokeKey(%.40q) error is %d bytes long", id, len(err.Error()))
		}
	}
	if n := rec.count(); n != 0 {
		t.Fatalf("server saw %d requests for invalid ids, want 0: %v", n, rec.all())
	}
	good := []string{"key_123", "A", "a-b_C-9", strings.Repeat("z", 128), "_", "-"}
	for _, id := range good {
		if err := ValidKeyID(id); err != nil {
			t.Errorf("ValidKeyID(%q) = %v", id, err)
		}
		if url.PathEscape(id) != id {
			t.Errorf("%q does not escape to itself", id)
		}
		if _, err := c.RevokeKey(context.Background(), id); err != nil {
			t.Errorf("RevokeKey(%q): %v", id, err)
		}
	}
	reqs := rec.all()
	if len(reqs) != len(good) {
		t.Fatalf("server saw %d requests, want %d", len(reqs), len(good))
	}
	for i, r := range reqs {
		if want := "/v3/auth/scoped-key/" + good[i]; r.Method != "DELETE" || r.URI != want {
			t.Errorf("server saw %s %s, want DELETE %s", r.Method, r.URI, want)
		}
	}
}

func TestEndpointPathRechecksID(t *testing.T) {
	t.Parallel()
	// The defence in depth below the public methods: no path is built from
	// an unchecked id, whatever the caller.
	if _, err := epRevokeScopedKey.path("../auth/agent-key"); err == nil {
		t.Error("path accepted a traversal id")
	}
	srv, rec := newServer(t, nil)
	c, _ := newClient(t, srv.URL)
	_, err := c.call(context.Background(), epRevokeScopedKey, "a/b", nil)
	if !errors.Is(err, ErrInvalidRequest) || rec.count() != 0 {
		t.Errorf("call with a bad id: %v, %d requests", err, rec.count())
	}
	for _, ep := range []endpoint{epSession, epListKeys, epListTags, epCreateScopedKey, epRevokeScopedKey} {
		if ep.op() == "" || ep.method() == "" || !strings.HasPrefix(ep.template(), "/v3/") {
			t.Errorf("endpoint %d is incomplete", ep)
		}
	}
	for _, f := range []func(){func() { _ = endpoint(0).op() }, func() { _ = endpoint(99).template() }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("an unknown endpoint did not panic")
				}
			}()
			f()
		}()
	}
}

func TestNoRedirects(t *testing.T) {
	t.Parallel()
	other, otherRec := newServer(t, reply(200, `{"keys":[]}`))
	for _, status := range []int{301, 302, 307, 308} {
		srv, rec := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, status)
		})
		custom := &http.Client{}
		for name, c := range map[string]*Client{
			"default":     mustClient(t, srv.URL, nil),
			"user client": mustClient(t, srv.URL, custom),
		} {
			_, err := c.ListKeys(context.Background())
			e := asError(t, err)
			if !errors.Is(err, ErrBadResponse) || e.Status != status {
				t.Errorf("%s %d: got %v, want a bad response", name, status, err)
			}
			err = create(context.Background(), c)
			if !errors.Is(err, ErrBadResponse) {
				t.Errorf("%s %d create: got %v, want a bad response", name, status, err)
			}
		}
		if custom.CheckRedirect != nil {
			t.Error("the caller's http.Client was modified")
		}
		if n := rec.count(); n != 4 {
			t.Errorf("redirecting server saw %d requests, want 4", n)
		}
	}
	if n := otherRec.count(); n != 0 {
		t.Errorf("the redirect target saw %d requests: the key went elsewhere", n)
	}
}

func mustClient(t *testing.T, base string, hc *http.Client) *Client {
	t.Helper()
	c, err := New(Config{BaseURL: base, APIKey: testKey, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// roundTripFunc is an http.RoundTripper that is not an *http.Transport, so
// the client cannot rely on httptrace.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestCustomTransportOutcome(t *testing.T) {
	t.Parallel()
	dialErr := &url.Error{Op: "Post", URL: "http://127.0.0.1:1",
		Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}}
	tests := []struct {
		name    string
		err     error
		unknown bool
	}{
		{"dial error: never sent", dialErr, false},
		{"other error: may have been sent", errors.New("connection reset by peer"), true},
	}
	for _, tt := range tests {
		posts := 0
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			posts++
			return nil, tt.err
		})}
		c := mustClient(t, "https://api.example.com", hc)
		err := create(context.Background(), c)
		if got := errors.Is(err, ErrOutcomeUnknown); got != tt.unknown || posts != 1 {
			t.Errorf("%s: outcome unknown %v (want %v), %d POSTs", tt.name, got, tt.unknown, posts)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv, rec := newServer(t, reply(200, `{"keys":[{"id":"k1","isScoped":true}]}`))
	c, _ := newClient(t, srv.URL)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			keys, err := c.ListKeys(context.Background())
			if err != nil || len(keys) != 1 {
				t.Errorf("ListKeys: %v, %d keys", err, len(keys))
			}
		})
	}
	wg.Wait()
	if rec.count() != 8 {
		t.Errorf("server saw %d requests, want 8", rec.count())
	}
}

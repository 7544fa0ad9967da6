package remote

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

func TestHealthzAndReadyz(t *testing.T) {
	e := newEnv(t)
	r := e.do(req{method: http.MethodGet, path: "/healthz"})
	if r.status != http.StatusOK || r.body != "ok\n" {
		t.Fatalf("/healthz: %d %q", r.status, r.body)
	}
	r = e.do(req{method: http.MethodGet, path: "/readyz"})
	if r.status != http.StatusOK || r.body != "ready\n" {
		t.Fatalf("/readyz: %d %q", r.status, r.body)
	}
	e.readyErr.Store(errors.New("store unreachable"))
	r = e.do(req{method: http.MethodGet, path: "/readyz"})
	if r.status != http.StatusServiceUnavailable || r.body != "not ready: store unreachable\n" {
		t.Fatalf("/readyz failing: %d %q", r.status, r.body)
	}
	if r := e.do(req{method: http.MethodPost, path: "/healthz"}); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("POST /healthz: %d", r.status)
	}
	if r := e.do(req{method: http.MethodGet, path: "/other"}); r.status != http.StatusNotFound {
		t.Fatalf("/other: %d", r.status)
	}
}

func TestProtectedResourceMetadata(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		r := e.do(req{method: http.MethodGet, path: path, header: map[string]string{"Origin": "https://elsewhere.example"}})
		if r.status != http.StatusOK {
			t.Fatalf("%s: status %d", path, r.status)
		}
		m := decodeJSON(t, r.body)
		want := map[string]any{
			"resource":                 e.public,
			"authorization_servers":    []any{e.idp.Issuer()},
			"scopes_supported":         []any{keys.ScopeRead, keys.ScopeWrite},
			"bearer_methods_supported": []any{"header"},
		}
		if len(m) != len(want) {
			t.Fatalf("%s: fields %v, want %v", path, m, want)
		}
		for k, v := range want {
			if !equalJSON(m[k], v) {
				t.Fatalf("%s: %s = %v, want %v", path, k, m[k], v)
			}
		}
	}
	// Without OAuth there is no authorization server to name.
	e2 := newEnv(t, func(o *Options) { o.Issuer = "" })
	m := decodeJSON(t, e2.do(req{method: http.MethodGet, path: MetadataPath}).body)
	if _, ok := m["authorization_servers"]; ok {
		t.Fatalf("authorization_servers without OAuth: %v", m)
	}
}

func equalJSON(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok {
		return slices.Equal(as, bs)
	}
	return a == b
}

func TestOrigin(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, origin string
		status       int
	}{
		{"no Origin", "", http.StatusOK},
		{"allowed", "https://app.example.com", http.StatusOK},
		{"allowed, other case", "HTTPS://APP.example.com", http.StatusOK},
		{"other host", "https://evil.example.com", http.StatusForbidden},
		{"other scheme", "http://app.example.com", http.StatusForbidden},
		{"other port", "https://app.example.com:8443", http.StatusForbidden},
		{"null", "null", http.StatusForbidden},
		{"garbage", "::", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.origin != "" {
				h["Origin"] = tc.origin
			}
			r := e.do(req{token: e.reader, body: callBody("list_tags"), header: h})
			if r.status != tc.status {
				t.Fatalf("status %d, want %d", r.status, tc.status)
			}
			if tc.status == http.StatusOK && tc.origin != "" && r.header.Get("Access-Control-Allow-Origin") != tc.origin {
				t.Fatalf("Access-Control-Allow-Origin %q", r.header.Get("Access-Control-Allow-Origin"))
			}
		})
	}
	// A bad Origin is refused before the token is even looked at.
	if r := e.do(req{body: callBody("list_tags"), header: map[string]string{"Origin": "https://evil.example.com"}}); r.status != http.StatusForbidden {
		t.Fatalf("bad Origin without a token: %d", r.status)
	}
	// A CORS preflight from an allowed origin needs no token.
	r := e.do(req{method: http.MethodOptions, header: map[string]string{
		"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
		"Access-Control-Request-Headers": "authorization, content-type",
	}})
	if r.status != http.StatusNoContent || !strings.Contains(r.header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
}

func TestDNSRebindingHost(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		host   string
		status int
	}{
		{"evil.example.com", http.StatusForbidden},
		{"evil.example.com:80", http.StatusForbidden},
		{"127.0.0.1.nip.io", http.StatusForbidden},
		{"localhost", http.StatusOK},
		{"[::1]:1234", http.StatusOK},
	} {
		for _, path := range []string{EndpointPath, "/healthz"} {
			body := ""
			method := http.MethodGet
			if path == EndpointPath {
				body, method = callBody("list_tags"), http.MethodPost
			}
			r := e.do(req{method: method, path: path, host: tc.host, token: e.reader, body: body})
			if r.status != tc.status {
				t.Errorf("Host %s %s: status %d, want %d", tc.host, path, r.status, tc.status)
			}
		}
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tags","arguments":{"x":"` + strings.Repeat("a", MaxBodySize) + `"}}}`
	for _, chunked := range []bool{false, true} {
		r := e.do(req{token: e.reader, body: big, chunked: chunked})
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("chunked=%v: status %d, want 413", chunked, r.status)
		}
	}
	// Exactly 1 MiB is accepted.
	pad := MaxBodySize - len(callBody("list_tags")) - len(`,"pad":""`)
	exact := strings.TrimSuffix(callBody("list_tags"), "}") + `,"pad":"` + strings.Repeat("a", pad) + `"}`
	if len(exact) != MaxBodySize {
		t.Fatalf("test body is %d bytes", len(exact))
	}
	if r := e.do(req{token: e.reader, body: exact}); r.status != http.StatusOK {
		t.Fatalf("1 MiB body: status %d", r.status)
	}
	// The inner handler sees the whole body.
	e.inner.mu.Lock()
	got := e.inner.bodies[len(e.inner.bodies)-1]
	e.inner.mu.Unlock()
	if got != exact {
		t.Fatalf("inner handler got %d bytes, want %d", len(got), len(exact))
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RateLimit = 3 })
	for i := range 3 {
		if r := e.do(req{token: e.reader, body: callBody("list_tags")}); r.status != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, r.status)
		}
	}
	r := e.do(req{token: e.reader, body: callBody("list_tags")})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "20" {
		t.Fatalf("4th request: status %d, Retry-After %q; want 429, 20", r.status, r.header.Get("Retry-After"))
	}
	// Another caller has its own bucket.
	if r := e.do(req{token: e.writer, body: callBody("list_tags")}); r.status != http.StatusOK {
		t.Fatalf("other caller: status %d", r.status)
	}
	// OAuth callers are counted per iss+sub, not per token.
	for i := range 4 {
		want := http.StatusOK
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if r := e.do(req{token: e.token(e.claims(keys.ScopeRead)), body: callBody("list_tags")}); r.status != want {
			t.Fatalf("OAuth request %d: status %d, want %d", i+1, r.status, want)
		}
	}
	e.clock.Advance(20 * time.Second)
	if r := e.do(req{token: e.reader, body: callBody("list_tags")}); r.status != http.StatusOK {
		t.Fatalf("after Retry-After: status %d", r.status)
	}
}

func TestRateLimiterForgetsIdleCallers(t *testing.T) {
	c := &clock{}
	l := newRateLimiter(60, c.Now)
	for i := range 100 {
		l.allow(string(rune('a' + i%26)))
	}
	c.Advance(3 * time.Minute)
	l.allow("z")
	if n := len(l.buckets); n != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", n)
	}
}

func TestNewHandlerRefuses(t *testing.T) {
	ok := Options{MCP: http.NotFoundHandler(), PublicURL: "https://keys.example.com/mcp", Authenticator: &authenticator{}, ToolScope: designToolScope}
	for _, tc := range []struct {
		name string
		edit func(*Options)
	}{
		{"no MCP", func(o *Options) { o.MCP = nil }},
		{"no Authenticator", func(o *Options) { o.Authenticator = nil }},
		{"no ToolScope", func(o *Options) { o.ToolScope = nil }},
		{"relative public URL", func(o *Options) { o.PublicURL = "/mcp" }},
		{"bad origin", func(o *Options) { o.AllowedOrigins = []string{"app.example.com"} }},
		{"negative rate", func(o *Options) { o.RateLimit = -1 }},
	} {
		o := ok
		tc.edit(&o)
		if _, err := NewHandler(o); err == nil {
			t.Errorf("%s: NewHandler succeeded", tc.name)
		}
	}
	if _, err := NewHandler(ok); err != nil {
		t.Fatal(err)
	}
	if _, err := NewAuthenticator(nil, nil); err == nil {
		t.Fatal("NewAuthenticator without any method succeeded")
	}
}

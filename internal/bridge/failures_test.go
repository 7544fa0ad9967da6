package bridge

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRelayAuthFailures drives the real remote with tokens it refuses.
func TestRelayAuthFailures(t *testing.T) {
	tests := []struct {
		name   string
		token  string
		method string
		params any
		// code is the JSON-RPC error code; 0 means an isError tool result.
		code int
		want []string
		data map[string]any
	}{
		{
			name: "401 on tools/list", token: unknownToken, method: "tools/list",
			code: CodeTokenRefused,
			want: []string{"refused the caller token (HTTP 401, invalid_token)", "MCP_KEYS_TOKEN_FILE", "mcp-keys caller add"},
			data: map[string]any{"httpStatus": 401.0, "error": "invalid_token"},
		},
		{
			name: "401 on tools/call is a tool error", token: unknownToken, method: "tools/call",
			params: map[string]any{"name": "greet", "arguments": map[string]any{"name": "x"}},
			want:   []string{"refused the caller token", "MCP_KEYS_TOKEN_FILE"},
		},
		{
			name: "403 insufficient_scope names the scope", token: readOnlyToken, method: "tools/call",
			params: map[string]any{"name": "delete_thing", "arguments": map[string]any{"id": "x"}},
			want:   []string{"lacks the scope keys:write", "HTTP 403 insufficient_scope", "--scopes keys:read,keys:write"},
		},
		{
			name: "429 says how long to wait", token: limitedToken, method: "tools/call",
			params: map[string]any{"name": "greet", "arguments": map[string]any{"name": "x"}},
			want:   []string{"rate-limiting this caller (HTTP 429)", "Wait 7 seconds"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm := newRemote(t)
			b := startBridge(t, rm.url(), tt.token)
			out := b.raw()
			b.send(t, rpcRequest(1, tt.method, tt.params))
			m := out.next(t)
			if m["id"] != 1.0 {
				t.Fatalf("answer id = %v, want 1", m["id"])
			}
			var text string
			if tt.code == 0 {
				res, _ := m["result"].(map[string]any)
				if res["isError"] != true {
					t.Fatalf("want an isError tool result, got %v", m)
				}
				content, _ := res["content"].([]any)
				first, _ := content[0].(map[string]any)
				text, _ = first["text"].(string)
			} else {
				var code int
				code, text = errorOf(t, m)
				if code != tt.code {
					t.Errorf("code = %d, want %d", code, tt.code)
				}
				data, _ := m["error"].(map[string]any)["data"].(map[string]any)
				for k, v := range tt.data {
					if data[k] != v {
						t.Errorf("data.%s = %v, want %v", k, data[k], v)
					}
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("%q does not say %q", text, w)
				}
			}
		})
	}
}

// TestRelayHTTPAnswers drives the bridge against canned HTTP answers.
func TestRelayHTTPAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		code    int // the JSON-RPC error code written for request 1
		want    []string
		data    map[string]any
		notWant string
	}{
		{
			name: "403 insufficient_scope", status: 403,
			header: map[string]string{"WWW-Authenticate": `Bearer error="insufficient_scope", scope="keys:write", resource_metadata="https://x/.well-known/oauth-protected-resource/mcp"`},
			code:   CodeForbidden, want: []string{"lacks the scope keys:write"},
			data: map[string]any{"scope": "keys:write", "error": "insufficient_scope", "httpStatus": 403.0},
		},
		{
			name: "403 other gives the reason", status: 403, body: "Forbidden: origin not allowed\n",
			code: CodeForbidden, want: []string{"refused the request (HTTP 403: Forbidden: origin not allowed)"},
		},
		{
			name: "429 with Retry-After", status: 429, header: map[string]string{"Retry-After": "12"},
			code: CodeRateLimited, want: []string{"Wait 12 seconds"}, data: map[string]any{"retryAfterSeconds": 12.0},
		},
		{
			name: "429 without Retry-After", status: 429,
			code: CodeRateLimited, want: []string{"Wait a minute"},
		},
		{
			name: "503", status: 503, body: "down for maintenance",
			code: CodeUnavailable, want: []string{"is unavailable (HTTP 503 Service Unavailable)", "tell its operator"},
		},
		{
			name: "502", status: 502,
			code: CodeUnavailable, want: []string{"is unavailable (HTTP 502 Bad Gateway)"},
		},
		{
			name: "redirect is not followed", status: 307, header: map[string]string{"Location": "https://elsewhere.example/mcp?x=1"},
			code: CodeRemoteError, want: []string{"redirect (HTTP 307 to https://elsewhere.example/mcp)", "final URL"},
		},
		{
			name: "other 4xx gives the reason", status: 418, body: "short and stout",
			code: CodeRemoteError, want: []string{"answered HTTP 418: short and stout"},
		},
		{
			name: "a body echoing the token is scrubbed", status: 418, body: "you sent " + goodToken,
			code: CodeRemoteError, want: []string{"you sent [REDACTED]"},
		},
		{
			name: "4xx JSON-RPC error for the request is relayed as is", status: 400,
			header: map[string]string{"Content-Type": "application/json"},
			body:   `{"jsonrpc":"2.0","id":1,"error":{"code":-32020,"message":"header mismatch"}}`,
			code:   -32020, want: []string{"header mismatch"},
		},
		{
			name: "202 for a request", status: 202,
			code: CodeRemoteError, want: []string{"HTTP 202"},
		},
		{
			name: "wrong content type", status: 200, header: map[string]string{"Content-Type": "text/html"}, body: "<html>",
			code: CodeRemoteError, want: []string{`content type "text/html"`},
		},
		{
			name: "JSON that answers something else", status: 200, header: map[string]string{"Content-Type": "application/json"},
			body: `{"jsonrpc":"2.0","id":99,"result":{}}`,
			code: CodeRemoteError, want: []string{"not a JSON-RPC response to this request"},
		},
		{
			name: "stream ends before the answer", status: 200, header: map[string]string{"Content-Type": "text/event-stream"},
			body: "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{}}\n\n",
			code: CodeUnavailable, want: []string{"ended the event stream before answering"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var posts atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost {
					return
				}
				posts.Add(1)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			b := startBridge(t, srv.URL+"/mcp", goodToken)
			out := b.raw()
			b.send(t, rpcRequest(1, "tools/list", nil))
			m := out.answer(t)
			if m["id"] != 1.0 {
				t.Fatalf("answer id = %v, want 1: %v", m["id"], m)
			}
			code, msg := errorOf(t, m)
			if code != tt.code {
				t.Errorf("code = %d, want %d (%s)", code, tt.code, msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not say %q", msg, w)
				}
			}
			data, _ := m["error"].(map[string]any)["data"].(map[string]any)
			for k, v := range tt.data {
				if data[k] != v {
					t.Errorf("data.%s = %v, want %v", k, data[k], v)
				}
			}
			if n := posts.Load(); n != 1 {
				t.Errorf("the remote saw %d POSTs, want 1", n)
			}
		})
	}
}

func TestRelayUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s/mcp", l.Addr())
	_ = l.Close()
	b := startBridge(t, url, goodToken)
	out := b.raw()
	b.send(t, rpcRequest(1, "initialize", map[string]any{"protocolVersion": "2025-11-25"}))
	code, msg := errorOf(t, out.next(t))
	if code != CodeUnavailable || !strings.Contains(msg, "is unavailable: ") || !strings.Contains(msg, "connection refused") {
		t.Errorf("got %d %q, want %d saying the remote is unavailable", code, msg, CodeUnavailable)
	}
}

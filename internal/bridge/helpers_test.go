package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	keysclient "github.com/mcp-keys/mcp-keys/internal/client"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Caller tokens the test remote knows. No test output may hold any of them.
const (
	goodToken     = "mcpk_good_SUPERSECRET_0123456789abcdef"
	readOnlyToken = "mcpk_read_SUPERSECRET_0123456789abcdef"
	limitedToken  = "mcpk_rate_SUPERSECRET_0123456789abcdef"
	unknownToken  = "mcpk_none_SUPERSECRET_0123456789abcdef"
)

var allTokens = []string{goodToken, readOnlyToken, limitedToken, unknownToken}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// seenRequest is one HTTP request as the test remote saw it.
type seenRequest struct {
	Method  string // HTTP method
	RPC     string // JSON-RPC method ("" for a response)
	Header  http.Header
	IsReply bool // a JSON-RPC response posted by the client
}

// remote is a real mcp-go server over Streamable HTTP at /mcp, behind a
// bearer-token check like mcp-keys' own.
type remote struct {
	srv *httptest.Server

	mu   sync.Mutex
	seen []seenRequest

	// barrier is released when barrierN calls to the "barrier" tool are
	// waiting at once.
	barrierMu      sync.Mutex
	barrierN       int
	barrierWaiting int
	barrierOpen    chan struct{}

	// slowCancelled receives once per "slow" call whose context ended.
	slowCancelled chan struct{}
}

// newRemote starts the test remote; opts are added to the Streamable HTTP
// server (stateless by default).
func newRemote(t *testing.T, opts ...server.StreamableHTTPOption) *remote {
	t.Helper()
	rm := &remote{barrierN: 3, barrierOpen: make(chan struct{}), slowCancelled: make(chan struct{}, 8)}
	s := server.NewMCPServer("test-remote", "0.0.1",
		server.WithToolCapabilities(false),
		server.WithElicitation(),
	)
	s.AddTool(mcp.NewTool("greet",
		mcp.WithDescription("Greets someone."),
		mcp.WithString("name", mcp.Required()),
	), func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("Hello, " + req.GetString("name", "?") + "!"), nil
	})
	s.AddTool(mcp.NewTool("delete_thing",
		mcp.WithDescription("Deletes a thing after the user confirms."),
		mcp.WithString("id", mcp.Required()),
	), deleteThing)
	s.AddTool(mcp.NewTool("barrier", mcp.WithDescription("Waits until enough calls wait.")),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			rm.barrierMu.Lock()
			rm.barrierWaiting++
			if rm.barrierWaiting == rm.barrierN {
				close(rm.barrierOpen)
			}
			rm.barrierMu.Unlock()
			select {
			case <-rm.barrierOpen:
				return mcp.NewToolResultText("released"), nil
			case <-time.After(10 * time.Second):
				return mcp.NewToolResultError("the calls did not run concurrently"), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
	s.AddTool(mcp.NewTool("slow", mcp.WithDescription("Waits until cancelled.")),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			select {
			case <-ctx.Done():
				rm.slowCancelled <- struct{}{}
				return nil, ctx.Err()
			case <-time.After(10 * time.Second):
				return mcp.NewToolResultText("not cancelled"), nil
			}
		})
	h := server.NewStreamableHTTPServer(s, append([]server.StreamableHTTPOption{
		server.WithEndpointPath("/mcp"), server.WithStateLess(true),
	}, opts...)...)
	mux := http.NewServeMux()
	mux.Handle("/mcp", rm.auth(h))
	rm.srv = httptest.NewServer(mux)
	t.Cleanup(rm.srv.Close)
	return rm
}

// url is the remote's /mcp endpoint.
func (rm *remote) url() string { return rm.srv.URL + "/mcp" }

// requests returns what the remote has seen so far.
func (rm *remote) requests() []seenRequest {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	return append([]seenRequest(nil), rm.seen...)
}

// auth checks the bearer token as mcp-keys does: 401 without a known one,
// 403 insufficient_scope for a read-only token calling delete_thing, 429 for
// the rate-limited token's tool calls.
func (rm *remote) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var msg struct {
			Method string          `json:"method"`
			ID     json.RawMessage `json:"id"`
			Params struct {
				Name string `json:"name"`
			} `json:"params"`
		}
		_ = json.Unmarshal(body, &msg)
		rm.mu.Lock()
		rm.seen = append(rm.seen, seenRequest{Method: r.Method, RPC: msg.Method, Header: r.Header.Clone(),
			IsReply: msg.Method == "" && len(msg.ID) > 0})
		rm.mu.Unlock()

		metadata := `resource_metadata="` + rm.srv.URL + `/.well-known/oauth-protected-resource/mcp"`
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok:
			w.Header().Set("WWW-Authenticate", "Bearer "+metadata)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		case tok != goodToken && tok != readOnlyToken && tok != limitedToken:
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", `+metadata)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		case tok == readOnlyToken && msg.Method == "tools/call" && msg.Params.Name == "delete_thing":
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="keys:write", `+metadata)
			http.Error(w, "forbidden", http.StatusForbidden)
		case tok == limitedToken && msg.Method == "tools/call":
			w.Header().Set("Retry-After", "7")
			http.Error(w, "too many requests", http.StatusTooManyRequests)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// deleteThing asks the user to confirm with the multi round-trip builder,
// which serves both protocol eras (mcp-go-notes §1.8).
func deleteThing(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	id := req.GetString("id", "")
	if answer := server.ElicitationResponse(req.Params.InputResponses, "confirm"); answer != nil {
		if answer.Action != mcp.ElicitationResponseActionAccept {
			return mcp.NewToolResultText("cancelled by user"), nil
		}
		content, _ := answer.Content.(map[string]any)
		if ok, _ := content["confirm"].(bool); !ok {
			return mcp.NewToolResultText("not confirmed"), nil
		}
		return mcp.NewToolResultText("deleted " + id), nil
	}
	return server.NewInputRequestBuilder("id="+id).Elicit("confirm", mcp.ElicitationParams{
		Mode:    mcp.ElicitationModeForm,
		Message: "Delete " + id + "?",
		RequestedSchema: map[string]any{
			"type":       "object",
			"properties": map[string]any{"confirm": map[string]any{"type": "boolean"}},
			"required":   []string{"confirm"},
		},
	}).ToolResult(), nil
}

// elicitor answers elicitations with a fixed action and records them.
type elicitor struct {
	action mcp.ElicitationResponseAction
	mu     sync.Mutex
	asked  []string
}

func (e *elicitor) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	e.mu.Lock()
	e.asked = append(e.asked, req.Params.Message)
	e.mu.Unlock()
	res := &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: e.action}}
	if e.action == mcp.ElicitationResponseActionAccept {
		res.Content = map[string]any{"confirm": true}
	}
	return res, nil
}

func (e *elicitor) questions() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.asked...)
}

// bridged is a bridge run over in-memory pipes, with everything it writes
// to stdout and to its logger captured.
type bridged struct {
	stdin  *io.PipeWriter // the client's end of the bridge's stdin
	stdout *io.PipeReader // the client's end of the bridge's stdout
	out    *syncBuffer    // a copy of stdout
	logs   *syncBuffer
	done   chan error
	outW   *io.PipeWriter
	cancel context.CancelFunc // cancels Run's context
}

// startBridge runs the bridge against url with token. At cleanup it checks
// that no token reached stdout or the logs.
func startBridge(t *testing.T, url, token string) *bridged {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	b := &bridged{stdin: inW, stdout: outR, out: &syncBuffer{}, logs: &syncBuffer{}, done: make(chan error, 1), outW: outW}
	logger := zerolog.New(b.logs).Level(zerolog.DebugLevel)
	cfg := Config{URL: url, Token: keysclient.Secret(token), DrainTimeout: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	go func() {
		err := Run(ctx, cfg, inR, io.MultiWriter(b.out, outW), logger)
		_ = outW.Close()
		b.done <- err
	}()
	t.Cleanup(func() {
		_ = inW.Close()
		go func() { _, _ = io.Copy(io.Discard, outR) }() // what no test read
		select {
		case err := <-b.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Run did not return after stdin ended")
		}
		cancel()
		_ = outR.Close()
		_ = inR.Close()
		assertNoToken(t, "stdout", b.out.String())
		assertNoToken(t, "logs", b.logs.String())
	})
	return b
}

// assertNoToken fails if s holds any test token.
func assertNoToken(t *testing.T, where, s string) {
	t.Helper()
	for _, tok := range allTokens {
		if strings.Contains(s, tok) {
			t.Errorf("%s holds a caller token", where)
		}
	}
}

// newClient connects an mcp-go stdio client to the bridge.
func (b *bridged) newClient(t *testing.T, opts ...client.ClientOption) *client.Client {
	t.Helper()
	c := client.NewClient(transport.NewIO(b.stdout, b.stdin, io.NopCloser(strings.NewReader(""))), opts...)
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("client start: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// initialize runs the handshake at version ("" = the newest, 2026-07-28).
func initialize(ctx context.Context, c *client.Client, version string) (*mcp.InitializeResult, error) {
	var req mcp.InitializeRequest
	req.Params.ProtocolVersion = version
	req.Params.ClientInfo = mcp.Implementation{Name: "bridge-test", Version: "0"}
	return c.Initialize(ctx, req)
}

// callTool calls a tool and returns its first text and isError.
func callTool(ctx context.Context, c *client.Client, name string, args map[string]any) (string, bool, error) {
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return "", false, err
	}
	if len(res.Content) == 0 {
		return "", res.IsError, errors.New("no content")
	}
	return mcp.GetTextFromContent(res.Content[0]), res.IsError, nil
}

// rawLines reads the bridge's stdout line by line (for tests that speak raw
// JSON-RPC instead of using the mcp-go client).
type rawLines struct {
	sc *bufio.Scanner
}

func (b *bridged) raw() *rawLines {
	sc := bufio.NewScanner(b.stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 32<<20)
	return &rawLines{sc: sc}
}

// answer returns the next stdout line that has an id, skipping
// notifications.
func (l *rawLines) answer(t *testing.T) map[string]any {
	t.Helper()
	for {
		m := l.next(t)
		if _, ok := m["id"]; ok {
			return m
		}
	}
}

// next returns the next stdout line decoded, failing the test at the end of
// stdout.
func (l *rawLines) next(t *testing.T) map[string]any {
	t.Helper()
	if !l.sc.Scan() {
		t.Fatalf("stdout ended: %v", l.sc.Err())
	}
	var m map[string]any
	if err := json.Unmarshal(l.sc.Bytes(), &m); err != nil {
		t.Fatalf("stdout line is not JSON: %v", err)
	}
	return m
}

// send writes one line to the bridge's stdin.
func (b *bridged) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(b.stdin, line+"\n"); err != nil {
		t.Fatalf("write stdin: %v", err)
	}
}

// errorOf returns the code and message of a JSON-RPC error response.
func errorOf(t *testing.T, m map[string]any) (int, string) {
	t.Helper()
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("not an error response: %v", m)
	}
	code, _ := e["code"].(float64)
	msg, _ := e["message"].(string)
	return int(code), msg
}

// rpcRequest is a raw JSON-RPC request line.
func rpcRequest(id int, method string, params any) string {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	return string(b)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("must: %v", err))
	}
	return v
}

// topMethods returns the method of every stdout line that has one.
func topMethods(t *testing.T, out string) []string {
	t.Helper()
	var methods []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m struct {
			Method string `json:"method"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %q", line)
		}
		if m.Method != "" {
			methods = append(methods, m.Method)
		}
	}
	return methods
}

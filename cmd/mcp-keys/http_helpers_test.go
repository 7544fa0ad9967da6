package main

// Helpers for the remote-mode tests (http_test.go, connect_test.go,
// otheruid_linux_test.go): the built binary serving Streamable HTTP, an
// upstream sandbox in the test process (so that a test can inject faults
// and look at what reached the upstream), static caller tokens made with
// `caller add`, mcp-go clients over HTTP and over `connect`'s stdio, raw
// JSON-RPC POSTs and the audit log. No helper ever logs a token or a key.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// The tools by scope, as design.md lists them.
var (
	readTools  = []string{"check_policy", "list_keys", "list_tags"}
	writeTools = []string{"create_scoped_key", "revoke_key", "rotate_key"}
)

// freeAddr returns a loopback address with a port that was free a moment
// ago (startHTTPServer retries when another process took it meanwhile).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// startUpstream serves the API emulator from the test process on loopback
// and returns it with the two variables that point the server at it.
func startUpstream(t *testing.T) (*sandbox.Server, []string) {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Options{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return sb, []string{"SUPERMEMORY_BASE_URL=" + sb.URL, "SUPERMEMORY_API_KEY=" + sb.Sandbox.OperatorKey()}
}

// httpServer is the binary serving remote mode.
type httpServer struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *safeBuffer
	done   chan error
	// base is http://ADDR; url is the MCP endpoint, base+"/mcp".
	base, url string
}

// startHTTPServer starts `serve --http ADDR` on a free loopback port and
// waits for /healthz. prog is the program up to the binary: {binary}, or
// setpriv, its flags and a copy of the binary. It retries on another port
// when the chosen one was taken meanwhile.
func startHTTPServer(t *testing.T, env []string, prog []string, args ...string) *httpServer {
	t.Helper()
	for attempt := 0; ; attempt++ {
		s, err := tryStartHTTPServer(t, env, freeAddr(t), prog, args)
		if err == nil {
			return s
		}
		if attempt == 2 || !strings.Contains(s.stderr.String(), "address already in use") {
			t.Fatalf("server did not start: %v; stderr:\n%s", err, s.stderr.String())
		}
	}
}

func tryStartHTTPServer(t *testing.T, env []string, addr string, prog, args []string) (*httpServer, error) {
	t.Helper()
	argv := append(append(slices.Clone(prog), "serve", "--http", addr), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	// The tests reach a server on every interface through loopback (a
	// Host of 0.0.0.0 would be refused as DNS rebinding).
	local := strings.Replace(addr, "0.0.0.0:", "127.0.0.1:", 1)
	s := &httpServer{t: t, cmd: cmd, stderr: &safeBuffer{}, done: make(chan error, 1), base: "http://" + local, url: "http://" + local + "/mcp"}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		err := <-s.done
		s.done <- err
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			return s, fmt.Errorf("exited before serving: %v", err)
		default:
		}
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && string(body) == "ok\n" {
				return s, nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return s, errors.New("/healthz did not answer within 20 s")
}

// stop sends SIGTERM, waits (at most 30 s) and returns the exit code and
// the server's stderr.
func (s *httpServer) stop(t *testing.T) (int, string) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return s.wait(30 * time.Second), s.stderr.String()
}

// wait waits for the server to exit and returns its exit code.
func (s *httpServer) wait(timeout time.Duration) int {
	s.t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			s.t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(timeout):
		s.t.Fatalf("server did not exit within %v", timeout)
		return -1
	}
}

// addCaller runs `caller add NAME --scopes SCOPES` with prog (as for
// startHTTPServer) and returns the token it printed. The token is checked
// for shape and for not being on stderr, never shown.
func addCaller(t *testing.T, env []string, prog []string, name, scopes string) string {
	t.Helper()
	argv := append(slices.Clone(prog), "caller", "add", name, "--scopes", scopes)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("caller add %s: %v; stderr: %s", name, err, errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	token := lines[0]
	if len(lines) != 1 || !strings.HasPrefix(token, "mcpk_") || len(token) < 40 || strings.ContainsAny(token, " \t") {
		t.Fatalf("caller add %s: stdout is not one token line (%d lines, first line %d bytes)", name, len(lines), len(token))
	}
	if strings.Contains(errb.String(), token) {
		t.Fatalf("caller add %s: the token is on stderr too", name)
	}
	return token
}

// initRequest is an initialize request; version "" lets the client choose.
func initRequest(version string) mcp.InitializeRequest {
	var req mcp.InitializeRequest
	req.Params.ProtocolVersion = version
	req.Params.ClientInfo = mcp.Implementation{Name: "mcp-keys-e2e", Version: "0"}
	return req
}

// httpClient is an initialized mcp-go Streamable HTTP client sending token
// as its bearer token.
func httpClient(t *testing.T, url, token, version string) *client.Client {
	t.Helper()
	c, err := client.NewStreamableHttpClient(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start client: %v", err)
	}
	if _, err := c.Initialize(ctx, initRequest(version)); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return c
}

// toolNames lists the tools the client sees, sorted.
func toolNames(t *testing.T, c *client.Client) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// callTool calls a tool and returns the result or the protocol error.
func callTool(c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	return c.CallTool(ctx, req)
}

// mustCall calls a tool that must succeed (no protocol error, no isError)
// and returns its structured content.
func mustCall(t *testing.T, c *client.Client, name string, args map[string]any) map[string]any {
	t.Helper()
	res, err := callTool(c, name, args)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("%s: isError: %s", name, resultText(res))
	}
	return structured(t, name, res)
}

// structured decodes a result's structured content into a map.
func structured(t *testing.T, name string, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatalf("%s: structured content: %v", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		t.Fatalf("%s: no structured content object (%s)", name, raw)
	}
	return m
}

// resultText joins the text blocks of a result. Callers must not log it
// when it may hold a minted key.
func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// rawPost POSTs one JSON-RPC message to url with the given Authorization
// header value ("" for none) and returns the status, headers and body.
func rawPost(t *testing.T, url, authorization, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, string(b)
}

// toolsCallBody is a JSON-RPC tools/call message.
func toolsCallBody(name string, args map[string]any) string {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": map[string]any{"name": name, "arguments": args}})
	return string(b)
}

// getJSON GETs url and decodes a JSON object.
func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// getText GETs url and returns the status and body.
func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// readAudit reads the audit log's JSON lines.
func readAudit(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("audit line is not JSON (%d bytes)", len(sc.Bytes()))
		}
		out = append(out, rec)
	}
	return out
}

// auditCallers returns the callers of the audit records of an event
// ("create", "create_result", ...).
func auditCallers(records []map[string]any, event string) []string {
	var out []string
	for _, r := range records {
		if r["event"] == event {
			c, _ := r["caller"].(string)
			out = append(out, c)
		}
	}
	return out
}

// noSecrets fails the test when text holds any of the secrets; it says
// which (by index and length), never the secret itself.
func noSecrets(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for i, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s holds secret #%d (%d bytes)", where, i, len(s))
		}
	}
}

// writeFile writes a file with mode perm (0600 for secrets).
func writeFile(t *testing.T, dir, name, body string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // umask
		t.Fatal(err)
	}
	return path
}

// connectSession is `mcp-keys connect URL` driven by an mcp-go client over
// its stdio.
type connectSession struct {
	c      *client.Client
	cmd    *exec.Cmd
	stderr *safeBuffer
	done   chan error
}

// startConnect starts `connect url` with prog (as for startHTTPServer) and
// env, and returns a started (not initialized) mcp-go client on its stdio.
func startConnect(t *testing.T, env []string, prog []string, url string) *connectSession {
	t.Helper()
	argv := append(slices.Clone(prog), "connect", url)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &connectSession{cmd: cmd, stderr: &safeBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	s.c = client.NewClient(transport.NewIO(stdout, stdin, io.NopCloser(strings.NewReader(""))))
	t.Cleanup(func() {
		_ = s.c.Close()
		_ = cmd.Process.Kill()
		err := <-s.done
		s.done <- err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.c.Start(ctx); err != nil {
		t.Fatalf("start stdio client: %v", err)
	}
	return s
}

// initialize performs the handshake through connect.
func (s *connectSession) initialize(version string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.c.Initialize(ctx, initRequest(version))
	return err
}

package main

// A real MCP client: the official TypeScript SDK (e2e/ts, pinned by its
// lockfile) drives the binary that TestMain built, over stdio (e2e.mjs) and
// in remote mode (e2e_http.mjs: Streamable HTTP with a bearer token, and
// `mcp-keys connect`). The tests skip when node or e2e/ts/node_modules is
// missing, unless MCP_KEYS_REQUIRE_E2E=1 (as in .ci/run, the test command),
// where a missing client is a failure.

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// e2eDir is the TypeScript end-to-end package, relative to this package.
const e2eDir = "../../e2e/ts"

// e2ePolicy is the remote server's policy: the tags e2e/ts/lib.mjs mints
// for, and team:search (which it expects to be refused) not among them.
const e2ePolicy = `version: 1
tags:
  allow: ["proj-*", "user_*", "demo-project"]
  deny: ["proj-prod*"]
  allow_new: true
`

// requireNode returns the node binary, or skips (fails with
// MCP_KEYS_REQUIRE_E2E=1) when it or e2e/ts/node_modules is missing.
func requireNode(t *testing.T) string {
	t.Helper()
	required := os.Getenv("MCP_KEYS_REQUIRE_E2E") == "1"
	unavailable := func(format string, args ...any) {
		t.Helper()
		if required {
			t.Fatalf("MCP_KEYS_REQUIRE_E2E=1 but "+format, args...)
		}
		t.Skipf(format+" (set MCP_KEYS_REQUIRE_E2E=1 to make this a failure)", args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable("node is not installed: the TypeScript SDK end-to-end test cannot run")
	}
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		unavailable("%s/node_modules is missing: run `npm ci` in e2e/ts", e2eDir)
	}
	return node
}

// runNode runs a script of e2e/ts and returns its summary, failing unless
// it exits 0 with a line starting "e2e: ok:". No secret in secrets may
// appear in its output (and none is shown if one does).
func runNode(t *testing.T, node, script string, env []string, secrets ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = e2eDir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	for _, s := range secrets {
		if bytes.Contains(out, []byte(s)) {
			t.Fatalf("node %s printed a caller token (output withheld)", script)
		}
	}
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	summary := strings.TrimSpace(string(out))
	if !strings.HasPrefix(summary, "e2e: ok:") {
		t.Fatalf("node %s exited 0 without its summary line:\n%s", script, out)
	}
	return summary
}

// TestTypeScriptSDKE2EStdio: the SDK client drives `serve --sandbox` over stdio.
func TestTypeScriptSDKE2EStdio(t *testing.T) {
	node := requireNode(t)
	t.Log(runNode(t, node, "e2e.mjs", baseEnv("MCP_KEYS_BIN="+binary)))
}

// TestTypeScriptSDKE2EHTTP: the SDK client drives `serve --http --sandbox`
// over Streamable HTTP with static caller tokens made by `caller add`, and
// through `mcp-keys connect` over stdio.
func TestTypeScriptSDKE2EHTTP(t *testing.T) {
	node := requireNode(t)
	dir := t.TempDir()
	callersFile := filepath.Join(dir, "callers")
	env := baseEnv("HOME="+dir, "MCP_KEYS_CALLERS_FILE="+callersFile, "MCP_KEYS_AUDIT_LOG="+filepath.Join(dir, "audit.jsonl"))

	writer := addCaller(t, env, filepath.Join(dir, "writer.token"), "e2e", "keys:read,keys:write")
	reader := addCaller(t, env, filepath.Join(dir, "reader.token"), "e2e-reader", "keys:read")
	srv := startHTTPServer(t, env, "--sandbox", "--policy", writePolicy(t, e2ePolicy))

	summary := runNode(t, node, "e2e_http.mjs", baseEnv(
		"MCP_KEYS_BIN="+binary,
		"MCP_KEYS_URL="+srv.url,
		"MCP_KEYS_TOKEN_FILE="+writer.file,
		"MCP_KEYS_E2E_READER_TOKEN_FILE="+reader.file,
	), writer.token, reader.token)

	code, stderr := srv.stop(t)
	for _, tok := range []string{writer.token, reader.token} {
		if strings.Contains(stderr, tok) {
			t.Fatal("a caller token appears on the server's stderr (withheld)")
		}
	}
	if code != 0 {
		t.Fatalf("serve --http exited %d after SIGTERM; stderr:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, `"caller":"token:e2e"`) || !strings.Contains(stderr, `"message":"server stopped"`) {
		t.Fatalf("the server's log does not name the caller token:e2e or its stop:\n%s", stderr)
	}
	t.Log(summary)
}

// callerToken is a static caller token and the 0600 file holding it.
type callerToken struct {
	token string
	file  string
}

// addCaller runs `mcp-keys caller add NAME --scopes SCOPES` and keeps the
// token it prints once in a 0600 file.
func addCaller(t *testing.T, env []string, file, name, scopes string) callerToken {
	t.Helper()
	out, stderr, code := runCmd(t, env, "", "caller", "add", name, "--scopes", scopes)
	token := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(token, "mcpk_") || strings.Contains(token, "\n") {
		t.Fatalf("caller add %s: exit %d, stdout is not one token; stderr:\n%s", name, code, stderr)
	}
	if strings.Contains(stderr, token) {
		t.Fatal("caller add printed the token on stderr (withheld)")
	}
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return callerToken{token: token, file: file}
}

// httpServer is `mcp-keys serve --http` on a loopback port.
type httpServer struct {
	cmd    *exec.Cmd
	url    string
	stderr *safeBuffer
	done   chan error
}

// startHTTPServer starts `serve --http 127.0.0.1:PORT args...` on a free
// port and waits (at most 15 s) until /healthz answers. A port taken
// between choosing and binding it is retried, three times at most.
func startHTTPServer(t *testing.T, env []string, args ...string) *httpServer {
	t.Helper()
	var lastErr error
	for range 3 {
		addr := freeLoopbackAddr(t)
		s := &httpServer{url: "http://" + addr + "/mcp", stderr: &safeBuffer{}, done: make(chan error, 1)}
		s.cmd = exec.Command(binary, append([]string{"serve", "--http", addr}, args...)...)
		s.cmd.Env = env
		s.cmd.Stderr = s.stderr
		if err := s.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { s.done <- s.cmd.Wait() }()
		if lastErr = s.waitHealthy("http://"+addr+"/healthz", 15*time.Second); lastErr == nil {
			t.Cleanup(func() {
				_ = s.cmd.Process.Kill()
				<-s.done
			})
			return s
		}
		_ = s.cmd.Process.Kill()
		<-s.done
		if !strings.Contains(s.stderr.String(), "address already in use") {
			break
		}
	}
	t.Fatalf("serve --http did not become healthy: %v", lastErr)
	return nil
}

// freeLoopbackAddr is a 127.0.0.1 address whose port was free a moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitHealthy polls healthz every 50 ms until it answers 200 "ok", the
// process exits, or timeout passes.
func (s *httpServer) waitHealthy(healthz string, timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("the server exited (%v); stderr:\n%s", err, s.stderr.String())
		default:
		}
		if res, err := c.Get(healthz); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer from %s within %s; stderr:\n%s", healthz, timeout, s.stderr.String())
}

// stop sends SIGTERM and returns the exit code (-1 if killed after 30 s)
// and the stderr.
func (s *httpServer) stop(t *testing.T) (int, string) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		return -1, s.stderr.String()
	}
	return s.cmd.ProcessState.ExitCode(), s.stderr.String()
}

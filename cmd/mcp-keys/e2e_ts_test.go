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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

	writer := callerTokenFile(t, filepath.Join(dir, "writer.token"), addCaller(t, env, []string{binary}, "e2e", "keys:read,keys:write"))
	reader := callerTokenFile(t, filepath.Join(dir, "reader.token"), addCaller(t, env, []string{binary}, "e2e-reader", "keys:read"))
	srv := startHTTPServer(t, env, []string{binary}, "--sandbox", "--policy", writePolicy(t, e2ePolicy))

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

// callerTokenFile keeps a caller token in a 0600 file.
func callerTokenFile(t *testing.T, file, token string) callerToken {
	t.Helper()
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return callerToken{token: token, file: file}
}

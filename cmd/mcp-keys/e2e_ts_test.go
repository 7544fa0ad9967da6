package main

// A real MCP client: the official TypeScript SDK (e2e/ts, pinned by its
// lockfile) drives the binary that TestMain built. The test skips when node
// or e2e/ts/node_modules is missing, unless MCP_KEYS_REQUIRE_E2E=1 (as in
// .ci/run, the test command), where a missing client is a failure.

import (
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

func TestTypeScriptSDK(t *testing.T) {
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

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e.mjs")
	cmd.Dir = e2eDir
	cmd.Env = append(baseEnv(), "MCP_KEYS_BIN="+binary)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node e2e.mjs: %v\n%s", err, out)
	}
	summary := strings.TrimSpace(string(out))
	if !strings.HasPrefix(summary, "e2e: ok:") {
		t.Fatalf("node e2e.mjs exited 0 without its summary line:\n%s", out)
	}
	t.Log(summary)
}

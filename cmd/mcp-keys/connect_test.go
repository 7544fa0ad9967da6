package main

// `mcp-keys connect URL` driven over its stdio by mcp-go's client, against
// the binary serving remote mode: the relay works for a good token, and a
// refused token or a missing scope comes back as an error that says what to
// do, without the token ever reaching connect's stderr.

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestConnectRelaysToTheHTTPServer(t *testing.T) {
	dir := t.TempDir()
	callersFile := filepath.Join(dir, "callers")
	cenv := baseEnv("MCP_KEYS_CALLERS_FILE=" + callersFile)
	alice := addCaller(t, cenv, []string{binary}, "alice", "keys:read,keys:write")
	reader := addCaller(t, cenv, []string{binary}, "reader", "keys:read")
	sb, upstream := startUpstream(t)
	s := startHTTPServer(t, baseEnv(append(upstream, "MCP_KEYS_CALLERS_FILE="+callersFile,
		"MCP_KEYS_POLICY="+writePolicy(t, designPolicy), "MCP_KEYS_AUDIT_LOG="+filepath.Join(dir, "audit.jsonl"))...), []string{binary})

	// connect's environment holds the caller's token only, no operator
	// key; debug logging, so that its stderr says as much as it can.
	connectEnv := func(token string) []string {
		return baseEnv("MCP_KEYS_TOKEN_FILE="+writeFile(t, t.TempDir(), "token", token+"\n", 0o600), "MCP_KEYS_LOG_LEVEL=debug")
	}
	wrong := "mcpk_" + strings.Repeat("C", len(alice)-len("mcpk_"))
	secrets := []string{alice, reader, wrong, sb.Sandbox.OperatorKey()}

	t.Run("good token", func(t *testing.T) {
		c := startConnect(t, connectEnv(alice), []string{binary}, s.url)
		if err := c.initialize("2025-11-25"); err != nil {
			t.Fatalf("initialize through connect: %v", err)
		}
		if got, want := toolNames(t, c.c), slices.Sorted(slices.Values(append(slices.Clone(readTools), writeTools...))); !slices.Equal(got, want) {
			t.Errorf("tools through connect: %v, want %v", got, want)
		}
		if check := mustCall(t, c.c, "check_policy", map[string]any{"tag": "proj-search"}); check["allowed"] != true {
			t.Errorf("check_policy through connect: %v", check)
		}
		before := sb.Sandbox.KeyCount()
		if created := mustCall(t, c.c, "create_scoped_key", map[string]any{"tag": "proj-connect"}); created["tag"] != "proj-connect" {
			t.Errorf("create through connect: tag %v", created["tag"])
		}
		if n := sb.Sandbox.KeyCount(); n != before+1 {
			t.Errorf("upstream keys %d → %d, want one more", before, n)
		}
		noSecrets(t, "connect's stderr", c.stderr.String(), secrets...)
	})

	t.Run("modern protocol", func(t *testing.T) {
		c := startConnect(t, connectEnv(reader), []string{binary}, s.url)
		if err := c.initialize(""); err != nil {
			t.Fatalf("initialize through connect: %v", err)
		}
		if got := toolNames(t, c.c); !slices.Equal(got, readTools) {
			t.Errorf("reader's tools through connect: %v, want %v", got, readTools)
		}
		// A call beyond the token's scope: the 403 challenge becomes an
		// isError result (the bridge's contract for tools/call) that names
		// the scope and how to get it.
		before := sb.Sandbox.KeyCount()
		res, err := callTool(c.c, "create_scoped_key", map[string]any{"tag": "proj-connect"})
		if err != nil {
			t.Fatalf("reader's create through connect: protocol error %v", err)
		}
		text := resultText(res)
		if !res.IsError || !strings.Contains(text, "keys:write") || !strings.Contains(text, "--scopes") || !strings.Contains(text, "403") {
			t.Errorf("reader's create through connect: isError %v, %q; want an isError result naming 403, keys:write and --scopes", res.IsError, text)
		}
		if n := sb.Sandbox.KeyCount(); n != before {
			t.Errorf("upstream keys %d → %d after a refused create", before, n)
		}
		noSecrets(t, "connect's stderr", c.stderr.String(), secrets...)
	})

	t.Run("refused token", func(t *testing.T) {
		c := startConnect(t, connectEnv(wrong), []string{binary}, s.url)
		err := c.initialize("2025-11-25")
		if err == nil {
			t.Fatal("initialize with a wrong token succeeded")
		}
		for _, want := range []string{"401", "MCP_KEYS_TOKEN_FILE", "mcp-keys caller add"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not say %q: %v", want, err)
			}
		}
		noSecrets(t, "the error", err.Error(), secrets...)
		if !strings.Contains(c.stderr.String(), "relaying MCP") {
			t.Errorf("connect's stderr was not captured (%d bytes)", len(c.stderr.String()))
		}
		noSecrets(t, "connect's stderr", c.stderr.String(), secrets...)
	})
}

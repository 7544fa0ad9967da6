package main

// Leases in real time through the built binary: a key created with
// lease_minutes 1 through `serve --http` stops working upstream within
// 90 s of the create (the server's reaper runs every 30 s), and is not
// revoked before its lease ends; meanwhile a lease made through a stdio
// server on another audit log is left alone by the HTTP server and ended by
// `mcp-keys reap`. One real wait of about a minute serves both; the test
// runs in parallel with the others.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// upstreamEnabled reports whether the sandbox lists key id as enabled
// (asked through the API with the operator key, not through mcp-keys).
func upstreamEnabled(t *testing.T, api *client.Client, id string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ks, err := api.ListKeys(ctx)
	if err != nil {
		t.Fatalf("list keys upstream: %v", err)
	}
	for _, k := range ks {
		if k.ID == id {
			return k.Enabled
		}
	}
	t.Fatalf("key %s is not listed upstream", id)
	return false
}

func TestLeaseEndsInRealTime(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits about a minute for a lease to end")
	}
	dir := t.TempDir()
	callersFile := filepath.Join(dir, "callers")
	httpLog, stdioLog := filepath.Join(dir, "http-audit.jsonl"), filepath.Join(dir, "stdio-audit.jsonl")
	alice := addCaller(t, baseEnv("MCP_KEYS_CALLERS_FILE="+callersFile), []string{binary}, "alice", "keys:read,keys:write")
	sb, upstream := startUpstream(t)
	api, err := client.New(client.Config{BaseURL: sb.URL, APIKey: client.Secret(sb.Sandbox.OperatorKey())})
	if err != nil {
		t.Fatal(err)
	}
	pol := writePolicy(t, designPolicy)
	common := append(upstream, "MCP_KEYS_POLICY="+pol)

	// A lease through a stdio server, on its own audit log.
	stdioEnv := baseEnv(append(common, "MCP_KEYS_AUDIT_LOG="+stdioLog)...)
	s := startServe(t, stdioEnv)
	s.initialize("2025-11-25")
	resp := s.request("tools/call", map[string]any{"name": "create_scoped_key", "arguments": map[string]any{"tag": "proj-stdio", "lease_minutes": 1}})
	res, _ := resp["result"].(map[string]any)
	if res == nil || res["isError"] == true {
		t.Fatalf("stdio create with a lease: %v", resp["error"])
	}
	sc, _ := res["structuredContent"].(map[string]any)
	stdioID, _ := sc["id"].(string)
	stdioKey, _ := sc["key"].(string)
	if stdioID == "" || sc["lease_ends_at"] == nil {
		t.Fatalf("stdio create: no id or lease_ends_at")
	}
	s.stdin.Close()
	if code := s.wait(); code != 0 {
		t.Fatalf("stdio server exit %d", code)
	}
	// Before the lease ends, `reap` has nothing to do.
	out, stderr, code := runCmd(t, stdioEnv, "", "reap")
	if code != 0 || out != "reaped: 0 revoked, 0 already gone, 0 failed\n" || !upstreamEnabled(t, api, stdioID) {
		t.Fatalf("reap during the lease: exit %d, %q, %s", code, out, stderr)
	}

	// A lease through the HTTP server.
	httpEnv := baseEnv(append(common, "MCP_KEYS_AUDIT_LOG="+httpLog, "MCP_KEYS_CALLERS_FILE="+callersFile)...)
	srv := startHTTPServer(t, httpEnv, []string{binary})
	c := httpClient(t, srv.url, alice, "")
	start := time.Now()
	created := mustCall(t, c, "create_scoped_key", map[string]any{"tag": "proj-lease", "lease_minutes": 1})
	answered := time.Now()
	id, _ := created["id"].(string)
	httpKey, _ := created["key"].(string)
	ends, err := time.Parse(time.RFC3339, stringOf(created["lease_ends_at"]))
	if err != nil || id == "" {
		t.Fatalf("create: id %q, lease_ends_at %v (%v)", id, created["lease_ends_at"], err)
	}
	if d := ends.Sub(start); d < 58*time.Second || d > 61*time.Second {
		t.Errorf("lease_ends_at is %v after the create, want a minute", d)
	}
	list := mustCall(t, c, "list_keys", map[string]any{"tag": "proj-lease"})
	if !strings.Contains(stringOf(list), id) || !strings.Contains(stringOf(list), "lease_ends_at") {
		t.Errorf("list_keys does not show the lease")
	}

	// Poll the sandbox, not the server.
	var revokedAfter time.Duration
	for {
		if !upstreamEnabled(t, api, id) {
			revokedAfter = time.Since(start)
			break
		}
		if time.Since(answered) > 92*time.Second {
			t.Fatalf("the key is still enabled %v after the create (lease ended %v after it); server log:\n%s",
				time.Since(start).Round(time.Second), ends.Sub(start).Round(time.Second), srv.stderr.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("leased key revoked upstream %v after the create (lease end %v after it)", revokedAfter.Round(100*time.Millisecond), ends.Sub(start).Round(time.Second))
	if revokedAfter < ends.Sub(start)-time.Second {
		t.Errorf("revoked %v after the create, before its lease ended (%v)", revokedAfter, ends.Sub(start))
	}
	if revokedAfter > 90*time.Second+2*time.Second {
		t.Errorf("revoked %v after the create, want within 90 s", revokedAfter)
	}
	// The HTTP server reaps only its own store's leases.
	if !upstreamEnabled(t, api, stdioID) {
		t.Error("the HTTP server revoked a lease of another store")
	}

	// The server's audit log: the reaper's intent and result, caller system.
	var intent, result bool
	for _, r := range readAudit(t, httpLog) {
		if r["key_id"] == id && r["caller"] == "system" && r["reason"] == "lease_ended" {
			intent = intent || r["event"] == "revoke" && r["phase"] == "intent"
			result = result || r["event"] == "revoke_result" && r["outcome"] == "revoked"
		}
	}
	if !intent || !result {
		t.Errorf("audit: reaper intent %v, result %v", intent, result)
	}
	if list := mustCall(t, c, "list_keys", map[string]any{"tag": "proj-lease"}); strings.Contains(stringOf(list), id) {
		t.Error("list_keys still lists the reaped key as enabled")
	}
	if code, body := getText(t, srv.base+"/readyz"); code != 200 {
		t.Errorf("/readyz after the reap: %d %s", code, body)
	}

	// The stdio lease has ended too: `mcp-keys reap` ends it, once.
	revokes := sb.Sandbox.Count(sandbox.EndpointRevoke)
	out, stderr, code = runCmd(t, stdioEnv, "", "reap")
	if code != 0 || out != "reaped: 1 revoked, 0 already gone, 0 failed\n" {
		t.Errorf("reap after the lease: exit %d, %q, %s", code, out, stderr)
	}
	if upstreamEnabled(t, api, stdioID) || sb.Sandbox.Count(sandbox.EndpointRevoke) != revokes+1 {
		t.Error("reap did not revoke the stdio lease's key, once")
	}
	if out, _, code := runCmd(t, stdioEnv, "", "reap"); code != 0 || out != "reaped: 0 revoked, 0 already gone, 0 failed\n" {
		t.Errorf("a second reap: exit %d, %q", code, out)
	}
	for _, r := range readAudit(t, stdioLog) {
		if r["key_id"] == stdioID && r["event"] == "revoke_result" && (r["caller"] != "system" || r["reason"] != "lease_ended" || r["outcome"] != "revoked") {
			t.Errorf("stdio log's reap record: %v", r)
		}
	}

	secrets := []string{alice, httpKey, stdioKey, sb.Sandbox.OperatorKey()}
	noSecrets(t, "the HTTP server's stderr", srv.stderr.String(), secrets...)
	noSecrets(t, "reap's output", out+stderr, secrets...)
	for _, p := range []string{httpLog, stdioLog} {
		noSecrets(t, p, stringOf(readAudit(t, p)), secrets...)
	}
}

// stringOf is v printed, for searching a structured result.
func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

package main

// Least-privilege keys through the built binary: `serve` over stdio, raw
// JSON-RPC, against a sandbox in the test process (so the test can inject
// a mint fault and read the sandbox's listing and sessions over HTTP with
// x-api-key, as Supermemory's own CLI sends a key).

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// leastPrivPolicy is the design's example with a read-only tag family.
const leastPrivPolicy = `version: 1
tags:
  allow: ["proj-*", "user_*", "team:*"]
  deny:  ["proj-prod*"]
  read_only: ["team:*"]
  allow_new: true
keys:
  name_prefix: "agent-"
  max_tags: 5
revoke:
  enabled: true
  only_prefixed: true
`

// apiGet makes a GET to the sandbox with the key in x-api-key and returns
// the status and decoded body.
func apiGet(t *testing.T, url, key string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return resp.StatusCode, out
}

// listedKey is one key of the sandbox's listing.
type listedKey struct {
	ID            string   `json:"id"`
	Enabled       bool     `json:"enabled"`
	ContainerTags []string `json:"containerTags"`
	Permission    string   `json:"permission"`
}

// upstreamKeys reads the sandbox's listing with the operator key sent as
// x-api-key.
func upstreamKeys(t *testing.T, sb *sandbox.Server) map[string]listedKey {
	t.Helper()
	code, body := apiGet(t, sb.URL+"/v3/auth/keys", sb.Sandbox.OperatorKey())
	if code != http.StatusOK {
		t.Fatalf("listing with x-api-key: %d", code)
	}
	raw, _ := json.Marshal(body["keys"])
	var keys []listedKey
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatalf("listing: %v", err)
	}
	out := make(map[string]listedKey, len(keys))
	for _, k := range keys {
		out[k.ID] = k
	}
	return out
}

func TestLeastPrivilegeOverStdio(t *testing.T) {
	sb, err := sandbox.Start(sandbox.Options{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	operator := sb.Sandbox.OperatorKey()
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	env := baseEnv("SUPERMEMORY_BASE_URL="+sb.URL, "SUPERMEMORY_API_KEY="+operator,
		"MCP_KEYS_POLICY="+writePolicy(t, leastPrivPolicy), "MCP_KEYS_AUDIT_LOG="+auditLog)

	// x-api-key with the operator key is accepted, as Bearer is.
	if code, body := apiGet(t, sb.URL+"/v3/session", operator); code != http.StatusOK || body["accessType"] != "full" {
		t.Fatalf("GET /v3/session with x-api-key: %d %v", code, body["accessType"])
	}
	if code, _ := apiGet(t, sb.URL+"/v3/session", "sm_org_sandbox_"+strings.Repeat("x", 40)); code != http.StatusUnauthorized {
		t.Errorf("GET /v3/session with an unknown x-api-key: %d, want 401", code)
	}

	s := startServe(t, env)
	s.initialize("2025-11-25")
	call := func(args map[string]any) map[string]any {
		t.Helper()
		resp := s.request("tools/call", map[string]any{"name": "create_scoped_key", "arguments": args})
		if resp["error"] != nil {
			t.Fatalf("protocol error %v; refusals must be isError results", resp["error"])
		}
		return resp["result"].(map[string]any)
	}
	textOf := func(r map[string]any) string {
		var b strings.Builder
		items, _ := r["content"].([]any)
		for _, c := range items {
			m, _ := c.(map[string]any)
			s, _ := m["text"].(string)
			b.WriteString(s)
		}
		return b.String()
	}
	var secrets []string

	t.Run("a multi-tag read key", func(t *testing.T) {
		r := call(map[string]any{"tags": []string{"proj-a", "user_b"}, "permission": "read"})
		if r["isError"] == true {
			t.Fatalf("refused: %s", textOf(r))
		}
		sc, _ := r["structuredContent"].(map[string]any)
		id, _ := sc["id"].(string)
		key, _ := sc["key"].(string)
		secrets = append(secrets, key)
		if fmt.Sprint(sc["tags"]) != "[proj-a user_b]" || sc["permission"] != "read" || id == "" || !strings.HasPrefix(key, "sm_") {
			t.Fatalf("created tags %v permission %v (id %q, key of %d bytes)", sc["tags"], sc["permission"], id, len(key))
		}
		// The upstream's own view: the listing and the new key's session.
		k, ok := upstreamKeys(t, sb)[id]
		if !ok || !k.Enabled || !slices.Equal(k.ContainerTags, []string{"proj-a", "user_b"}) || k.Permission != "read" {
			t.Errorf("the sandbox lists %+v (found %v)", k, ok)
		}
		code, session := apiGet(t, sb.URL+"/v3/session", key)
		scope, _ := session["scope"].(map[string]any)
		if code != http.StatusOK || session["accessType"] != "scoped" || scope["permission"] != "read" || fmt.Sprint(scope["tags"]) != "[proj-a user_b]" {
			t.Errorf("the new key's session with x-api-key: %d %v %v", code, session["accessType"], scope)
		}
	})

	t.Run("a read-only tag with write", func(t *testing.T) {
		before := sb.Sandbox.Count(sandbox.EndpointCreate)
		r := call(map[string]any{"tags": []string{"proj-a", "team:search"}, "permission": "write"})
		if txt := textOf(r); r["isError"] != true || !strings.Contains(txt, "tag_read_only") || !strings.Contains(txt, `"team:search"`) || !strings.Contains(txt, "permission read") {
			t.Errorf("want an isError naming tag_read_only: %v %s", r["isError"], txt)
		}
		if n := sb.Sandbox.Count(sandbox.EndpointCreate) - before; n != 0 {
			t.Errorf("a refused create sent %d requests upstream", n)
		}
	})

	t.Run("the API ignores the permission", func(t *testing.T) {
		before := upstreamKeys(t, sb)
		remove := sb.Sandbox.Inject(sandbox.Fault{Endpoint: sandbox.EndpointCreate, IgnorePermission: true})
		r := call(map[string]any{"tags": []string{"proj-c", "user_d"}, "permission": "read"})
		remove()
		txt := textOf(r)
		if r["isError"] != true || !strings.Contains(txt, "did not honour permission read") || !strings.Contains(txt, "nothing usable was created") {
			t.Errorf("want an isError saying the API did not honour permission read: %v %s", r["isError"], txt)
		}
		if strings.Contains(txt, "sm_org_") {
			t.Error("the refusal holds a secret-shaped string")
		}
		var minted []listedKey
		for id, k := range upstreamKeys(t, sb) {
			if _, ok := before[id]; !ok {
				minted = append(minted, k)
			}
		}
		if len(minted) != 1 || minted[0].Permission != "write" || minted[0].Enabled {
			t.Fatalf("the sandbox minted %+v; want one write key, revoked at once", minted)
		}
		var reason string
		for _, rec := range readAudit(t, auditLog) {
			if rec["event"] == "create_result" && rec["key_id"] == minted[0].ID {
				reason, _ = rec["reason"].(string)
			}
		}
		if !strings.Contains(reason, "did not honour permission read") || !strings.Contains(reason, "revoked again") {
			t.Errorf("audit create_result reason %q", reason)
		}
	})

	s.stdin.Close()
	if code := s.wait(); code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, s.stderr.String())
	}
	for _, sec := range append(secrets, operator) {
		if sec != "" && strings.Contains(s.stderr.String(), sec) {
			t.Error("a secret reached the server's stderr")
		}
	}
}

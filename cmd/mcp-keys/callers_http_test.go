package main

// Per-caller policy in remote mode, through the built binary over
// Streamable HTTP (design.md "Per-caller policy"): each caller mints only
// within its callers rule, limits are the stricter of the rule's and the top
// level's, quotas are per caller, revoke scope own and team, isolation of
// listings, refusals, the policy resource and the instructions, a caller
// that matches no rule, group matching with OAuth tokens, and the audit
// naming each caller.

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/remote/idptest"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// callersPolicy gives alice proj-a* (7 days at most, 2 keys an hour), bob
// proj-b* (the top level's limits), carol proj-a* with revoke scope team.
// dave has a token but no rule.
const callersPolicy = `version: 1
tags:
  allow: ["proj-*", "user_*", "team:search"]
  deny:  ["proj-prod*"]
  allow_new: true
keys:
  name_prefix: "agent-"
  default_expiry_days: 30
  max_expiry_days: 90
revoke:
  enabled: true
  only_prefixed: true
callers:
  - match: {token: alice}
    tags: {allow: ["proj-a*"]}
    keys: {max_expiry_days: 7}
    quota: {max_keys_per_hour: 2}
  - match: {token: bob}
    tags: {allow: ["proj-b*"]}
  - match: {token: carol}
    tags: {allow: ["proj-a*"]}
    revoke: {scope: team}
`

// Markers of bob's world that must never reach alice (or carol, or dave).
const (
	bobTagPrefix = "proj-b"
	bobKeyName   = "bobsecret"
)

// callText is everything a caller sees of a tool result: its text blocks
// and its structured content. It may hold a minted key: never log it
// whole.
func callText(res *mcp.CallToolResult) string {
	raw, _ := json.Marshal(res.StructuredContent)
	return resultText(res) + "\n" + string(raw)
}

// refused calls a tool that must answer isError (not a protocol error) and
// returns what the caller sees.
func refused(t *testing.T, c *client.Client, name string, args map[string]any) string {
	t.Helper()
	res, err := callTool(c, name, args)
	if err != nil {
		t.Fatalf("%s: protocol error %v, want an isError result", name, err)
	}
	text := callText(res)
	if !res.IsError {
		t.Fatalf("%s(%v) was not refused", name, args)
	}
	return text
}

// noneOf fails when text contains any of the words; text is a refusal or a
// listing (never a secret), so it is shown.
func noneOf(t *testing.T, where, text string, words ...string) {
	t.Helper()
	for _, w := range words {
		if strings.Contains(text, w) {
			t.Errorf("%s names %q:\n%s", where, w, text)
		}
	}
}

// listedKeys returns the ids and tags of a list_keys answer, and fails on
// a Full Access key in it.
func listedKeys(t *testing.T, who string, m map[string]any) (ids []string, tags []string) {
	t.Helper()
	list, _ := m["keys"].([]any)
	for _, it := range list {
		k, _ := it.(map[string]any)
		id, _ := k["id"].(string)
		ids = append(ids, id)
		if k["kind"] != "scoped" {
			t.Errorf("%s's list_keys shows a %v key (%v)", who, k["kind"], k["name"])
		}
		ts, _ := k["tags"].([]any)
		for _, tg := range ts {
			s, _ := tg.(string)
			tags = append(tags, s)
		}
	}
	slices.Sort(ids)
	return ids, tags
}

// listedTags returns the tags of a list_tags answer.
func listedTags(m map[string]any) []string {
	var out []string
	list, _ := m["tags"].([]any)
	for _, it := range list {
		tg, _ := it.(map[string]any)
		s, _ := tg["tag"].(string)
		out = append(out, s)
	}
	return out
}

// mint creates a key that must succeed and returns its id; the secret is
// checked for shape only.
func mint(t *testing.T, c *client.Client, args map[string]any) string {
	t.Helper()
	m := mustCall(t, c, "create_scoped_key", args)
	id, _ := m["id"].(string)
	key, _ := m["key"].(string)
	if id == "" || !strings.HasPrefix(key, "sm_") {
		t.Fatalf("create_scoped_key(%v): no id or key (id %q, key %d bytes)", args, id, len(key))
	}
	return id
}

// initialized starts an HTTP client and returns it with the initialize
// result (whose instructions the caller sees).
func initialized(t *testing.T, url, token string) (*client.Client, *mcp.InitializeResult) {
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
	res, err := c.Initialize(ctx, initRequest(""))
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return c, res
}

// readPolicyResource reads mcp-keys://policy as the client's caller.
func readPolicyResource(t *testing.T, c *client.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var req mcp.ReadResourceRequest
	req.Params.URI = "mcp-keys://policy"
	res, err := c.ReadResource(ctx, req)
	if err != nil {
		t.Fatalf("resources/read: %v", err)
	}
	var b strings.Builder
	for _, rc := range res.Contents {
		if tc, ok := rc.(mcp.TextResourceContents); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestHTTPPerCallerPolicy(t *testing.T) {
	dir := t.TempDir()
	callersFile := filepath.Join(dir, "callers")
	auditLog := filepath.Join(dir, "audit.jsonl")
	cenv := baseEnv("MCP_KEYS_CALLERS_FILE=" + callersFile)
	tokens := map[string]string{}
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		tokens[name] = addCaller(t, cenv, []string{binary}, name, "keys:read,keys:write")
	}
	sb, upstream := startUpstream(t)
	// Tags of both worlds, and keys the callers did not mint: a console
	// key on each side and a Full Access key.
	for _, tag := range []string{"proj-a-seed", "proj-b-seed", "proj-b-hidden"} {
		if err := sb.Sandbox.AddTag(tag, 1, 1); err != nil {
			t.Fatal(err)
		}
	}
	consoleA, _, err := sb.Sandbox.AddKey(sandbox.NewKey{Name: "agent-console-a", Tags: []string{"proj-a-seed"}, ExpiresAt: time.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sb.Sandbox.AddKey(sandbox.NewKey{Name: "agent-full"}); err != nil {
		t.Fatal(err)
	}
	env := baseEnv(append(upstream, "MCP_KEYS_CALLERS_FILE="+callersFile, "MCP_KEYS_POLICY="+writePolicy(t, callersPolicy), "MCP_KEYS_AUDIT_LOG="+auditLog)...)
	s := startHTTPServer(t, env, []string{binary})

	alice, aliceInit := initialized(t, s.url, tokens["alice"])
	bob := httpClient(t, s.url, tokens["bob"], "2025-11-25")
	carol := httpClient(t, s.url, tokens["carol"], "")
	dave := httpClient(t, s.url, tokens["dave"], "")
	// Words of bob's world that alice, carol and dave must never see.
	bobWords := []string{bobTagPrefix, bobKeyName, "bob", "callers[1]"}

	var aliceKeys []string
	var bobKey, carolKey string
	t.Run("each mints only within its rule", func(t *testing.T) {
		text := refused(t, alice, "create_scoped_key", map[string]any{"tag": "proj-b-x"})
		noneOf(t, "alice's refusal", text, "bob", "callers[1]")
		refused(t, bob, "create_scoped_key", map[string]any{"tag": "proj-a-x"})
		// The top level allows proj-search; neither rule does.
		refused(t, alice, "create_scoped_key", map[string]any{"tag": "proj-search"})
		// Both: the top level's deny still holds inside a rule's allow.
		refused(t, bob, "create_scoped_key", map[string]any{"tag": "proj-prod-b"})

		// The stricter limit: alice's rule caps expiry at 7 days, the top
		// level at 90.
		text = refused(t, alice, "create_scoped_key", map[string]any{"tag": "proj-a-x", "expires_in_days": 30})
		if !strings.Contains(text, "callers[0].keys.max_expiry_days") {
			t.Errorf("alice's 30-day refusal does not name her rule's limit:\n%s", text)
		}
		bobKey = mint(t, bob, map[string]any{"tag": "proj-b-hidden", "name": bobKeyName, "expires_in_days": 30})
		refused(t, bob, "create_scoped_key", map[string]any{"tag": "proj-b-x", "expires_in_days": 91})

		// Alice's default expiry is her rule's cap, not the top level's 30.
		created := mustCall(t, alice, "create_scoped_key", map[string]any{"tag": "proj-a-x"})
		if id, _ := created["id"].(string); id != "" {
			aliceKeys = append(aliceKeys, id)
		}
		exp, _ := created["expires_at"].(string)
		if at, err := time.Parse(time.RFC3339, exp); err != nil || at.After(time.Now().Add(7*24*time.Hour+time.Hour)) {
			t.Errorf("alice's key expires at %q, want within 7 days", exp)
		}
		aliceKeys = append(aliceKeys, mint(t, alice, map[string]any{"tag": "proj-a-y", "expires_in_days": 7}))
		carolKey = mint(t, carol, map[string]any{"tag": "proj-a-carol"})
	})
	if len(aliceKeys) != 2 || bobKey == "" || carolKey == "" {
		t.Fatalf("the mints failed: alice %d, bob %t, carol %t", len(aliceKeys), bobKey != "", carolKey != "")
	}
	slices.Sort(aliceKeys)

	t.Run("per-caller quota", func(t *testing.T) {
		creates := sb.Sandbox.Count(sandbox.EndpointCreate)
		text := refused(t, alice, "create_scoped_key", map[string]any{"tag": "proj-a-z", "expires_in_days": 1})
		if !strings.Contains(text, "callers[0].quota.max_keys_per_hour") {
			t.Errorf("alice's third create does not name her quota:\n%s", text)
		}
		noneOf(t, "alice's quota refusal", text, bobWords...)
		if n := sb.Sandbox.Count(sandbox.EndpointCreate); n != creates {
			t.Errorf("a create over quota reached the upstream (%d → %d)", creates, n)
		}
		// bob and carol count on their own.
		mint(t, bob, map[string]any{"tag": "proj-b-2", "name": bobKeyName + "-2"})
		mint(t, carol, map[string]any{"tag": "proj-a-carol2"})
	})

	t.Run("alice sees only her own", func(t *testing.T) {
		res, err := callTool(alice, "list_keys", map[string]any{"include_disabled": true, "limit": 500})
		if err != nil || res.IsError {
			t.Fatalf("list_keys: %v %v", err, res)
		}
		text := callText(res)
		ids, _ := listedKeys(t, "alice", structured(t, "list_keys", res))
		if !slices.Equal(ids, aliceKeys) {
			t.Errorf("alice's list_keys shows %v, want her keys %v", ids, aliceKeys)
		}
		noneOf(t, "alice's list_keys", text, append(bobWords, bobKey, carolKey, consoleA, "proj-a-carol", "agent-console-a", "agent-full", "ci-deploy")...)
		// Even asked for Full Access keys, or for bob's tag, she gets none.
		for _, args := range []map[string]any{{"kind": "full"}, {"tag": "proj-b-hidden"}} {
			m := mustCall(t, alice, "list_keys", args)
			if ids, _ := listedKeys(t, "alice", m); len(ids) != 0 {
				t.Errorf("list_keys(%v) shows alice %v", args, ids)
			}
		}

		res, err = callTool(alice, "list_tags", map[string]any{"limit": 500})
		if err != nil || res.IsError {
			t.Fatalf("list_tags: %v %v", err, res)
		}
		tags := listedTags(structured(t, "list_tags", res))
		if len(tags) == 0 {
			t.Error("alice's list_tags is empty")
		}
		for _, tag := range tags {
			if !strings.HasPrefix(tag, "proj-a") {
				t.Errorf("alice's list_tags shows %q", tag)
			}
		}
		noneOf(t, "alice's list_tags", callText(res), append(bobWords, "proj-search", "user_", "team:search", "demo-project")...)
	})

	t.Run("alice cannot touch bob's key", func(t *testing.T) {
		revokes := sb.Sandbox.Count(sandbox.EndpointRevoke)
		creates := sb.Sandbox.Count(sandbox.EndpointCreate)
		texts := map[string]string{
			"revoke_key": refused(t, alice, "revoke_key", map[string]any{"id": bobKey}),
			"rotate_key": refused(t, alice, "rotate_key", map[string]any{"id": bobKey}),
		}
		check := mustCall(t, alice, "check_policy", map[string]any{"action": "revoke", "id": bobKey})
		if check["allowed"] != false {
			t.Errorf("check_policy lets alice revoke bob's key: %v", check)
		}
		raw, _ := json.Marshal(check)
		texts["check_policy"] = string(raw)
		res, _ := callTool(alice, "check_policy", map[string]any{"action": "revoke", "id": bobKey})
		texts["check_policy text"] = resultText(res)
		for where, text := range texts {
			noneOf(t, "alice's "+where, text, bobWords...)
		}
		if n := sb.Sandbox.Count(sandbox.EndpointRevoke); n != revokes {
			t.Errorf("a refused revoke reached the upstream (%d → %d)", revokes, n)
		}
		if n := sb.Sandbox.Count(sandbox.EndpointCreate); n != creates {
			t.Errorf("a refused rotate reached the upstream (%d → %d)", creates, n)
		}
		// Nor the console key on her own tags, nor carol's (alice's scope
		// is own).
		for _, id := range []string{consoleA, carolKey} {
			noneOf(t, "alice's revoke", refused(t, alice, "revoke_key", map[string]any{"id": id}), "carol", "proj-a-carol", "agent-console-a")
		}
	})

	t.Run("bob sees only his own", func(t *testing.T) {
		m := mustCall(t, bob, "list_keys", map[string]any{"limit": 500})
		_, tags := listedKeys(t, "bob", m)
		if len(tags) == 0 {
			t.Error("bob's list_keys is empty")
		}
		for _, tag := range tags {
			if !strings.HasPrefix(tag, bobTagPrefix) {
				t.Errorf("bob's list_keys shows a key on %q", tag)
			}
		}
		noneOf(t, "bob's revoke", refused(t, bob, "revoke_key", map[string]any{"id": aliceKeys[0]}), "proj-a", "alice", "callers[0]")
	})

	t.Run("carol's team scope", func(t *testing.T) {
		res, err := callTool(carol, "list_keys", map[string]any{"limit": 500})
		if err != nil || res.IsError {
			t.Fatalf("list_keys: %v %v", err, res)
		}
		ids, tags := listedKeys(t, "carol", structured(t, "list_keys", res))
		for _, id := range append(slices.Clone(aliceKeys), carolKey) {
			if !slices.Contains(ids, id) {
				t.Errorf("carol's list_keys lacks %s (alice's or her own)", id)
			}
		}
		if slices.Contains(ids, consoleA) || slices.Contains(ids, bobKey) {
			t.Errorf("carol's list_keys shows a console key or bob's: %v", ids)
		}
		for _, tag := range tags {
			if !strings.HasPrefix(tag, "proj-a") {
				t.Errorf("carol's list_keys shows a key on %q", tag)
			}
		}
		noneOf(t, "carol's list_keys", callText(res), bobWords...)
		// Carol may not revoke a console key on her tags (not minted through
		// mcp-keys), nor bob's.
		refused(t, carol, "revoke_key", map[string]any{"id": consoleA})
		noneOf(t, "carol's revoke", refused(t, carol, "revoke_key", map[string]any{"id": bobKey}), bobWords...)
		// She can revoke alice's.
		if m := mustCall(t, carol, "revoke_key", map[string]any{"id": aliceKeys[0]}); m["revoked"] != true {
			t.Errorf("carol's revoke of alice's key: %v", m)
		}
		// Alice still cannot revoke carol's.
		refused(t, alice, "revoke_key", map[string]any{"id": carolKey})
	})

	t.Run("a caller matching no rule gets nothing", func(t *testing.T) {
		if got, want := toolNames(t, dave), slices.Sorted(slices.Values(append(slices.Clone(readTools), writeTools...))); !slices.Equal(got, want) {
			t.Errorf("dave sees tools %v, want %v", got, want)
		}
		tags := mustCall(t, dave, "list_tags", map[string]any{"limit": 500})
		if got := listedTags(tags); len(got) != 0 {
			t.Errorf("dave's list_tags shows %v", got)
		}
		keys := mustCall(t, dave, "list_keys", map[string]any{"include_disabled": true, "limit": 500})
		if ids, _ := listedKeys(t, "dave", keys); len(ids) != 0 {
			t.Errorf("dave's list_keys shows %v", ids)
		}
		creates := sb.Sandbox.Count(sandbox.EndpointCreate)
		revokes := sb.Sandbox.Count(sandbox.EndpointRevoke)
		for _, tag := range []string{"proj-a-d", "proj-b-d", "proj-d"} {
			refused(t, dave, "create_scoped_key", map[string]any{"tag": tag})
		}
		for _, id := range []string{aliceKeys[1], bobKey} {
			noneOf(t, "dave's revoke", refused(t, dave, "revoke_key", map[string]any{"id": id}), bobWords...)
			noneOf(t, "dave's rotate", refused(t, dave, "rotate_key", map[string]any{"id": id}), bobWords...)
		}
		if sb.Sandbox.Count(sandbox.EndpointCreate) != creates || sb.Sandbox.Count(sandbox.EndpointRevoke) != revokes {
			t.Error("a call of dave's reached a write endpoint")
		}
		res, err := callTool(dave, "check_policy", map[string]any{"tag": "proj-a-d"})
		if err != nil {
			t.Fatal(err)
		}
		text := callText(res)
		if !strings.Contains(text, `{token: "dave"}`) {
			t.Errorf("dave's check_policy does not name the rule he needs:\n%s", text)
		}
		noneOf(t, "dave's check_policy", text, append(bobWords, "alice", "carol", "proj-a*")...)
		noneOf(t, "dave's policy resource", readPolicyResource(t, dave), append(bobWords, "alice", "carol", "proj-a")...)
	})

	t.Run("policy resource and instructions", func(t *testing.T) {
		text := readPolicyResource(t, alice)
		if !strings.Contains(text, "proj-a*") {
			t.Errorf("alice's policy resource does not show her allow pattern:\n%s", text)
		}
		noneOf(t, "alice's policy resource", text, append(bobWords, "carol", "dave", "callers[2]", "team")...)
		noneOf(t, "the instructions", aliceInit.Instructions, "proj-", "user_", "team:search", "demo-project", "alice", "bob")
	})

	t.Run("audit names each caller", func(t *testing.T) {
		records := readAudit(t, auditLog)
		seen := map[string]bool{}
		for _, r := range records {
			caller, _ := r["caller"].(string)
			tag, _ := r["tag"].(string)
			if r["event"] != "create" || tag == "" {
				continue
			}
			seen[caller] = true
			if r["decision"] != "allowed" {
				continue
			}
			owner := map[string]string{"proj-a-x": "token:alice", "proj-a-y": "token:alice", "proj-b-hidden": "token:bob",
				"proj-b-2": "token:bob", "proj-a-carol": "token:carol", "proj-a-carol2": "token:carol"}[tag]
			if caller != owner {
				t.Errorf("the allowed create of %q names caller %q, want %q", tag, caller, owner)
			}
		}
		for _, c := range []string{"token:alice", "token:bob", "token:carol", "token:dave"} {
			if !seen[c] {
				t.Errorf("no create record names %s (seen %v)", c, seen)
			}
		}
		if got := auditCallers(records, "revoke_result"); !slices.Equal(got, []string{"token:carol"}) {
			t.Errorf("callers of revoke_result records = %v, want [token:carol]", got)
		}
		var secrets []string
		for _, tok := range tokens {
			secrets = append(secrets, tok)
		}
		data, err := os.ReadFile(auditLog)
		if err != nil {
			t.Fatal(err)
		}
		raw := string(data)
		noSecrets(t, "the audit log", raw, append(secrets, sb.Sandbox.OperatorKey())...)
		noSecrets(t, "the server's stderr", s.stderr.String(), secrets...)
	})
}

// groupsPolicy matches OAuth callers by group and by subject.
const groupsPolicy = `version: 1
tags:
  allow: ["proj-*"]
  allow_new: true
callers:
  - match: {group: "search-team"}
    tags: {allow: ["proj-search*"]}
    keys: {max_expiry_days: 3}
  - match: {sub: "agent-ops"}
    tags: {allow: ["proj-ops*"]}
`

func TestHTTPPerCallerPolicyGroups(t *testing.T) {
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit.jsonl")
	idp := idptest.New(t)
	_, upstream := startUpstream(t)
	env := baseEnv(append(upstream, "MCP_KEYS_OAUTH_ISSUER="+idp.Issuer(), "MCP_KEYS_POLICY="+writePolicy(t, groupsPolicy), "MCP_KEYS_AUDIT_LOG="+auditLog)...)
	s := startHTTPServer(t, env, []string{binary})

	token := func(sub string, groups ...string) string {
		claims := idp.Claims(s.url, sub, "keys:read", "keys:write")
		if groups != nil {
			claims["groups"] = groups
		}
		return idp.Token(t, claims)
	}
	member := httpClient(t, s.url, token("agent-1", "other", "search-team"), "")
	ops := httpClient(t, s.url, token("agent-ops"), "")
	outsider := httpClient(t, s.url, token("agent-2", "Search-Team"), "")

	searchKey := mint(t, member, map[string]any{"tag": "proj-search-x", "expires_in_days": 3})
	if text := refused(t, member, "create_scoped_key", map[string]any{"tag": "proj-search-x", "expires_in_days": 4}); !strings.Contains(text, "callers[0].keys.max_expiry_days") {
		t.Errorf("the group member's 4-day refusal does not name the rule's limit:\n%s", text)
	}
	noneOf(t, "the group member's refusal", refused(t, member, "create_scoped_key", map[string]any{"tag": "proj-ops-x"}), "agent-ops", "callers[1]")
	mint(t, ops, map[string]any{"tag": "proj-ops-x", "expires_in_days": 30})
	noneOf(t, "ops' refusal", refused(t, ops, "revoke_key", map[string]any{"id": searchKey}), "proj-search", "search-team")

	// Groups are compared exactly: "Search-Team" is not "search-team".
	refused(t, outsider, "create_scoped_key", map[string]any{"tag": "proj-search-y"})
	if ids, _ := listedKeys(t, "outsider", mustCall(t, outsider, "list_keys", nil)); len(ids) != 0 {
		t.Errorf("the outsider's list_keys shows %v", ids)
	}
	res, err := callTool(outsider, "check_policy", map[string]any{"tag": "proj-search-y"})
	if err != nil {
		t.Fatal(err)
	}
	if text := callText(res); !strings.Contains(text, `{sub: "agent-2"}`) || !strings.Contains(text, "group") {
		t.Errorf("the outsider's check_policy does not name the rule it needs:\n%s", text)
	}

	records := readAudit(t, auditLog)
	want := []string{"oauth:" + idp.Issuer() + "#agent-1", "oauth:" + idp.Issuer() + "#agent-ops"}
	var got []string
	for _, r := range records {
		if r["event"] == "create_result" {
			c, _ := r["caller"].(string)
			got = append(got, c)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("callers of create_result records = %v, want %v", got, want)
	}
}

package tools_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

type tagsOut struct {
	Tags []struct {
		Tag     string `json:"tag"`
		Allowed bool   `json:"allowed"`
		Reason  string `json:"reason"`
	} `json:"tags"`
	Total           int      `json:"total"`
	Omitted         int      `json:"omitted"`
	AllowedPatterns []string `json:"allowed_patterns"`
}

type keysOut struct {
	Keys []struct {
		ID        string   `json:"id"`
		Name      string   `json:"name"`
		Kind      string   `json:"kind"`
		Tags      []string `json:"tags"`
		Prefix    string   `json:"prefix"`
		Enabled   bool     `json:"enabled"`
		Expired   bool     `json:"expired"`
		Revocable bool     `json:"revocable"`
	} `json:"keys"`
	Total   int `json:"total"`
	Omitted int `json:"omitted"`
}

type createOut struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Tag               string   `json:"tag"`
	Key               string   `json:"key"`
	ExpiresAt         *string  `json:"expires_at"`
	AllowedEndpoints  []string `json:"allowed_endpoints"`
	RateLimitMax      int      `json:"rate_limit_max"`
	RateLimitWindowMs int      `json:"rate_limit_window_ms"`
}

type checkOut struct {
	Allowed bool   `json:"allowed"`
	Action  string `json:"action"`
	Rules   []struct {
		Rule    string `json:"rule"`
		Outcome string `json:"outcome"`
		Detail  string `json:"detail"`
	} `json:"rules"`
	Effective *struct {
		Tag               string `json:"tag"`
		Name              string `json:"name"`
		ExpiresInDays     int    `json:"expires_in_days"`
		RateLimitMax      int    `json:"rate_limit_max"`
		RateLimitWindowMs int    `json:"rate_limit_window_ms"`
	} `json:"effective"`
}

func TestListTags(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name        string
		args        map[string]any
		wantTags    []string // in order
		wantTotal   int
		wantOmitted int
	}{
		{"all", map[string]any{}, nil, 5, 0},
		{"query", map[string]any{"query": "PROJ"}, nil, 3, 0},
		{"limit", map[string]any{"limit": 2}, nil, 5, 3},
		{"no match", map[string]any{"query": "nothing-like-this"}, []string{}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.call("list_tags", tc.args)
			mustOK(t, res)
			var out tagsOut
			structured(t, res, &out)
			if out.Total != tc.wantTotal || out.Omitted != tc.wantOmitted || len(out.Tags) != tc.wantTotal-tc.wantOmitted {
				t.Fatalf("total=%d omitted=%d len=%d, want %d/%d", out.Total, out.Omitted, len(out.Tags), tc.wantTotal, tc.wantOmitted)
			}
			if !slices.Equal(out.AllowedPatterns, []string{"demo-project", "proj-*", "user_*", "team:search"}) {
				t.Errorf("allowed_patterns = %v", out.AllowedPatterns)
			}
			for _, tag := range out.Tags {
				wantAllowed := tag.Tag != "proj-prod-eu"
				if tag.Allowed != wantAllowed {
					t.Errorf("tag %s allowed=%v, want %v", tag.Tag, tag.Allowed, wantAllowed)
				}
				if !tag.Allowed && !strings.Contains(tag.Reason, "proj-prod*") {
					t.Errorf("tag %s reason %q does not name the deny pattern", tag.Tag, tag.Reason)
				}
			}
		})
	}
}

func TestListTagsRefusesBadArguments(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"limit": 501}, "between 1 and 500"},
		{map[string]any{"limit": 0}, "between 1 and 500"},
		{map[string]any{"limit": "5"}, "whole number"},
		{map[string]any{"limit": 2.5}, "whole number"},
		{map[string]any{"Query": "x"}, "unknown argument"},
		{map[string]any{"query": 7}, "must be a string"},
	}
	for _, tc := range tests {
		mustRefuse(t, e.call("list_tags", tc.args), tc.want)
	}
	if n := e.sb.Sandbox.Count(sandbox.EndpointListTags); n != 0 {
		t.Errorf("bad arguments reached the API %d times", n)
	}
}

func TestListKeys(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name      string
		args      map[string]any
		wantNames []string // set, any order
	}{
		{"active only", map[string]any{}, []string{"operator (Full Access)", "ci-deploy", "agent-demo-project-20261101", "console-proj-search"}},
		{"scoped", map[string]any{"kind": "scoped"}, []string{"agent-demo-project-20261101", "console-proj-search"}},
		{"full", map[string]any{"kind": "full"}, []string{"operator (Full Access)", "ci-deploy"}},
		{"tag", map[string]any{"tag": "demo-project"}, []string{"agent-demo-project-20261101"}},
		{"with disabled", map[string]any{"kind": "scoped", "include_disabled": true}, []string{"agent-demo-project-20261101", "console-proj-search", "agent-old-user_alex", "agent-expired-team"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := e.call("list_keys", tc.args)
			mustOK(t, res)
			var out keysOut
			structured(t, res, &out)
			var names []string
			for _, k := range out.Keys {
				names = append(names, k.Name)
				// No seeded key was minted through mcp-keys (revoke.only_minted).
				if k.Revocable {
					t.Errorf("%s is marked revocable, but it was not minted through mcp-keys", k.Name)
				}
				if (k.Kind == "scoped") != (len(k.Tags) > 0) {
					t.Errorf("%s kind %s with tags %v", k.Name, k.Kind, k.Tags)
				}
			}
			slices.Sort(names)
			want := slices.Clone(tc.wantNames)
			slices.Sort(want)
			if !slices.Equal(names, want) || out.Total != len(want) {
				t.Errorf("names = %v (total %d), want %v", names, out.Total, want)
			}
			if strings.Contains(text(res), e.sb.Sandbox.OperatorKey()) {
				t.Error("listing contains the operator key")
			}
		})
	}
	res := e.call("list_keys", map[string]any{"limit": 1})
	var out keysOut
	structured(t, res, &out)
	if len(out.Keys) != 1 || out.Omitted != out.Total-1 {
		t.Errorf("limit 1: %d keys, omitted %d of %d", len(out.Keys), out.Omitted, out.Total)
	}
	mustRefuse(t, e.call("list_keys", map[string]any{"kind": "admin"}), "must be one of")
	mustRefuse(t, e.call("list_keys", map[string]any{"include_disabled": "yes"}), "true or false")
}

func TestCreateRevokeFlow(t *testing.T) {
	e := newEnv(t, envOptions{})
	res := e.call("create_scoped_key", map[string]any{"tag": "proj-search", "name": "indexer", "expires_in_days": 7})
	mustOK(t, res)
	var created createOut
	structured(t, res, &created)
	if !strings.HasPrefix(created.Key, "sm_") || created.Name != "agent-indexer" || created.Tag != "proj-search" {
		t.Fatalf("created %+v (key prefix ok: %v)", created.Name, strings.HasPrefix(created.Key, "sm_"))
	}
	if created.RateLimitMax != 500 || created.RateLimitWindowMs != 60000 || created.ExpiresAt == nil || len(created.AllowedEndpoints) == 0 {
		t.Errorf("created limits %d/%d expires %v endpoints %v", created.RateLimitMax, created.RateLimitWindowMs, created.ExpiresAt, created.AllowedEndpoints)
	}
	if !strings.Contains(text(res), created.Key) || !strings.Contains(text(res), "once") {
		t.Error("the text must hand over the secret once and say so")
	}
	if strings.Contains(e.logs.String(), created.Key) || strings.Contains(e.logs.String(), e.sb.Sandbox.OperatorKey()) {
		t.Error("a secret reached the logs")
	}

	res = e.call("list_keys", map[string]any{"tag": "proj-search", "kind": "scoped"})
	var listed keysOut
	structured(t, res, &listed)
	i := slices.IndexFunc(listed.Keys, func(k struct {
		ID        string   `json:"id"`
		Name      string   `json:"name"`
		Kind      string   `json:"kind"`
		Tags      []string `json:"tags"`
		Prefix    string   `json:"prefix"`
		Enabled   bool     `json:"enabled"`
		Expired   bool     `json:"expired"`
		Revocable bool     `json:"revocable"`
	}) bool {
		return k.ID == created.ID
	})
	if i < 0 || !listed.Keys[i].Revocable || listed.Keys[i].Kind != "scoped" {
		t.Fatalf("new key not listed as a revocable scoped key: %s", text(res))
	}
	if strings.Contains(text(res), created.Key) {
		t.Fatal("listing shows the secret")
	}

	res = e.call("revoke_key", map[string]any{"id": created.ID})
	mustOK(t, res)
	var revoked struct {
		Revoked        bool `json:"revoked"`
		AlreadyRevoked bool `json:"already_revoked"`
	}
	structured(t, res, &revoked)
	if !revoked.Revoked || revoked.AlreadyRevoked {
		t.Errorf("revoke: %s", text(res))
	}
	res = e.call("revoke_key", map[string]any{"id": created.ID})
	mustOK(t, res)
	structured(t, res, &revoked)
	if !revoked.AlreadyRevoked || !strings.Contains(text(res), "already revoked") {
		t.Errorf("second revoke: %s", text(res))
	}
	if n := e.sb.Sandbox.Count(sandbox.EndpointRevoke); n != 1 {
		t.Errorf("revoke endpoint called %d times, want 1", n)
	}
}

func TestCreateRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	const fullAccess = "Full Access keys are never granted"
	tests := []struct {
		name string
		args map[string]any
		want []string
	}{
		{"denied tag", map[string]any{"tag": "proj-prod-eu"}, []string{"tag_deny", "proj-prod*"}},
		{"denied tag, other case", map[string]any{"tag": "Proj-PROD-eu"}, []string{"proj-prod*"}},
		{"tag outside allowlist", map[string]any{"tag": "billing"}, []string{"tag_allow", "proj-*"}},
		{"wildcard tag", map[string]any{"tag": "*"}, []string{fullAccess}},
		{"empty tag", map[string]any{"tag": ""}, []string{fullAccess}},
		{"missing tag", map[string]any{}, []string{fullAccess}},
		{"null tag", map[string]any{"tag": nil}, []string{fullAccess}},
		{"array tag", map[string]any{"tag": []any{"proj-search", "proj-prod-eu"}}, []string{fullAccess}},
		{"permission argument", map[string]any{"tag": "proj-search", "permission": "full"}, []string{fullAccess}},
		{"full_access argument", map[string]any{"tag": "proj-search", "full_access": true}, []string{fullAccess}},
		{"scope argument", map[string]any{"tag": "proj-search", "scope": "all"}, []string{fullAccess}},
		{"unknown argument", map[string]any{"tag": "proj-search", "colour": "red"}, []string{"unknown argument"}},
		{"case variant argument", map[string]any{"tag": "proj-search", "Tag": "proj-prod-eu"}, []string{"unknown argument"}},
		{"expiry over cap", map[string]any{"tag": "proj-search", "expires_in_days": 400}, []string{"max_expiry_days"}},
		{"zero expiry", map[string]any{"tag": "proj-search", "expires_in_days": 0}, []string{"expiry"}},
		{"negative expiry", map[string]any{"tag": "proj-search", "expires_in_days": -1}, []string{"expiry"}},
		{"fractional expiry", map[string]any{"tag": "proj-search", "expires_in_days": 30.5}, []string{"whole number"}},
		{"string expiry", map[string]any{"tag": "proj-search", "expires_in_days": "30"}, []string{"whole number"}},
		{"rate over cap", map[string]any{"tag": "proj-search", "rate_limit_max": 5000}, []string{"max_rate_limit"}},
		{"window over cap", map[string]any{"tag": "proj-search", "rate_limit_window_ms": 7200000}, []string{"max_rate_window_ms"}},
		{"space in tag", map[string]any{"tag": "proj search"}, []string{"tag_syntax"}},
		{"trailing space", map[string]any{"tag": "proj-search "}, []string{"tag_syntax"}},
		{"zero-width in tag", map[string]any{"tag": "proj-search\u200b"}, []string{"tag_syntax"}},
		{"control char in name", map[string]any{"tag": "proj-search", "name": "a\nb"}, []string{"name: "}},
		{"long name", map[string]any{"tag": "proj-search", "name": strings.Repeat("n", 99)}, []string{"name: ", "100"}},
		{"confirm argument is not consent", map[string]any{"tag": "proj-search", "confirm": true}, []string{"unknown argument"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustRefuse(t, e.call("create_scoped_key", tc.args), tc.want...)
		})
	}
	if n := e.sb.Sandbox.Count(sandbox.EndpointCreate); n != 0 {
		t.Errorf("refused creates reached the API %d times", n)
	}
}

func TestRevokeRefusals(t *testing.T) {
	e := newEnv(t, envOptions{})
	ids := map[string]string{}
	res := e.call("list_keys", map[string]any{"include_disabled": true})
	var out keysOut
	structured(t, res, &out)
	for _, k := range out.Keys {
		ids[k.Name] = k.ID
	}
	tests := []struct {
		name string
		id   string
		want []string
	}{
		{"full access key", ids["ci-deploy"], []string{"Full Access"}},
		{"operator key", ids["operator (Full Access)"], []string{"Full Access"}},
		{"made in the console", ids["console-proj-search"], []string{"target_prefix"}},
		{"prefixed but not minted here", ids["agent-demo-project-20261101"], []string{"target_minted", "not minted through mcp-keys"}},
		{"unknown id", "key_doesnotexist", []string{"not found"}},
		{"path injection", "../auth/agent-key", []string{"not a key id"}},
		{"query injection", "x?y=1", []string{"not a key id"}},
		{"empty", "", []string{"not a key id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustRefuse(t, e.call("revoke_key", map[string]any{"id": tc.id}), tc.want...)
		})
	}
	mustRefuse(t, e.call("revoke_key", map[string]any{}), "required")
	if n := e.sb.Sandbox.Count(sandbox.EndpointRevoke); n != 0 {
		t.Errorf("refused revokes reached the API %d times", n)
	}
}

func TestDefaultDeny(t *testing.T) {
	e := newEnv(t, envOptions{policyYAML: "-"})
	mustRefuse(t, e.call("create_scoped_key", map[string]any{"tag": "proj-search"}), "MCP_KEYS_POLICY")
	res := e.call("list_keys", map[string]any{"tag": "demo-project"})
	var out keysOut
	structured(t, res, &out)
	mustRefuse(t, e.call("revoke_key", map[string]any{"id": out.Keys[0].ID}), "MCP_KEYS_POLICY")
	res = e.call("check_policy", map[string]any{"tag": "proj-search"})
	mustOK(t, res)
	if !strings.Contains(text(res), "MCP_KEYS_POLICY") {
		t.Errorf("check_policy does not say how to configure a policy: %s", text(res))
	}
	if n := e.sb.Sandbox.Count(sandbox.EndpointCreate) + e.sb.Sandbox.Count(sandbox.EndpointRevoke); n != 0 {
		t.Errorf("writes reached the API %d times under default deny", n)
	}
}

func TestAllowNewFalse(t *testing.T) {
	e := newEnv(t, envOptions{policyYAML: "tags:\n  allow: [\"proj-*\"]\n  allow_new: false\n"})
	mustRefuse(t, e.call("create_scoped_key", map[string]any{"tag": "proj-brand-new"}), "tag_new")
	mustOK(t, e.call("create_scoped_key", map[string]any{"tag": "proj-search"}))
}

func TestCheckPolicy(t *testing.T) {
	e := newEnv(t, envOptions{})
	res := e.call("check_policy", map[string]any{"tag": "proj-search"})
	mustOK(t, res)
	var out checkOut
	structured(t, res, &out)
	if !out.Allowed || out.Effective == nil || out.Effective.Name != "agent-proj-search-20261125" || out.Effective.ExpiresInDays != 30 {
		t.Fatalf("check_policy: %s", text(res))
	}
	var rules []string
	for _, r := range out.Rules {
		rules = append(rules, r.Rule)
	}
	for _, want := range []string{"scoped_only", "tag_syntax", "tag_deny", "tag_allow", "tag_new", "expiry", "rate_limit", "rate_window", "name"} {
		if !slices.Contains(rules, want) {
			t.Errorf("rule %s missing from %v", want, rules)
		}
	}

	res = e.call("check_policy", map[string]any{"action": "revoke", "id": "key_doesnotexist"})
	mustOK(t, res)
	structured(t, res, &out)
	if out.Allowed {
		t.Error("revoke of an unknown id allowed")
	}
	mustRefuse(t, e.call("check_policy", map[string]any{"action": "revoke"}), "needs id")
	mustRefuse(t, e.call("check_policy", map[string]any{"action": "revoke", "id": "k1", "tag": "x"}), "create only")
	if n := e.sb.Sandbox.Count(sandbox.EndpointCreate) + e.sb.Sandbox.Count(sandbox.EndpointRevoke); n != 0 {
		t.Errorf("check_policy wrote %d times", n)
	}
}

// TestCheckPolicyAgreesWithCreate runs the same requests through the dry run
// and the real thing: the verdicts must match.
func TestCheckPolicyAgreesWithCreate(t *testing.T) {
	e := newEnv(t, envOptions{})
	inputs := []map[string]any{
		{"tag": "proj-search"}, {"tag": "proj-prod-eu"}, {"tag": "PROJ-PROD-EU"}, {"tag": "*"}, {"tag": ""},
		{"tag": "user_"}, {"tag": "team:search"}, {"tag": "team:search2"}, {"tag": "proj-search", "permission": "full"},
		{"tag": "proj-search", "expires_in_days": 90}, {"tag": "proj-search", "expires_in_days": 91},
		{"tag": "proj-search", "rate_limit_max": 1000}, {"tag": "proj-search", "rate_limit_max": 1001},
		{"tag": "proj-search", "name": "agent-x"}, {"tag": "proj-search", "name": "\u202eevil"},
	}
	for _, in := range inputs {
		check := e.call("check_policy", in)
		var out checkOut
		if !check.IsError {
			structured(t, check, &out)
		}
		create := e.call("create_scoped_key", in)
		if out.Allowed == create.IsError {
			t.Errorf("%v: check_policy allowed=%v but create isError=%v (%s)", in, out.Allowed, create.IsError, text(create))
		}
	}
}

func TestPolicyResource(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	var req mcp.ReadResourceRequest
	req.Params.URI = "mcp-keys://policy"
	res, err := e.client.ReadResource(ctx, req)
	if err != nil {
		t.Fatalf("read policy: %v", err)
	}
	body := res.Contents[0].(mcp.TextResourceContents).Text
	for _, want := range []string{"proj-prod*", "max_expiry_days", "name_prefix"} {
		if !strings.Contains(body, want) {
			t.Errorf("policy resource lacks %q:\n%s", want, body)
		}
	}
	req.Params.URI = "mcp-keys://other"
	if _, err := e.client.ReadResource(ctx, req); err == nil {
		t.Error("unknown resource URI did not fail")
	}
}

func TestReadOnlyRegistersNoWriteTool(t *testing.T) {
	e := newEnv(t, envOptions{readOnly: true})
	list, err := e.client.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
		if tool.Annotations.ReadOnlyHint == nil || !*tool.Annotations.ReadOnlyHint {
			t.Errorf("read-only mode registered %s, which is not read-only", tool.Name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"check_policy", "list_keys", "list_tags"}) {
		t.Errorf("read-only tools = %v", names)
	}
	var req mcp.CallToolRequest
	req.Params.Name = "create_scoped_key"
	req.Params.Arguments = map[string]any{"tag": "proj-search"}
	if _, err := e.client.CallTool(context.Background(), req); err == nil {
		t.Error("a write tool could be called in read-only mode")
	}
	if e.sb.Sandbox.Count(sandbox.EndpointCreate) != 0 {
		t.Error("create reached the API in read-only mode")
	}
}

func TestProtocolVersions(t *testing.T) {
	for _, v := range []string{"2025-06-18", mcp.LATEST_LEGACY_PROTOCOL_VERSION, ""} {
		t.Run("v"+v, func(t *testing.T) {
			e := newEnv(t, envOptions{protocolVersion: v})
			mustOK(t, e.call("list_tags", nil))
			mustOK(t, e.call("check_policy", map[string]any{"tag": "user_alex"}))
			mustRefuse(t, e.call("create_scoped_key", map[string]any{"tag": "*"}), "Full Access")
			mustOK(t, e.call("create_scoped_key", map[string]any{"tag": "user_alex"}))
		})
	}
}

package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

const checkPolicyInput = `{"type":"object","properties":{` +
	`"action":{"type":"string","enum":["create","revoke"]},"id":{"type":"string","description":"for revoke"},` +
	`"tag":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}},"permission":{"type":"string"},"name":{"type":"string"},` +
	`"expires_in_days":{"type":"integer"},"lease_minutes":{"type":"integer"},"rate_limit_max":{"type":"integer"},"rate_limit_window_ms":{"type":"integer"}},` +
	`"additionalProperties":false}`

const checkPolicyOutput = `{"type":"object","properties":{` +
	`"allowed":{"type":"boolean"},"action":{"type":"string"},` +
	`"rules":{"type":"array","items":{"type":"object","properties":{` +
	`"rule":{"type":"string"},"outcome":{"type":"string","enum":["pass","fail","skip"]},"detail":{"type":"string"}},` +
	`"required":["rule","outcome","detail"]}},` +
	`"effective":{"type":"object"}},` +
	`"required":["allowed","action","rules"]}`

// checkPolicyArgs are create_scoped_key's arguments plus action and id.
var checkPolicyArgs = append([]argSpec{
	{name: "action", typ: argString, enum: []string{string(policy.ActionCreate), string(policy.ActionRevoke)}},
	{name: "id", typ: argString, maxLen: 128},
}, withoutRequired(createArgs)...)

// withoutRequired copies specs with required cleared: check_policy decides
// per action what it needs.
func withoutRequired(specs []argSpec) []argSpec {
	out := make([]argSpec, len(specs))
	for i, s := range specs {
		s.required = false
		out[i] = s
	}
	return out
}

// ruleItem is one rule of a check_policy result.
type ruleItem struct {
	Rule    string `json:"rule"`
	Outcome string `json:"outcome"`
	Detail  string `json:"detail"`
}

// effectiveItem is the request that would be sent.
type effectiveItem struct {
	Tag               string   `json:"tag,omitempty"`
	Tags              []string `json:"tags"`
	Permission        string   `json:"permission"`
	Name              string   `json:"name"`
	ExpiresInDays     int      `json:"expires_in_days"`
	LeaseMinutes      int      `json:"lease_minutes,omitempty"`
	RateLimitMax      int      `json:"rate_limit_max"`
	RateLimitWindowMs int      `json:"rate_limit_window_ms"`
}

// checkPolicyResult is the structured result of check_policy.
type checkPolicyResult struct {
	Allowed   bool           `json:"allowed"`
	Action    string         `json:"action"`
	Rules     []ruleItem     `json:"rules"`
	Effective *effectiveItem `json:"effective,omitempty"`
}

// checkPolicyTool dry-runs a create or revoke against the policy.
func (h *handlers) checkPolicyTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("check_policy", "Check the key policy",
			"Dry-run create_scoped_key, or action revoke with id: the decision and each rule. Changes nothing.",
			checkPolicyInput, checkPolicyOutput, readHints),
		Handler: h.checkPolicy,
	}
}

func (h *handlers) checkPolicy(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, call, res := h.decode(ctx, req, checkPolicyArgs, true, keys.ActionCheck)
	if res != nil {
		return res, nil
	}
	var checked *keys.Checked
	var err error
	if a.str("action") == string(policy.ActionRevoke) {
		if !a.has("id") {
			return errorResult("Invalid arguments: action revoke needs id (from list_keys)."), nil
		}
		for _, s := range createArgs {
			name := s.name
			if a.has(name) {
				return errorResult("Invalid arguments: %s applies to action create only; action revoke takes only id.", name), nil
			}
		}
		if len(a.fullAccess) > 0 {
			return errorResult("Invalid arguments: %s is not an argument of action revoke, which takes only id.", policy.Quote(a.fullAccess[0])), nil
		}
		checked, err = h.keys.CheckRevoke(ctx, call, a.str("id"))
	} else {
		if a.has("id") {
			return errorResult("Invalid arguments: id applies to action revoke only."), nil
		}
		checked, err = h.keys.CheckCreate(ctx, call, createInputOf(a))
	}
	if err != nil {
		return result(nil, nil, err)
	}
	return result(newCheckPolicyResult(checked.Decision), checked.Text, nil)
}

// newCheckPolicyResult shapes a decision for the structured result.
func newCheckPolicyResult(d policy.Decision) checkPolicyResult {
	out := checkPolicyResult{Allowed: d.Allowed, Action: string(d.Action), Rules: make([]ruleItem, len(d.Rules))}
	for i, r := range d.Rules {
		out.Rules[i] = ruleItem{Rule: r.Rule, Outcome: string(r.Outcome), Detail: r.Detail}
	}
	if d.Action == policy.ActionCreate {
		e := d.Effective
		out.Effective = &effectiveItem{Tag: e.Tag, Tags: e.Tags, Permission: e.Permission, Name: e.Name, ExpiresInDays: e.ExpiresInDays,
			LeaseMinutes: e.LeaseMinutes, RateLimitMax: e.RateLimitMax, RateLimitWindowMs: e.RateLimitWindowMs}
		if out.Effective.Tags == nil {
			out.Effective.Tags = []string{}
		}
	}
	return out
}

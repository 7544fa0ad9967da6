package tools

import (
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// defaultDenyNote is added to every refusal while the policy allows no tag:
// it says whether a policy is configured at all, and how to fix it.
func defaultDenyNote(p *policy.Policy) string {
	if p.Source == policy.SourceDefault {
		return " No policy is configured, so nothing can be minted or revoked: " +
			"the operator must set MCP_KEYS_POLICY (a policy file) or MCP_KEYS_ALLOWED_TAGS."
	}
	return " The policy (" + p.Source + ") allows no tag, so nothing can be minted or revoked until the operator adds tags.allow patterns."
}

// refusal is the isError result for a request the policy refused. It names
// every failed rule with its reason and says what to do next.
func refusal(tool string, p *policy.Policy, d policy.Decision) *mcp.CallToolResult {
	var b strings.Builder
	b.WriteString(tool)
	b.WriteString(" refused by the local policy; nothing was changed. ")
	failed := d.Failed()
	for i, r := range failed {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.Rule)
		b.WriteString(": ")
		b.WriteString(r.Detail)
	}
	b.WriteString(".")
	b.WriteString(nextStep(failed))
	if p.DeniesAllWrites() {
		b.WriteString(defaultDenyNote(p))
	}
	return mcp.NewToolResultError(b.String())
}

// nextStep says what the agent can do about the first failed rule.
func nextStep(failed []policy.RuleResult) string {
	if len(failed) == 0 {
		return ""
	}
	switch failed[0].Rule {
	case "scoped_only":
		return " Ask for a key scoped to one allowed tag instead."
	case "tag_syntax", "tag_deny", "tag_allow", "tag_new":
		return " Pick a tag the policy allows (list_tags marks them), or ask the operator to change the policy; the agent cannot change it."
	case "expiry", "rate_limit", "rate_window", "name":
		return " Call again within the named limit (check_policy shows every rule without creating anything)."
	case "target_found":
		return " Call list_keys to see the current key ids."
	default:
		return " Only scoped keys inside the policy can be revoked through mcp-keys; a person can revoke others in the Supermemory console."
	}
}

// logDecision records a policy decision on stderr: tool, outcome, failed
// rule names and argument names — never argument values.
func (h *handlers) logDecision(req mcp.CallToolRequest, specs []argSpec, d policy.Decision) {
	known, others := argNames(req, specs)
	ev := h.log.Info().Str("tool", req.Params.Name).Str("action", string(d.Action)).Bool("allowed", d.Allowed).Strs("args", known).Int("other_args", others)
	if !d.Allowed {
		rules := make([]string, 0, 2)
		for _, r := range d.Failed() {
			rules = append(rules, r.Rule)
		}
		ev = ev.Strs("failed_rules", rules)
	}
	ev.Msg("policy decision")
}

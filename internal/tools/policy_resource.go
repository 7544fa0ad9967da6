package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// PolicyURI is the URI of the only resource: the effective policy.
const PolicyURI = "mcp-keys://policy"

// policyResource describes the effective-policy resource.
func policyResource() mcp.Resource {
	return mcp.NewResource(PolicyURI, "Effective key policy",
		mcp.WithResourceDescription("The policy mcp-keys enforces, with defaults filled in. Read-only: only the operator can change it."),
		mcp.WithMIMEType("application/yaml"))
}

// readPolicy serves the effective policy as YAML, headed by its source and
// a summary in comments.
func (h *handlers) readPolicy(ctx context.Context, req mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
	caller, ok := keys.CallerFromContext(ctx)
	switch {
	case !ok && h.remote:
		return nil, fmt.Errorf("the request carries no authenticated caller")
	case !ok:
		caller = keys.Local()
	}
	// A remote caller reads its own policy, never the top level (which
	// holds every caller's rule).
	p := h.keys.PolicyFor(caller)
	var b strings.Builder
	fmt.Fprintf(&b, "# Effective mcp-keys policy (source: %s). Only the operator can change it.\n", p.Source)
	for _, line := range strings.Split(strings.TrimRight(p.Summary(), "\n"), "\n") {
		b.WriteString("# ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.Write(p.EffectiveYAML())
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: PolicyURI, MIMEType: "application/yaml", Text: b.String()}}, nil
}

// instructions tell the agent the flow and what the policy allows now. In
// remote mode they are the same for every caller, so they name no tag: a
// caller learns its own from list_tags and the policy resource.
func instructions(p *policy.Policy, readOnly, remote bool) string {
	var b strings.Builder
	b.WriteString("mcp-keys issues Supermemory API keys scoped to one container tag, under a local policy set by the operator that you cannot change. ")
	if readOnly {
		b.WriteString("This server is read-only: it can list tags and keys and check the policy, but not create or revoke keys. ")
	} else {
		b.WriteString("Flow: list_tags (which tags exist and are allowed) → check_policy (dry run) → create_scoped_key. The new key's secret is shown once: hand it to the user, do not repeat it. " +
			"revoke_key disables a scoped key the policy lets you revoke (see list_keys' revocable). ")
	}
	b.WriteString("Full Access keys are never created or revoked here; only a person can do that in the Supermemory console. ")
	switch {
	case remote:
		b.WriteString("What you may do depends on who you are: list_tags shows the tags your rule allows, and the resource " + PolicyURI + " is your policy. ")
	case p.DeniesAllWrites():
		b.WriteString(strings.TrimSpace(keys.DefaultDenyNote(p)) + " ")
	default:
		fmt.Fprintf(&b, "Allowed tags: %s", listSome(p.Tags.Allow))
		if len(p.Tags.Deny) > 0 {
			fmt.Fprintf(&b, "; denied: %s", listSome(p.Tags.Deny))
		}
		fmt.Fprintf(&b, ". Expiry default %d days, max %d. ", p.Keys.DefaultExpiryDays, p.Keys.MaxExpiryDays)
	}
	if !remote {
		b.WriteString("The full policy is the resource " + PolicyURI + ".")
	}
	return b.String()
}

// maxListed caps how many patterns the instructions spell out; the
// resource has them all.
const maxListed = 12

// listSome joins at most maxListed patterns and says how many were left out.
func listSome(patterns []string) string {
	if len(patterns) <= maxListed {
		return strings.Join(patterns, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(patterns[:maxListed], ", "), len(patterns)-maxListed)
}

package tools

import (
	"context"
	"errors"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

const revokeInput = `{"type":"object","properties":{` +
	`"id":{"type":"string","maxLength":128,"description":"Key id from list_keys"}},` +
	`"required":["id"],"additionalProperties":false}`

const revokeOutput = `{"type":"object","properties":{` +
	`"id":{"type":"string"},"name":{"type":"string"},"revoked":{"type":"boolean"},"already_revoked":{"type":"boolean"}},` +
	`"required":["id","name","revoked"]}`

var revokeArgs = []argSpec{{name: "id", typ: argString, required: true, maxLen: 128}}

// revokeResult is the structured result of revoke_key.
type revokeResult struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Revoked        bool   `json:"revoked"`
	AlreadyRevoked bool   `json:"already_revoked,omitempty"`
}

// revokeKeyTool disables a scoped key that the policy lets mcp-keys revoke.
func (h *handlers) revokeKeyTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("revoke_key", "Revoke a scoped API key",
			"Revoke (disable) a scoped key by id, if the local policy allows; it stops working at once. Never a Full Access key.",
			revokeInput, revokeOutput, false, true, true),
		Handler: h.revokeKey,
	}
}

// findTarget looks the id up in a fresh listing; nil when it is not there.
// The id is compared exactly.
func (h *handlers) findTarget(ctx context.Context, id string) (*client.Key, error) {
	keys, err := h.api.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	for i := range keys {
		if keys[i].ID == id {
			return &keys[i], nil
		}
	}
	return nil, nil
}

// evaluateRevoke runs the policy on a revoke request against a fresh
// listing. It is shared by revoke_key and check_policy.
func (h *handlers) evaluateRevoke(ctx context.Context, p *policy.Policy, id string) (policy.Decision, *client.Key, error) {
	k, err := h.findTarget(ctx, id)
	if err != nil {
		return policy.Decision{}, nil, err
	}
	req := policy.RevokeRequest{ID: id}
	if k != nil {
		req.Target = revokeTarget(k)
	}
	return p.EvaluateRevoke(req), k, nil
}

func (h *handlers) revokeKey(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, res := h.decode(req, revokeArgs, false)
	if res != nil {
		return res, nil
	}
	id := a.str("id")
	if err := client.ValidKeyID(id); err != nil {
		return errorResult("Invalid arguments: id %s is not a key id (ids are letters, digits, '-' and '_'). Call list_keys to see the ids.", policy.Quote(id)), nil
	}
	p := h.policy.Current()
	d, k, err := h.evaluateRevoke(ctx, p, id)
	if err != nil {
		return upstreamFailure("revoke_key (listing keys)", err), nil
	}
	h.logDecision(req, d)
	if k == nil {
		return errorResult("revoke_key: not found: no key with id %s exists in the organisation. Call list_keys to see the current ids.", policy.Quote(id)), nil
	}
	if !d.Allowed {
		return refusal("revoke_key", p, d), nil
	}
	out := revokeResult{ID: clean(k.ID), Name: clean(k.Name), Revoked: true}
	if !k.Enabled {
		out.AlreadyRevoked = true
		return mcp.NewToolResultStructured(out, fmt.Sprintf("Key %q (id %s) was already revoked; nothing to do.", out.Name, out.ID)), nil
	}
	if _, err := h.api.RevokeKey(ctx, id); err != nil {
		if errors.Is(err, client.ErrNotFound) {
			return errorResult("revoke_key: not found: key %s disappeared before it could be revoked. Call list_keys to check.", policy.Quote(id)), nil
		}
		return upstreamFailure(fmt.Sprintf("revoke_key for %s", policy.Quote(id)), err), nil
	}
	h.log.Info().Str("tool", "revoke_key").Str("key_id", out.ID).Msg("key revoked")
	return mcp.NewToolResultStructured(out, fmt.Sprintf("Revoked key %q (id %s); it stops working at once. Memories and tags are untouched.", out.Name, out.ID)), nil
}

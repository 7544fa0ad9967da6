package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

const rotateInput = `{"type":"object","properties":{` +
	`"id":{"type":"string","maxLength":128},` +
	`"grace_minutes":{"type":"integer","minimum":0,"description":"Old key lives this long; default 0"}},` +
	`"required":["id"],"additionalProperties":false}`

const rotateOutput = `{"type":"object","properties":{"id":{"type":"string"},"key":{"type":"string"},` +
	`"old_id":{"type":"string"},"old_revoked":{"type":"boolean"},"old_lease_ends_at":{"type":"string"}},` +
	`"required":["id","old_id","old_revoked"]}`

var rotateArgs = []argSpec{
	{name: "id", typ: argString, required: true, maxLen: 128},
	{name: "grace_minutes", typ: argInteger, min: noLimit},
}

// rotateResult is the structured result of rotate_key: the new key, as
// create_scoped_key gives it, and what became of the old one.
type rotateResult struct {
	createResult
	OldID          string  `json:"old_id"`
	OldRevoked     bool    `json:"old_revoked"`
	OldLeaseEndsAt *string `json:"old_lease_ends_at,omitempty"`
	OldProblem     string  `json:"old_problem,omitempty"`
}

// rotateKeyTool replaces a key with a new one like it.
func (h *handlers) rotateKeyTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("rotate_key", "Rotate a scoped API key",
			"Replace a key with one like it (tags, permission) and revoke the old one now or after grace_minutes. Returns the new secret once.",
			rotateInput, rotateOutput, rotateHints),
		Handler: h.rotateKey,
	}
}

func (h *handlers) rotateKey(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, call, res := h.decode(ctx, req, rotateArgs, false, keys.ActionRotate)
	if res != nil {
		return res, nil
	}
	r, err := h.keys.Rotate(ctx, call, a.str("id"), a.intOr("grace_minutes", 0))
	if err != nil {
		return result(nil, nil, err)
	}
	out := rotateResult{createResult: newCreateResult(r.New), OldID: r.OldID, OldRevoked: r.OldRevoked,
		OldLeaseEndsAt: timeOrNil(r.OldLeaseEndsAt), OldProblem: r.OldProblem}
	return result(out, r.Text, nil)
}

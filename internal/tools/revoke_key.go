package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

const revokeInput = `{"type":"object","properties":{` +
	`"id":{"type":"string","maxLength":128,"description":"From list_keys"}},` +
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
			"Revoke (disable) a scoped key by id if the policy allows; it stops working at once. Never Full Access.",
			revokeInput, revokeOutput, revokeHints),
		Handler: h.revokeKey,
	}
}

func (h *handlers) revokeKey(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, call, res := h.decode(ctx, req, revokeArgs, false, keys.ActionRevoke)
	if res != nil {
		return res, nil
	}
	r, err := h.keys.Revoke(ctx, call, a.str("id"))
	if err != nil {
		return result(nil, nil, err)
	}
	return result(revokeResult{ID: r.ID, Name: r.Name, Revoked: true, AlreadyRevoked: r.AlreadyRevoked}, r.Text, nil)
}

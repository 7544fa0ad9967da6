package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

const listKeysInput = `{"type":"object","properties":{` +
	`"tag":{"type":"string","maxLength":100,"description":"Keys with this tag"},` +
	`"kind":{"type":"string","enum":["scoped","full","all"]},` +
	`"include_disabled":{"type":"boolean","description":"Also revoked, expired"},` +
	`"limit":{"type":"integer","minimum":1,"maximum":500}},` +
	`"additionalProperties":false}`

const listKeysOutput = `{"type":"object","properties":{` +
	`"keys":{"type":"array","items":{"type":"object","properties":{` +
	`"id":{"type":"string"},"name":{"type":"string"},"kind":{"type":"string","enum":["scoped","full"]},` +
	`"tags":{"type":"array","items":{"type":"string"}},` +
	`"permission":{"type":"string"},"expires_at":{"type":"string"},"lease_ends_at":{"type":"string"},` +
	`"enabled":{"type":"boolean"},"expired":{"type":"boolean"},"revocable":{"type":"boolean"}},` +
	`"required":["id","name","kind","tags","enabled","expired","revocable"]}},` +
	`"total":{"type":"integer"},"omitted":{"type":"integer"}},` +
	`"required":["keys","total","omitted"]}`

var listKeysArgs = []argSpec{
	{name: "tag", typ: argString, maxLen: policy.MaxTagLength},
	{name: "kind", typ: argString, enum: []string{"scoped", "full", "all"}},
	{name: "include_disabled", typ: argBoolean},
	{name: "limit", typ: argInteger, min: 1, max: keys.MaxLimit},
}

// listKeysTool lists the organisation's keys, metadata only.
func (h *handlers) listKeysTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("list_keys", "List API keys",
			"List keys (metadata, never secrets), newest first, each marked revocable or not by the policy.",
			listKeysInput, listKeysOutput, readHints),
		Handler: h.listKeys,
	}
}

func (h *handlers) listKeys(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, call, res := h.decode(ctx, req, listKeysArgs, false, keys.ActionRead)
	if res != nil {
		return res, nil
	}
	tag := a.str("tag")
	out, err := h.keys.ListKeys(ctx, call, keys.KeyQuery{
		Tag:             tag,
		Kind:            a.str("kind"),
		IncludeDisabled: a.boolOr("include_disabled", false),
		Limit:           a.intOr("limit", keys.DefaultLimit),
	})
	if err != nil {
		return result(nil, nil, err)
	}
	return result(out, func() string { return out.Text(tag) }, nil)
}

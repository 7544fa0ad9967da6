package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

const listKeysInput = `{"type":"object","properties":{` +
	`"tag":{"type":"string","maxLength":100,"description":"Only keys bound to this exact tag"},` +
	`"kind":{"type":"string","enum":["scoped","full","all"],"default":"all"},` +
	`"include_disabled":{"type":"boolean","default":false,"description":"Also show revoked and expired keys"},` +
	`"limit":{"type":"integer","minimum":1,"maximum":500,"default":50}},` +
	`"additionalProperties":false}`

const listKeysOutput = `{"type":"object","properties":{` +
	`"keys":{"type":"array","items":{"type":"object","properties":{` +
	`"id":{"type":"string"},"name":{"type":"string"},"kind":{"type":"string","enum":["scoped","full"]},` +
	`"tags":{"type":"array","items":{"type":"string"}},"prefix":{"type":"string"},` +
	`"created_at":{"type":"string"},"expires_at":{"type":"string","description":"absent: never expires"},"last_used_at":{"type":"string"},` +
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
			"List API keys (metadata only, never secrets), newest first, each marked revocable or not by the local policy.",
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

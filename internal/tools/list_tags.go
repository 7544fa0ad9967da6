package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

const listTagsInput = `{"type":"object","properties":{` +
	`"query":{"type":"string","maxLength":100,"description":"Substring, any case"},` +
	`"limit":{"type":"integer","minimum":1,"maximum":500}},` +
	`"additionalProperties":false}`

const listTagsOutput = `{"type":"object","properties":{` +
	`"tags":{"type":"array","items":{"type":"object","properties":{` +
	`"tag":{"type":"string"},"name":{"type":"string"},"allowed":{"type":"boolean"},"reason":{"type":"string"},` +
	`"document_count":{"type":"integer"},"memory_count":{"type":"integer"},"last_activity_at":{"type":"string"}},` +
	`"required":["tag","allowed"]}},` +
	`"total":{"type":"integer"},"omitted":{"type":"integer"},"allowed_patterns":{"type":"array","items":{"type":"string"}}},` +
	`"required":["tags","total","omitted","allowed_patterns"]}`

var listTagsArgs = []argSpec{
	{name: "query", typ: argString, maxLen: 100},
	{name: "limit", typ: argInteger, min: 1, max: keys.MaxLimit},
}

// listTagsTool lists the organisation's container tags, each marked with
// whether the policy allows minting a key for it.
func (h *handlers) listTagsTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("list_tags", "List container tags",
			"List container tags, most recently active first, each marked allowed or not by the policy.",
			listTagsInput, listTagsOutput, readHints),
		Handler: h.listTags,
	}
}

func (h *handlers) listTags(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, call, res := h.decode(ctx, req, listTagsArgs, false, keys.ActionRead)
	if res != nil {
		return res, nil
	}
	query := a.str("query")
	out, err := h.keys.ListTags(ctx, call, keys.TagQuery{Query: query, Limit: a.intOr("limit", keys.DefaultLimit)})
	if err != nil {
		return result(nil, nil, err)
	}
	return result(out, func() string { return out.Text(query) }, nil)
}

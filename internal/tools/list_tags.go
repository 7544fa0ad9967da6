package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

const listTagsInput = `{"type":"object","properties":{` +
	`"query":{"type":"string","maxLength":100,"description":"Substring of tag or name, any case"},` +
	`"limit":{"type":"integer","minimum":1,"maximum":500,"default":50}},` +
	`"additionalProperties":false}`

const listTagsOutput = `{"type":"object","properties":{` +
	`"tags":{"type":"array","items":{"type":"object","properties":{` +
	`"tag":{"type":"string"},"name":{"type":"string"},"allowed":{"type":"boolean"},"reason":{"type":"string"},` +
	`"document_count":{"type":"integer"},"memory_count":{"type":"integer"},"last_activity_at":{"type":"string","description":"absent: never"}},` +
	`"required":["tag","allowed"]}},` +
	`"total":{"type":"integer"},"omitted":{"type":"integer"},"allowed_patterns":{"type":"array","items":{"type":"string"}}},` +
	`"required":["tags","total","omitted","allowed_patterns"]}`

var listTagsArgs = []argSpec{
	{name: "query", typ: argString, maxLen: 100},
	{name: "limit", typ: argInteger, min: 1, max: maxLimit},
}

// Listing limits shared by list_tags and list_keys.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// tagItem is one tag in a list_tags result.
type tagItem struct {
	Tag            string  `json:"tag"`
	Name           string  `json:"name,omitempty"`
	Allowed        bool    `json:"allowed"`
	Reason         string  `json:"reason,omitempty"`
	DocumentCount  int64   `json:"document_count"`
	MemoryCount    int64   `json:"memory_count"`
	LastActivityAt *string `json:"last_activity_at,omitempty"`
}

// listTagsResult is the structured result of list_tags.
type listTagsResult struct {
	Tags            []tagItem `json:"tags"`
	Total           int       `json:"total"`
	Omitted         int       `json:"omitted"`
	AllowedPatterns []string  `json:"allowed_patterns"`
}

// listTagsTool lists the organisation's container tags, each marked with
// whether the policy allows minting a key for it.
func (h *handlers) listTagsTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("list_tags", "List container tags",
			"List container tags, most recently active first, each marked allowed or not by the local policy.",
			listTagsInput, listTagsOutput, true, false, true),
		Handler: h.listTags,
	}
}

func (h *handlers) listTags(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, res := h.decode(ctx, req, listTagsArgs, false, "")
	if res != nil {
		return res, nil
	}
	tags, err := h.api.ListTags(ctx)
	if err != nil {
		return upstreamFailure("list_tags", readCall, err), nil
	}
	p := h.policy.Current()
	query := strings.ToLower(a.str("query"))
	limit := a.intOr("limit", defaultLimit)

	matched := tags[:0:0]
	for _, t := range tags {
		if query == "" || strings.Contains(strings.ToLower(t.Tag), query) || strings.Contains(strings.ToLower(t.Name), query) {
			matched = append(matched, t)
		}
	}
	slices.SortStableFunc(matched, func(x, y clientTag) int {
		if c := y.LastActivityAt.Compare(x.LastActivityAt); c != 0 {
			return c
		}
		return strings.Compare(x.Tag, y.Tag)
	})
	out := listTagsResult{Total: len(matched), AllowedPatterns: p.Tags.Allow, Tags: []tagItem{}}
	if out.AllowedPatterns == nil {
		out.AllowedPatterns = []string{}
	}
	for _, t := range matched[:min(limit, len(matched))] {
		allowed, reason := p.CheckTag(t.Tag)
		item := tagItem{
			Tag: clean(t.Tag), Name: clean(t.Name), Allowed: allowed,
			DocumentCount: t.DocumentCount, MemoryCount: t.MemoryCount,
			LastActivityAt: timeOrNil(t.LastActivityAt),
		}
		if !allowed {
			item.Reason = reason
		}
		out.Tags = append(out.Tags, item)
	}
	out.Omitted = out.Total - len(out.Tags)

	var b strings.Builder
	fmt.Fprintf(&b, "%d tag(s)", out.Total)
	if query != "" {
		fmt.Fprintf(&b, " matching %q", a.str("query"))
	}
	if out.Omitted > 0 {
		fmt.Fprintf(&b, ", showing %d (raise limit to see more)", len(out.Tags))
	}
	b.WriteString(":\n")
	for _, t := range out.Tags {
		mark := "allowed"
		if !t.Allowed {
			mark = "not allowed: " + t.Reason
		}
		fmt.Fprintf(&b, "- %s (%d documents, %d memories, last active %s) — %s\n",
			t.Tag, t.DocumentCount, t.MemoryCount, deref(t.LastActivityAt, "never"), mark)
	}
	if len(out.AllowedPatterns) == 0 {
		b.WriteString("No tag is allowed by the policy: nothing can be minted.")
	} else {
		fmt.Fprintf(&b, "Policy allows tags matching: %s", strings.Join(out.AllowedPatterns, ", "))
	}
	return mcp.NewToolResultStructured(out, b.String()), nil
}

package keys

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mcp-keys/mcp-keys/internal/client"
)

// TagQuery selects and caps the tags of a listing.
type TagQuery struct {
	// Query keeps tags whose tag or name contains it, in any case.
	Query string
	// Limit caps the tags shown (0 = DefaultLimit).
	Limit int
}

// ListTags lists the organisation's container tags, most recently active
// first, each marked with whether the caller's policy allows minting a key
// for it.
func (s *Service) ListTags(ctx context.Context, call Call, q TagQuery) (*TagList, error) {
	s.begin(ctx)
	tags, err := s.api.ListTags(ctx)
	if err != nil {
		return nil, upstreamFailure(call.Tool, readCall, err)
	}
	p := s.PolicyFor(call.Caller)
	query := strings.ToLower(q.Query)
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}

	matched := tags[:0:0]
	for _, t := range tags {
		if !p.TagVisible(t.Tag) {
			continue // a remote caller sees only the tags its rule allows
		}
		if query == "" || strings.Contains(strings.ToLower(t.Tag), query) || strings.Contains(strings.ToLower(t.Name), query) {
			matched = append(matched, t)
		}
	}
	slices.SortStableFunc(matched, func(x, y client.Tag) int {
		if c := y.LastActivityAt.Compare(x.LastActivityAt); c != 0 {
			return c
		}
		return strings.Compare(x.Tag, y.Tag)
	})
	out := &TagList{Total: len(matched), AllowedPatterns: p.Tags.Allow, Tags: []TagItem{}}
	if out.AllowedPatterns == nil {
		out.AllowedPatterns = []string{}
	}
	for _, t := range matched[:min(limit, len(matched))] {
		allowed, reason := p.CheckTag(t.Tag)
		item := TagItem{
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
	return out, nil
}

// TagItem is one tag of a listing.
type TagItem struct {
	Tag            string  `json:"tag"`
	Name           string  `json:"name,omitempty"`
	Allowed        bool    `json:"allowed"`
	Reason         string  `json:"reason,omitempty"`
	DocumentCount  int64   `json:"document_count"`
	MemoryCount    int64   `json:"memory_count"`
	LastActivityAt *string `json:"last_activity_at,omitempty"`
}

// TagList is the answer of ListTags.
type TagList struct {
	Tags            []TagItem `json:"tags"`
	Total           int       `json:"total"`
	Omitted         int       `json:"omitted"`
	AllowedPatterns []string  `json:"allowed_patterns"`
}

// Text is the readable form of a tag listing; query is the filter it was
// asked with ("" for none).
func (out *TagList) Text(query string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d tag(s)", out.Total)
	if query != "" {
		fmt.Fprintf(&b, " matching %q", query)
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
	return b.String()
}

package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/client"
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
	{name: "limit", typ: argInteger, min: 1, max: maxLimit},
}

// keyItem is one key in a list_keys result. It never holds a secret.
type keyItem struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Kind       string   `json:"kind"`
	Tags       []string `json:"tags"`
	Prefix     string   `json:"prefix,omitempty"`
	CreatedAt  *string  `json:"created_at,omitempty"`
	ExpiresAt  *string  `json:"expires_at,omitempty"`
	LastUsedAt *string  `json:"last_used_at,omitempty"`
	Enabled    bool     `json:"enabled"`
	Expired    bool     `json:"expired"`
	Revocable  bool     `json:"revocable"`
}

// listKeysResult is the structured result of list_keys.
type listKeysResult struct {
	Keys    []keyItem `json:"keys"`
	Total   int       `json:"total"`
	Omitted int       `json:"omitted"`
}

// listKeysTool lists the organisation's keys, metadata only.
func (h *handlers) listKeysTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("list_keys", "List API keys",
			"List API keys (metadata only, never secrets), newest first, each marked revocable or not by the local policy.",
			listKeysInput, listKeysOutput, true, false, true),
		Handler: h.listKeys,
	}
}

func (h *handlers) listKeys(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, res := h.decode(ctx, req, listKeysArgs, false, "")
	if res != nil {
		return res, nil
	}
	keys, err := h.api.ListKeys(ctx)
	if err != nil {
		return upstreamFailure("list_keys", readCall, err), nil
	}
	out := shapeKeys(h.policy.Current(), keys, keyFilter{
		tag:             a.str("tag"),
		kind:            a.str("kind"),
		includeDisabled: a.boolOr("include_disabled", false),
		limit:           a.intOr("limit", defaultLimit),
	}, h.now(), func(ids []string) (map[string]bool, bool) { return h.mintedAmong(ctx, ids) })
	return mcp.NewToolResultStructured(out, keysText(out, a.str("tag"))), nil
}

// keyFilter selects and caps the keys of a listing.
type keyFilter struct {
	tag             string
	kind            string // "scoped", "full", "all" or ""
	includeDisabled bool
	limit           int
}

// mintedLookup says which of the given key ids the audit log records as
// minted through mcp-keys; ok is false when the log cannot be read.
type mintedLookup func(ids []string) (minted map[string]bool, ok bool)

// shapeKeys filters, sorts (newest first) and caps a listing, and marks each
// shown key revocable or not by the policy. Only the shown keys are
// evaluated, so a huge listing costs one pass and a sort; provenance is
// looked up once, for the shown keys only, and only when the policy needs it.
func shapeKeys(p *policy.Policy, keys []client.Key, f keyFilter, now time.Time, lookup mintedLookup) listKeysResult {
	matched := make([]*client.Key, 0, min(len(keys), 1024))
	for i := range keys {
		k := &keys[i]
		expired := !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now)
		switch {
		case !f.includeDisabled && (!k.Enabled || expired):
			continue
		case f.kind == "scoped" && k.Kind != client.KindScoped, f.kind == "full" && k.Kind == client.KindScoped:
			continue
		case f.tag != "" && !slices.Contains(k.Tags, f.tag):
			continue
		}
		matched = append(matched, k)
	}
	slices.SortStableFunc(matched, func(x, y *client.Key) int {
		if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	shown := matched[:min(f.limit, len(matched))]
	var minted map[string]bool
	mintedKnown := false
	if p.Revoke.OnlyMinted && lookup != nil {
		ids := make([]string, 0, len(shown))
		for _, k := range shown {
			if k.Kind == client.KindScoped && k.Enabled {
				ids = append(ids, k.ID)
			}
		}
		if len(ids) > 0 {
			minted, mintedKnown = lookup(ids)
		}
	}
	out := listKeysResult{Total: len(matched), Keys: make([]keyItem, 0, len(shown))}
	for _, k := range shown {
		expired := !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now)
		item := keyItem{
			ID: clean(k.ID), Name: clean(k.Name), Kind: string(kindOf(*k)), Tags: cleanAll(k.Tags),
			Prefix: clean(k.Prefix), CreatedAt: timeOrNil(k.CreatedAt), ExpiresAt: timeOrNil(k.ExpiresAt),
			LastUsedAt: timeOrNil(k.LastUsedAt), Enabled: k.Enabled, Expired: expired,
		}
		// An expired key can still be revoked (revoke_key would do it), so
		// it is judged like any enabled key.
		if k.Enabled && k.Kind == client.KindScoped {
			t := revokeTarget(k)
			switch {
			case !mintedKnown:
				t.Minted = policy.Unknown
			case minted[k.ID]:
				t.Minted = policy.Yes
			default:
				t.Minted = policy.No
			}
			item.Revocable = p.EvaluateRevoke(policy.RevokeRequest{ID: k.ID, Target: t}).Allowed
		}
		out.Keys = append(out.Keys, item)
	}
	out.Omitted = out.Total - len(out.Keys)
	return out
}

// kindOf is a key's kind; anything not positively Scoped is Full Access.
func kindOf(k client.Key) client.Kind {
	if k.Kind == client.KindScoped {
		return client.KindScoped
	}
	return client.KindFull
}

// revokeTarget is what the policy needs to know of a listed key.
func revokeTarget(k *client.Key) *policy.RevokeTarget {
	return &policy.RevokeTarget{ID: k.ID, Name: k.Name, Scoped: k.Kind == client.KindScoped, Tags: k.Tags, Enabled: k.Enabled}
}

// keysText is the readable form of a list_keys result.
func keysText(out listKeysResult, tag string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d key(s)", out.Total)
	if tag != "" {
		fmt.Fprintf(&b, " for tag %s", policy.Quote(tag))
	}
	if out.Omitted > 0 {
		fmt.Fprintf(&b, ", showing the newest %d (raise limit or filter to see more)", len(out.Keys))
	}
	b.WriteString(":\n")
	for _, k := range out.Keys {
		state := "active"
		switch {
		case !k.Enabled:
			state = "revoked"
		case k.Expired:
			state = "expired"
		}
		tags := "all tags (Full Access)"
		if k.Kind == string(client.KindScoped) {
			tags = "tags " + strings.Join(k.Tags, ", ")
		}
		fmt.Fprintf(&b, "- %s %q [%s] %s, %s, created %s, expires %s", k.ID, k.Name, k.Kind, tags, state,
			deref(k.CreatedAt, "unknown"), deref(k.ExpiresAt, "never"))
		if k.Revocable {
			b.WriteString(", revocable")
		}
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

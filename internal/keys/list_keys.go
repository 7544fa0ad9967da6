package keys

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// Listing limits shared by ListTags and ListKeys.
const (
	// DefaultLimit is how many items a listing shows when not told.
	DefaultLimit = 50
	// MaxLimit is the most items a listing shows.
	MaxLimit = 500
)

// KeyQuery selects and caps the keys of a listing.
type KeyQuery struct {
	// Tag keeps the keys bound to this exact tag ("" = any).
	Tag string
	// Kind is "scoped", "full", "all" or "" (all).
	Kind string
	// IncludeDisabled also shows revoked and expired keys.
	IncludeDisabled bool
	// Limit caps the keys shown (0 = DefaultLimit).
	Limit int
}

// ListKeys lists the organisation's keys (metadata only, never secrets),
// newest first, each marked revocable or not by the caller's policy.
func (s *Service) ListKeys(ctx context.Context, call Call, q KeyQuery) (*KeyList, error) {
	s.begin(ctx)
	keys, err := s.api.ListKeys(ctx)
	if err != nil {
		return nil, upstreamFailure(call.Tool, readCall, err)
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	out := shapeKeys(s.PolicyFor(call.Caller), call.Caller, keys, q,
		s.now(), func(ids []string) (map[string]audit.Mint, bool) { return s.mintedAmong(ctx, ids) })
	s.addLeases(ctx, &out)
	return &out, nil
}

// addLeases shows, on the listed keys that have one, when their lease ends.
func (s *Service) addLeases(ctx context.Context, out *KeyList) {
	ids := make([]string, 0, len(out.Keys))
	for _, k := range out.Keys {
		if k.Enabled && k.Kind == string(client.KindScoped) {
			ids = append(ids, k.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	st, err := s.store.get(ctx)
	if err != nil {
		return
	}
	leases, err := st.Leases(ctx, ids)
	if err != nil {
		s.log.Error().Err(err).Msg("reading leases for a listing")
		return
	}
	for i := range out.Keys {
		if l, ok := leases[out.Keys[i].ID]; ok {
			out.Keys[i].LeaseEndsAt = timeOrNil(l.EndsAt)
		}
	}
}

// KeyItem is one key of a listing. It never holds a secret.
type KeyItem struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Kind        string   `json:"kind"`
	Tags        []string `json:"tags"`
	Prefix      string   `json:"prefix,omitempty"`
	CreatedAt   *string  `json:"created_at,omitempty"`
	ExpiresAt   *string  `json:"expires_at,omitempty"`
	LastUsedAt  *string  `json:"last_used_at,omitempty"`
	Permission  string   `json:"permission,omitempty"`
	LeaseEndsAt *string  `json:"lease_ends_at,omitempty"`
	Enabled     bool     `json:"enabled"`
	Expired     bool     `json:"expired"`
	Revocable   bool     `json:"revocable"`
}

// KeyList is the answer of ListKeys: the shown keys, how many matched
// and how many of those were left out.
type KeyList struct {
	Keys    []KeyItem `json:"keys"`
	Total   int       `json:"total"`
	Omitted int       `json:"omitted"`
}

// mintedLookup says which of the given key ids the store records as
// minted through mcp-keys; ok is false when it cannot be read.
type mintedLookup func(ids []string) (minted map[string]audit.Mint, ok bool)

// shapeKeys filters, sorts (newest first) and caps a listing, and marks each
// shown key revocable or not by the policy. Only the shown keys are
// evaluated, so a huge listing costs one pass and a sort; provenance is
// looked up once, for the shown keys only, and only when the policy needs
// it. A remote caller sees only the keys its policy lets it see (those it
// minted, or with revoke scope team those minted through mcp-keys on its
// tags; never a Full Access key), so for it provenance is looked up for
// every candidate before the cap, and a store that cannot be read shows
// nothing.
func shapeKeys(p *policy.Policy, caller Caller, keys []client.Key, f KeyQuery, now time.Time, lookup mintedLookup) KeyList {
	matched := make([]*client.Key, 0, min(len(keys), 1024))
	for i := range keys {
		k := &keys[i]
		expired := !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now)
		switch {
		case !f.IncludeDisabled && (!k.Enabled || expired):
			continue
		case f.Kind == "scoped" && k.Kind != client.KindScoped, f.Kind == "full" && k.Kind == client.KindScoped:
			continue
		case f.Tag != "" && !slices.Contains(k.Tags, f.Tag):
			continue
		}
		matched = append(matched, k)
	}
	var minted map[string]audit.Mint
	mintedKnown := false
	if caller.Remote() {
		ids := make([]string, 0, len(matched))
		for _, k := range matched {
			if k.Kind == client.KindScoped {
				ids = append(ids, k.ID)
			}
		}
		if len(ids) > 0 && lookup != nil {
			minted, mintedKnown = lookup(ids)
		}
		visible := matched[:0]
		for _, k := range matched {
			t := revokeTarget(k)
			t.Minted, t.MintedByCaller = mintFacts(minted, caller, k.ID)
			if mintedKnown && p.KeyVisible(*t) {
				visible = append(visible, k)
			}
		}
		matched = visible
	}
	slices.SortStableFunc(matched, func(x, y *client.Key) int {
		if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
	shown := matched[:min(f.Limit, len(matched))]
	if !caller.Remote() && p.Revoke.OnlyMinted && lookup != nil {
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
	out := KeyList{Total: len(matched), Keys: make([]KeyItem, 0, len(shown))}
	for _, k := range shown {
		expired := !k.ExpiresAt.IsZero() && !k.ExpiresAt.After(now)
		item := KeyItem{
			ID: clean(k.ID), Name: clean(k.Name), Kind: string(kindOf(*k)), Tags: cleanAll(k.Tags),
			Prefix: clean(k.Prefix), CreatedAt: timeOrNil(k.CreatedAt), ExpiresAt: timeOrNil(k.ExpiresAt),
			LastUsedAt: timeOrNil(k.LastUsedAt), Enabled: k.Enabled, Expired: expired,
		}
		if k.Kind == client.KindScoped {
			item.Permission = clean(k.Permission)
		}
		// An expired key can still be revoked (revoke_key would do it), so
		// it is judged like any enabled key.
		if k.Enabled && k.Kind == client.KindScoped {
			t := revokeTarget(k)
			t.Minted, t.MintedByCaller = policy.Unknown, policy.Unknown
			if mintedKnown {
				t.Minted, t.MintedByCaller = mintFacts(minted, caller, k.ID)
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

// Text is the readable form of a listing; tag is the filter it was asked
// with ("" for none).
func (out *KeyList) Text(tag string) string {
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
		if k.Permission != "" {
			b.WriteString(", permission " + k.Permission)
		}
		if k.LeaseEndsAt != nil {
			b.WriteString(", lease ends " + *k.LeaseEndsAt)
		}
		if k.Revocable {
			b.WriteString(", revocable")
		}
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}

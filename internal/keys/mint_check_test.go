package keys

// Unit tests of checkCreated, the check of a create's answer before
// anything is handed on: the key's tags and permission must be exactly
// those asked for, as the answer shows them, else as a fresh listing shows
// the new key; a permission shown nowhere passes only for write, and only
// when the policy assumes write.

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// listingAPI answers ListKeys with a fixed listing (or error) and counts
// the calls; nothing else is expected of it.
type listingAPI struct {
	keys  []client.Key
	err   error
	lists int
}

func (a *listingAPI) ListKeys(context.Context) ([]client.Key, error) {
	a.lists++
	return a.keys, a.err
}
func (a *listingAPI) ListTags(context.Context) ([]client.Tag, error) { return nil, nil }
func (a *listingAPI) CreateScopedKey(context.Context, client.CreateScopedKeyRequest) (*client.CreatedKey, error) {
	return nil, errors.New("not expected")
}
func (a *listingAPI) RevokeKey(context.Context, string) (*client.RevokeResult, error) {
	return nil, errors.New("not expected")
}

// checkService builds a service over api under a policy that assumes write
// or not.
func checkService(t *testing.T, api API, assume bool) (*Service, *policy.Policy) {
	t.Helper()
	p, err := policy.Parse("policy.yaml", fmt.Appendf(nil, "tags:\n  allow: [\"proj-*\", \"user_*\"]\nkeys:\n  assume_write_permission: %t\n", assume))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{API: api, Policy: policy.Static(p), Logger: zerolog.Nop(),
		OpenStore: OpenFile(filepath.Join(t.TempDir(), "audit.jsonl"), audit.FileOptions{}),
		Now:       func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, p
}

func TestCheckCreated(t *testing.T) {
	const secret = client.Secret("sm_org1_abcdefghijklmnopqrstuvwxyz012345")
	two := []string{"proj-a", "user_b"}
	scoped := func(perm string, tags ...string) client.Key {
		return client.Key{ID: "k1", Name: "agent-x", Kind: client.KindScoped, Tags: tags, Permission: perm, Enabled: true}
	}
	tests := []struct {
		name    string
		assume  bool
		answer  client.CreatedKey // ID k1 and the secret are filled in unless Key is set
		listing []client.Key
		listErr error
		tags    []string // asked for
		perm    string   // asked for
		// want is "" for accepted, else a text the problem must hold.
		want string
		// lists is how many listings the check must make.
		lists int
	}{
		{name: "exact", answer: client.CreatedKey{Tags: two, Permission: "read"}, tags: two, perm: "read"},
		{name: "another order", answer: client.CreatedKey{Tags: []string{"user_b", "proj-a"}, Permission: "write"}, tags: two, perm: "write"},
		{name: "a tag shown twice", answer: client.CreatedKey{Tags: []string{"proj-a", "user_b", "proj-a"}, Permission: "write"}, tags: two, perm: "write"},
		{name: "a tag left out", answer: client.CreatedKey{Tags: []string{"proj-a"}, Permission: "write"}, tags: two, perm: "write",
			want: `it left out tag "user_b"`},
		{name: "a tag added", answer: client.CreatedKey{Tags: []string{"proj-a", "user_b", "proj-prod"}, Permission: "write"}, tags: two, perm: "write",
			want: `it added tag "proj-prod"`},
		{name: "a tag in other case", answer: client.CreatedKey{Tags: []string{"PROJ-A", "user_b"}, Permission: "write"}, tags: two, perm: "write",
			want: `left out tag "proj-a" and added tag "PROJ-A"`},
		{name: "an empty tag list", answer: client.CreatedKey{Tags: []string{}, Permission: "write"}, tags: two, perm: "write",
			want: "did not bind the key to any tag"},
		{name: "write for read", answer: client.CreatedKey{Tags: two, Permission: "write"}, tags: two, perm: "read",
			want: `did not honour permission read (the key has "write")`},
		{name: "read for write", answer: client.CreatedKey{Tags: two, Permission: "read"}, tags: two, perm: "write",
			want: "did not honour permission write"},
		{name: "an unknown permission", answer: client.CreatedKey{Tags: two, Permission: "admin"}, tags: two, perm: "write",
			want: `the key has "admin"`},
		{name: "a secret of the wrong shape", answer: client.CreatedKey{ID: "k1", Key: "sm_short", Tags: two, Permission: "write"}, tags: two, perm: "write",
			want: "does not look like a Supermemory key"},

		// What the answer does not show is read from a fresh listing.
		{name: "tags from the listing", answer: client.CreatedKey{Permission: "read"}, listing: []client.Key{scoped("read", "user_b", "proj-a")},
			tags: two, perm: "read", lists: 1},
		{name: "permission from the listing", answer: client.CreatedKey{Tags: two}, listing: []client.Key{scoped("read", "proj-a", "user_b")},
			tags: two, perm: "read", lists: 1},
		{name: "the listing shows write for read", answer: client.CreatedKey{Tags: two}, listing: []client.Key{scoped("write", "proj-a", "user_b")},
			tags: two, perm: "read", want: "did not honour permission read", lists: 1},
		{name: "the listing shows a tag fewer", answer: client.CreatedKey{Permission: "write"}, listing: []client.Key{scoped("write", "proj-a")},
			tags: two, perm: "write", want: `left out tag "user_b"`, lists: 1},
		{name: "the listing shows Full Access", answer: client.CreatedKey{Permission: "write"},
			listing: []client.Key{{ID: "k1", Kind: client.KindFull, Tags: two, Permission: "write", Enabled: true}},
			tags:    two, perm: "write", want: "did not bind the key to any tag", lists: 1},
		{name: "the listing shows an unreadable tag", answer: client.CreatedKey{Permission: "write"},
			listing: []client.Key{scoped("write", "proj-a", "user_b", client.UnreadableTag)},
			tags:    two, perm: "write", want: "it added tag", lists: 1},
		{name: "the key is not listed", answer: client.CreatedKey{Permission: "write"}, listing: []client.Key{{ID: "other", Kind: client.KindScoped, Tags: two}},
			tags: two, perm: "write", want: "does not appear in a fresh listing", lists: 1},
		{name: "the listing fails", answer: client.CreatedKey{Tags: two}, listErr: errors.New("boom"),
			tags: two, perm: "write", want: "could not be checked in a fresh listing", lists: 1},

		// A permission shown nowhere.
		{name: "write shown nowhere", answer: client.CreatedKey{Tags: two}, listing: []client.Key{scoped("", "proj-a", "user_b")},
			tags: two, perm: "write", want: "permission write could not be verified", lists: 1},
		{name: "write shown nowhere, write assumed", assume: true, answer: client.CreatedKey{Tags: two}, listing: []client.Key{scoped("", "proj-a", "user_b")},
			tags: two, perm: "write", lists: 1},
		{name: "read shown nowhere", answer: client.CreatedKey{Tags: two}, listing: []client.Key{scoped("", "proj-a", "user_b")},
			tags: two, perm: "read", want: "permission read could not be verified", lists: 1},
		{name: "read shown nowhere, write assumed", assume: true, answer: client.CreatedKey{Tags: two}, listing: []client.Key{scoped("", "proj-a", "user_b")},
			tags: two, perm: "read", want: "permission read could not be verified", lists: 1},
		{name: "write shown nowhere, write assumed, a tag left out", assume: true, answer: client.CreatedKey{Tags: []string{"proj-a"}},
			listing: []client.Key{scoped("", "proj-a")}, tags: two, perm: "write", want: `left out tag "user_b"`, lists: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &listingAPI{keys: tc.listing, err: tc.listErr}
			s, p := checkService(t, api, tc.assume)
			answer := tc.answer
			if answer.Key == "" {
				answer.ID, answer.Key = "k1", secret
			}
			got := s.checkCreated(context.Background(), p, &answer, policy.Effective{Tags: tc.tags, Permission: tc.perm}, Local())
			switch {
			case tc.want == "" && got != "":
				t.Errorf("refused: %s", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("problem %q, want it to hold %q", got, tc.want)
			}
			if api.lists != tc.lists {
				t.Errorf("%d listings, want %d", api.lists, tc.lists)
			}
			if strings.Contains(got, secret.Reveal()) {
				t.Error("the problem holds the secret")
			}
		})
	}
}

// TestCheckCreatedListedTwice is a listing that shows the new key twice,
// once as read and once as write: the key must read as the wider, so a read
// request is not honoured. Known bug: findTarget merges the kind, tags and
// enabled flag of duplicate entries but not the permission, so the first
// entry's wins (see the report of the least-privilege tests).
func TestCheckCreatedListedTwice(t *testing.T) {
	api := &listingAPI{keys: []client.Key{
		{ID: "k1", Kind: client.KindScoped, Tags: []string{"proj-a"}, Permission: "read", Enabled: true},
		{ID: "k1", Kind: client.KindScoped, Tags: []string{"proj-a"}, Permission: "write", Enabled: true},
	}}
	s, p := checkService(t, api, false)
	answer := client.CreatedKey{ID: "k1", Key: "sm_org1_abcdefghijklmnopqrstuvwxyz012345", Tags: []string{"proj-a"}}
	if got := s.checkCreated(context.Background(), p, &answer, policy.Effective{Tags: []string{"proj-a"}, Permission: "read"}, Local()); !strings.Contains(got, "did not honour permission read") {
		t.Errorf("a key listed as read and as write was accepted as read: %q", got)
	}
}

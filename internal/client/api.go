// Package client is a typed client for the five Supermemory key-management
// endpoints that mcp-keys is allowed to call, and for nothing else.
//
// Requests are built from a closed set of endpoints, never from a caller's
// string: there is no method that takes a path. The only caller-supplied path
// segment is a key id, which is validated against a conservative character
// set and path-escaped before use. The client knows nothing of MCP or policy.
package client

import (
	"time"
)

// Kind says whether a key is Scoped (bound to container tags, data endpoints
// only) or Full Access (can do everything, including minting keys).
type Kind string

const (
	// KindScoped is a key bound to one or more container tags.
	KindScoped Kind = "scoped"
	// KindFull is a Full Access key. Anything not positively Scoped is Full.
	KindFull Kind = "full"
)

// UnreadableTag stands in Key.Tags for a tag the listing holds but that
// cannot be read as one (see Key). It contains characters no valid tag has,
// so a policy's tag check fails on it and names it.
const UnreadableTag = "(unreadable tag)"

// Secret holds a credential. It formats, logs and marshals as a redaction
// marker; only Reveal returns the value.
type Secret string

// Key is one API key of the organisation as shown by a listing. It never
// holds a secret: Prefix is the short non-secret start of the key.
type Key struct {
	ID   string
	Name string
	// Kind and Tags are decoded so that ambiguity makes a key less
	// revocable: mcp-keys revokes only a Scoped key all of whose tags pass
	// the policy, so a doubtful answer must never read as Scoped with fewer
	// or tamer tags than the key really has.
	//
	// Tags is the union, without duplicates, of the listing's containerTags
	// (first, in order) and containerTag, never one in place of the other.
	// A tag that cannot be read is kept as UnreadableTag, which no policy
	// passes: an element of containerTags that is not a non-empty string
	// (null included), a containerTag that is not one, or a containerTags
	// that is not an array. A null containerTag or containerTags adds no tag.
	//
	// Kind is Full if isScoped is false, or present but not a boolean (true,
	// false, "true", "false", 1 or 0), whatever the tags say; Scoped if
	// isScoped is true, even without tags (the policy refuses a key without
	// tags); and, if isScoped is absent or null, Scoped if and only if Tags
	// is not empty (an UnreadableTag counts).
	//
	// A member sent twice counts twice: every containerTag and containerTags
	// adds its tags, and an isScoped that says Full anywhere wins.
	Kind Kind
	Tags []string

	Prefix string
	// Permission is "read" or "write" as the listing says, "" if it does
	// not. Ambiguity makes it wider: of several permission members the
	// widest wins ("write" over "read"); a value that is neither is kept
	// as sent, being wider as far as anyone knows; and one that cannot be
	// read (not a string, empty, or two such values that differ) is
	// UnreadablePermission.
	Permission string
	CreatedAt  time.Time // zero if unknown
	ExpiresAt  time.Time // zero means never expires
	LastUsedAt time.Time // zero if never used or unknown
	Enabled    bool
	// Metadata is the decoded "metadata" JSON string, string values only.
	Metadata map[string]string
}

// Tag is one container tag of the organisation.
type Tag struct {
	Tag            string
	Name           string
	Description    string
	DocumentCount  int64
	MemoryCount    int64
	CreatedAt      time.Time
	LastActivityAt time.Time // zero if never active
}

// Session is the answer of GET /v3/session: who the configured key belongs to.
type Session struct {
	UserID     string
	UserEmail  string
	UserName   string
	OrgID      string
	OrgName    string
	OrgSlug    string
	Plan       string
	Role       string
	AccessType string // "full" for a Full Access key
	ScopeType  string // "full" or "scoped"
	// ScopePermission is scope.permission, e.g. "write"; "" if absent.
	ScopePermission string
	ScopeTags       []string
}

// CreateScopedKeyRequest is the body of POST /v3/auth/scoped-key. The client
// sends every field (expiresInDays always: the API's own default is "never
// expires"); it does not check the policy, but refuses a request that is
// malformed (see [Client.CreateScopedKey]).
type CreateScopedKeyRequest struct {
	// Tags are the key's container tags: 1 to MaxTags distinct valid tags
	// (see ValidTag). One tag is sent as containerTag, several as
	// containerTags.
	Tags []string
	// Permission is "read" or "write"; it is always sent.
	Permission        string
	Name              string
	ExpiresInDays     int
	RateLimitMax      int
	RateLimitWindowMs int
}

// CreatedKey is a newly minted scoped key. Key is the secret, returned once.
//
// Tags and Permission say what the answer says the key may do, read so that
// ambiguity makes the key look wider, never narrower, and a check that the
// key is exactly what was asked for fails closed: the rules are those of
// Key.Tags and Key.Permission, with scope.permission counted as a
// permission member too.
type CreatedKey struct {
	Key  Secret
	ID   string
	Name string
	// Tags is the union of the answer's containerTags and containerTag
	// (UnreadableTag for an entry that cannot be read); nil when the answer
	// shows neither.
	Tags []string
	// Permission is the answer's permission, "" when it does not say.
	Permission       string
	ExpiresAt        time.Time
	AllowedEndpoints []string
}

// RevokeResult is the answer of DELETE /v3/auth/scoped-key/{id}.
type RevokeResult struct {
	ID      string
	Success bool
}

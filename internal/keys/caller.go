package keys

import "context"

// CallerKind says how a caller proved who it is.
type CallerKind string

// Caller kinds.
const (
	// CallerLocal is the one caller of a stdio server: the agent's own host.
	CallerLocal CallerKind = "local"
	// CallerToken is a static caller token from the callers file.
	CallerToken CallerKind = "token"
	// CallerOAuth is an OAuth access token (a JWT) from the configured issuer.
	CallerOAuth CallerKind = "oauth"
	// CallerSystem is mcp-keys itself (the lease reaper).
	CallerSystem CallerKind = "system"
)

// Caller is who asks for a use case. The HTTP layer builds it from a
// verified token; stdio uses [Local]. It never holds the token itself.
type Caller struct {
	// Kind is how the caller was authenticated.
	Kind CallerKind
	// Issuer and Subject are the OAuth token's iss and sub.
	Issuer, Subject string
	// Email is the OAuth token's email claim, if any.
	Email string
	// Groups are the OAuth token's groups (the configured claim).
	Groups []string
	// TokenName is the static token's name in the callers file.
	TokenName string
	// Scopes are the token's scopes (keys:read, keys:write). Local and
	// system callers hold every scope.
	Scopes []string
}

// Scopes a remote caller may hold.
const (
	// ScopeRead allows list_tags, list_keys, check_policy and the policy resource.
	ScopeRead = "keys:read"
	// ScopeWrite allows create_scoped_key, revoke_key and rotate_key.
	ScopeWrite = "keys:write"
)

// Local is the caller of a stdio server.
func Local() Caller { return Caller{Kind: CallerLocal} }

// System is mcp-keys itself, for the lease reaper's records.
func System() Caller { return Caller{Kind: CallerSystem} }

// ID is the caller's stable identity as audit records and provenance name
// it: "local", "system", "token:NAME", or "oauth:ISS#SUB".
func (c Caller) ID() string {
	switch c.Kind {
	case CallerToken:
		return "token:" + c.TokenName
	case CallerOAuth:
		return "oauth:" + c.Issuer + "#" + c.Subject
	case CallerSystem:
		return string(CallerSystem)
	default:
		return string(CallerLocal)
	}
}

// String is the caller as logs show it: its ID, plus the email when one is
// known.
func (c Caller) String() string {
	if c.Email != "" {
		return c.ID() + " <" + c.Email + ">"
	}
	return c.ID()
}

// HasScope reports whether the caller holds a scope. Local and system
// callers hold every scope.
func (c Caller) HasScope(scope string) bool {
	if c.Kind == CallerLocal || c.Kind == CallerSystem || c.Kind == "" {
		return true
	}
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Remote reports whether the caller came over HTTP (and so is subject to
// the policy's callers: section).
func (c Caller) Remote() bool { return c.Kind == CallerToken || c.Kind == CallerOAuth }

// callerKey is the context key of the caller.
type callerKey struct{}

// ContextWithCaller returns ctx carrying the caller, for transports that
// authenticate a request before the tools run.
func ContextWithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFromContext returns the caller ctx carries, if any.
func CallerFromContext(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

package remote

import (
	"context"
	"errors"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// Authenticator turns a bearer token into the caller it proves. A refused
// token's error wraps ErrInvalidToken; any other error means the token could
// not be checked now. Errors must not contain the token.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (keys.Caller, error)
}

// TokenLookup finds a static caller token (callers.Store implements it):
// found reports a match; an error means the callers file is unusable now.
type TokenLookup interface {
	Lookup(token string) (c keys.Caller, found bool, err error)
}

// NewAuthenticator accepts static caller tokens from static and OAuth
// access tokens from oauth; pass a nil (untyped nil for static) for the one
// not configured. At least one is required: there is no unauthenticated
// remote mode.
func NewAuthenticator(static TokenLookup, oauth *OAuthVerifier) (Authenticator, error) {
	if static == nil && oauth == nil {
		return nil, errors.New("remote mode needs MCP_KEYS_OAUTH_ISSUER or MCP_KEYS_CALLERS_FILE: there is no unauthenticated remote mode")
	}
	return &authenticator{static: static, oauth: oauth}, nil
}

// authenticator tries the static tokens, then (for a JWT-shaped token) the
// issuer.
type authenticator struct {
	static TokenLookup
	oauth  *OAuthVerifier
}

func (a *authenticator) Authenticate(ctx context.Context, token string) (keys.Caller, error) {
	jwtShaped := looksLikeJWS(token)
	if a.static != nil {
		c, found, err := a.static.Lookup(token)
		switch {
		case err != nil && (a.oauth == nil || !jwtShaped):
			return keys.Caller{}, &unavailableError{reason: "callers file unusable", err: err}
		case err == nil && found:
			return c, nil
		}
	}
	if a.oauth != nil && jwtShaped {
		return a.oauth.Verify(ctx, token)
	}
	return keys.Caller{}, invalid("unknown token")
}

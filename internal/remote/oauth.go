package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// Leeway is the clock skew allowed on exp, nbf and iat: no more.
const Leeway = 60 * time.Second

// DefaultGroupsClaim is the claim holding the caller's groups unless
// MCP_KEYS_OAUTH_GROUPS_CLAIM says otherwise.
const DefaultGroupsClaim = "groups"

// OAuthConfig configures an OAuthVerifier.
type OAuthConfig struct {
	// Issuer is MCP_KEYS_OAUTH_ISSUER: https, or http to loopback only.
	Issuer string
	// Audience must be among a token's aud (MCP_KEYS_OAUTH_AUDIENCE,
	// defaulting to the public URL).
	Audience string
	// GroupsClaim names the claim with the caller's groups (default
	// "groups").
	GroupsClaim string
	// HTTPClient fetches the metadata and the JWKS (default: 10 s timeout,
	// no redirects).
	HTTPClient *http.Client
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

// OAuthVerifier checks OAuth access tokens (JWTs) of one issuer, as an
// OAuth 2.1 resource server: signature by a key of the issuer's JWKS with
// RS256, ES256 or EdDSA only (never none or HS*, and only the algorithm the
// key is for), iss exact, aud containing the audience, exp present and in
// the future, nbf and iat not in the future, Leeway of skew. Signature and
// claim checks are github.com/lestrrat-go/jwx/v3's; the key selection and
// its refetch bound are here. Safe for concurrent use.
type OAuthVerifier struct {
	issuer      string
	audience    string
	groupsClaim string
	now         func() time.Time
	keys        *keySet
}

// NewOAuthVerifier checks cfg; it does no I/O (see Prime).
func NewOAuthVerifier(cfg OAuthConfig) (*OAuthVerifier, error) {
	iss, err := checkIssuer(cfg.Issuer)
	if err != nil {
		return nil, err
	}
	if cfg.Audience == "" {
		return nil, errors.New("OAuth: the audience (MCP_KEYS_OAUTH_AUDIENCE or MCP_KEYS_PUBLIC_URL) is empty")
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = DefaultGroupsClaim
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &OAuthVerifier{
		issuer:      cfg.Issuer,
		audience:    cfg.Audience,
		groupsClaim: cfg.GroupsClaim,
		now:         cfg.Now,
		keys:        &keySet{issuer: iss, client: httpClientOrDefault(cfg.HTTPClient), now: cfg.Now},
	}, nil
}

// Issuer is the issuer this verifier accepts.
func (v *OAuthVerifier) Issuer() string { return v.issuer }

// Prime discovers the issuer's metadata and loads its JWKS now, so that
// start-up can report a misconfigured issuer. Without it the first token
// loads them.
func (v *OAuthVerifier) Prime(ctx context.Context) error {
	if err := v.keys.refresh(ctx); err != nil {
		return fmt.Errorf("OAuth issuer %s: %w", v.issuer, err)
	}
	return nil
}

// Ready reports whether the issuer's keys are loaded (for /readyz).
func (v *OAuthVerifier) Ready() error {
	ok, err := v.keys.loaded()
	if ok {
		return nil
	}
	if err != nil {
		return fmt.Errorf("OAuth issuer keys not loaded: %w", err)
	}
	return errors.New("OAuth issuer keys not loaded yet")
}

// allowedAlgs are the only JWS algorithms accepted.
var allowedAlgs = []string{jwa.RS256().String(), jwa.ES256().String(), jwa.EdDSA().String()}

// Verify checks token and returns its caller. A refused token's error wraps
// ErrInvalidToken and says why in fixed words; an error that does not wrap
// it means the keys could not be loaded. No error contains the token.
func (v *OAuthVerifier) Verify(ctx context.Context, token string) (keys.Caller, error) {
	if !looksLikeJWS(token) {
		return keys.Caller{}, invalid("not a compact JWS")
	}
	var (
		refusal     error
		unavailable error
	)
	provider := jws.KeyProviderFunc(func(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		h := sig.ProtectedHeaders()
		alg, ok := h.Algorithm()
		if !ok || !slices.Contains(allowedAlgs, alg.String()) {
			refusal = invalid("algorithm not allowed")
			return refusal
		}
		if crit, ok := h.Critical(); ok && len(crit) > 0 {
			refusal = invalid("critical header extensions are not supported")
			return refusal
		}
		kid, ok := h.KeyID()
		if !ok || kid == "" {
			refusal = invalid("no kid")
			return refusal
		}
		k, found, err := v.keys.lookup(ctx, kid)
		if err != nil {
			unavailable = &unavailableError{reason: "issuer keys not loaded", err: err}
			return unavailable
		}
		if !found {
			refusal = invalid("unknown key")
			return refusal
		}
		if k.alg.String() != alg.String() {
			refusal = invalid("algorithm does not match the key")
			return refusal
		}
		sink.Key(k.alg, k.pub)
		return nil
	})
	tok, err := jwt.ParseString(token,
		jwt.WithKeyProvider(provider),
		jwt.WithContext(ctx),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithAcceptableSkew(Leeway),
		jwt.WithClock(jwt.ClockFunc(v.now)),
	)
	switch {
	case unavailable != nil:
		return keys.Caller{}, unavailable
	case refusal != nil:
		return keys.Caller{}, refusal
	case err != nil:
		return keys.Caller{}, invalid(claimReason(err))
	}
	return v.caller(tok)
}

// claimReason names a jwx parse or validation failure in fixed words.
func claimReason(err error) string {
	switch {
	case errors.Is(err, jwt.TokenExpiredError()):
		return "expired"
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return "not valid yet (nbf)"
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		return "issued in the future (iat)"
	case errors.Is(err, jwt.InvalidIssuerError()):
		return "wrong issuer"
	case errors.Is(err, jwt.InvalidAudienceError()):
		return "wrong audience"
	case errors.Is(err, jwt.MissingRequiredClaimError()):
		return "a required claim is missing"
	case errors.Is(err, jwt.ValidateError()):
		return "claims not valid"
	default:
		return "bad signature or malformed token"
	}
}

// caller builds the Caller from verified claims: sub is required; scopes
// from scope (space-separated) or scp (array or string); groups from the
// configured claim (array or string); email if it is a string.
func (v *OAuthVerifier) caller(tok jwt.Token) (keys.Caller, error) {
	sub, ok := tok.Subject()
	if !ok || sub == "" {
		return keys.Caller{}, invalid("no sub")
	}
	c := keys.Caller{Kind: keys.CallerOAuth, Issuer: v.issuer, Subject: sub}
	var email string
	if tok.Get("email", &email) == nil {
		c.Email = email
	}
	var scope string
	if tok.Get("scope", &scope) == nil {
		c.Scopes = strings.Fields(scope)
	} else {
		c.Scopes = stringList(tok, "scp", true)
	}
	c.Groups = stringList(tok, v.groupsClaim, false)
	return c, nil
}

// stringList reads a claim that is an array of strings or a single string
// (split on spaces when split is set). Non-string items are skipped.
func stringList(tok jwt.Token, name string, split bool) []string {
	var raw any
	if tok.Get(name, &raw) != nil {
		return nil
	}
	switch v := raw.(type) {
	case string:
		if split {
			return strings.Fields(v)
		}
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		var out []string
		for _, item := range v {
			if s, ok := item.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return slices.Clone(v)
	default:
		return nil
	}
}

// looksLikeJWS reports whether token is three non-empty-headed base64url
// segments: a compact JWS. JSON serialisation and JWE are refused before
// any parsing.
func looksLikeJWS(token string) bool {
	dots := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			dots++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return dots == 2 && token[0] != '.'
}

package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/callers"
)

// Deps are what New needs besides the Config.
type Deps struct {
	// MCP is the mcp-go StreamableHTTPServer, stateless, at /mcp.
	MCP http.Handler
	// ToolScope says which scope a tool needs ("" means keys:write).
	ToolScope func(tool string) string
	// Ready checks the policy, the store and the upstream for /readyz
	// (short, non-secret errors). The issuer's keys are checked as well.
	Ready func(ctx context.Context) error
	// Logger gets refusals and problems; never a token.
	Logger zerolog.Logger
	// IdPClient fetches the issuer's metadata and JWKS (default: 10 s
	// timeout, no redirects).
	IdPClient *http.Client
}

// New builds the Handler for a resolved Config: it opens the callers file
// (refusing a missing, insecure or invalid one) and prepares the OAuth
// verifier. It tries to load the issuer's keys now, and logs (does not
// fail) when it cannot: the first token retries, and /readyz fails until
// the keys are loaded.
func New(ctx context.Context, cfg Config, d Deps) (*Handler, error) {
	var static TokenLookup
	if cfg.CallersFile != "" {
		s, err := callers.Open(cfg.CallersFile)
		if err != nil {
			return nil, err
		}
		static = s
	}
	var oauth *OAuthVerifier
	if cfg.OAuthIssuer != "" {
		v, err := NewOAuthVerifier(OAuthConfig{
			Issuer: cfg.OAuthIssuer, Audience: cfg.OAuthAudience, GroupsClaim: cfg.GroupsClaim, HTTPClient: d.IdPClient,
		})
		if err != nil {
			return nil, err
		}
		if err := v.Prime(ctx); err != nil {
			d.Logger.Warn().Err(err).Msg("OAuth issuer keys not loaded yet; the first token retries")
		}
		oauth = v
	}
	auth, err := NewAuthenticator(static, oauth)
	if err != nil {
		return nil, err
	}
	ready := d.Ready
	if oauth != nil {
		ready = func(ctx context.Context) error {
			if err := oauth.Ready(); err != nil {
				return errors.New("OAuth issuer keys not loaded")
			}
			if d.Ready != nil {
				return d.Ready(ctx)
			}
			return nil
		}
	}
	h, err := NewHandler(Options{
		MCP: d.MCP, PublicURL: cfg.PublicURL, Issuer: cfg.OAuthIssuer, Authenticator: auth,
		ToolScope: d.ToolScope, Ready: ready, AllowedOrigins: cfg.AllowedOrigins,
		RateLimit: cfg.RateLimit, Logger: d.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return h, nil
}

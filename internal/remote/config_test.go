package remote

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/callers"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/remote/idptest"
)

func TestConfigResolve(t *testing.T) {
	const iss = "https://idp.example.com"
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string // a piece of the error, or "" for success
		check   func(t *testing.T, c Config)
	}{
		{"no authentication", Config{Addr: "127.0.0.1:8080"}, "no unauthenticated remote mode", nil},
		{"loopback defaults", Config{Addr: "127.0.0.1:8080", OAuthIssuer: iss}, "", func(t *testing.T, c Config) {
			if c.PublicURL != "http://127.0.0.1:8080/mcp" || c.OAuthAudience != c.PublicURL || c.GroupsClaim != "groups" || c.RateLimit != 600 {
				t.Fatalf("%+v", c)
			}
		}},
		{"loopback with TLS", Config{Addr: "localhost:8443", CallersFile: "f", TLSCert: "c", TLSKey: "k"}, "", func(t *testing.T, c Config) {
			if c.PublicURL != "https://localhost:8443/mcp" {
				t.Fatal(c.PublicURL)
			}
		}},
		{"ipv6 loopback", Config{Addr: "[::1]:8080", CallersFile: "f"}, "", nil},
		{"explicit audience kept", Config{Addr: "127.0.0.1:8080", OAuthIssuer: iss, OAuthAudience: "api://keys"}, "", func(t *testing.T, c Config) {
			if c.OAuthAudience != "api://keys" {
				t.Fatal(c.OAuthAudience)
			}
		}},
		{"all interfaces, plain HTTP", Config{Addr: ":8080", CallersFile: "f", PublicURL: "https://keys.example.com/mcp"}, "is not loopback", nil},
		{"non-loopback without public URL", Config{Addr: "0.0.0.0:8080", CallersFile: "f", BehindProxy: true}, "MCP_KEYS_PUBLIC_URL is required", nil},
		{"behind a proxy", Config{Addr: "0.0.0.0:8080", CallersFile: "f", BehindProxy: true, PublicURL: "https://keys.example.com/mcp"}, "", nil},
		{"non-loopback with TLS", Config{Addr: "10.0.0.5:8443", CallersFile: "f", TLSCert: "c", TLSKey: "k", PublicURL: "https://keys.example.com/mcp"}, "", nil},
		{"public URL plain http off loopback", Config{Addr: "0.0.0.0:8080", CallersFile: "f", BehindProxy: true, PublicURL: "http://keys.example.com/mcp"}, "loopback host only", nil},
		{"cert without key", Config{Addr: "127.0.0.1:8080", CallersFile: "f", TLSCert: "c"}, "go together", nil},
		{"port 0 without public URL", Config{Addr: "127.0.0.1:0", CallersFile: "f"}, "chosen by the system", nil},
		{"no address", Config{CallersFile: "f"}, "want HOST:PORT", nil},
		{"address without port", Config{Addr: "127.0.0.1", CallersFile: "f"}, "want HOST:PORT", nil},
		{"http issuer off loopback", Config{Addr: "127.0.0.1:8080", OAuthIssuer: "http://idp.example.com"}, "loopback host only", nil},
		{"http issuer on loopback", Config{Addr: "127.0.0.1:8080", OAuthIssuer: "http://127.0.0.1:9000"}, "", nil},
		{"negative rate limit", Config{Addr: "127.0.0.1:8080", CallersFile: "f", RateLimit: -5}, "MCP_KEYS_RATE_LIMIT", nil},
		{"origins normalised", Config{Addr: "127.0.0.1:8080", CallersFile: "f", AllowedOrigins: []string{" https://App.example.com ", "", "http://localhost:3000"}}, "", func(t *testing.T, c Config) {
			if !slices.Equal(c.AllowedOrigins, []string{"https://app.example.com", "http://localhost:3000"}) {
				t.Fatal(c.AllowedOrigins)
			}
		}},
		{"origin with a path", Config{Addr: "127.0.0.1:8080", CallersFile: "f", AllowedOrigins: []string{"https://app.example.com/x"}}, "MCP_KEYS_ALLOWED_ORIGINS", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.Resolve()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Resolve = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

func TestNewFromConfig(t *testing.T) {
	idp := idptest.New(t)
	path := filepath.Join(t.TempDir(), "callers")
	tok, err := callers.Add(path, "bot", []string{keys.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Config{Addr: "127.0.0.1:8080", OAuthIssuer: idp.Issuer(), CallersFile: path}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(t.Context(), cfg, Deps{MCP: &recorder{}, ToolScope: designToolScope, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if idp.JWKSFetches() != 1 {
		t.Fatalf("New did not load the issuer's keys (%d fetches)", idp.JWKSFetches())
	}
	c, err := h.opts.Authenticator.Authenticate(t.Context(), tok)
	if err != nil || c.TokenName != "bot" {
		t.Fatalf("static token: %+v, %v", c, err)
	}
	c, err = h.opts.Authenticator.Authenticate(t.Context(), idp.Token(t, idp.Claims(cfg.PublicURL, "u")))
	if err != nil || c.Subject != "u" {
		t.Fatalf("OAuth token: %+v, %v", c, err)
	}
	if err := h.opts.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A callers file that is not 0600 is a start-up error.
	if err := chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := New(t.Context(), cfg, Deps{MCP: &recorder{}, ToolScope: designToolScope}); err == nil {
		t.Fatal("New accepted a group-readable callers file")
	}
}

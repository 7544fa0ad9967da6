package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/remote/idptest"
)

// BenchmarkVerify is the cost of one OAuth token check with the JWKS
// cached: parse, signature, claims, caller.
func BenchmarkVerify(b *testing.B) {
	idp := idptest.New(b)
	v, err := NewOAuthVerifier(OAuthConfig{Issuer: idp.Issuer(), Audience: "https://keys.example.com/mcp"})
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Prime(context.Background()); err != nil {
		b.Fatal(err)
	}
	for _, alg := range []idptest.Alg{idptest.RS256, idptest.ES256, idptest.EdDSA} {
		c := idp.Claims("https://keys.example.com/mcp", "user-1", keys.ScopeRead, keys.ScopeWrite)
		c["groups"] = []string{"search-team"}
		c["exp"] = c["exp"].(int64) + 3600
		tok := idp.Mint(b, idptest.Mint{Alg: alg, Claims: c})
		b.Run(string(alg), func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if idp.JWKSFetches() != 1 {
		b.Fatalf("JWKS fetched %d times", idp.JWKSFetches())
	}
}

// BenchmarkHandler is the whole chain for one tools/call in process (no
// network): limits, Origin, token, scope, rate limit, context.
func BenchmarkHandler(b *testing.B) {
	idp := idptest.New(b)
	const public = "https://keys.example.com/mcp"
	v, _ := NewOAuthVerifier(OAuthConfig{Issuer: idp.Issuer(), Audience: public})
	if err := v.Prime(context.Background()); err != nil {
		b.Fatal(err)
	}
	auth, _ := NewAuthenticator(nil, v)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h, err := NewHandler(Options{MCP: ok, PublicURL: public, Authenticator: auth, ToolScope: designToolScope,
		RateLimit: 1 << 30, Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	c := idp.Claims(public, "user-1", keys.ScopeRead)
	c["exp"] = c["exp"].(int64) + 3600
	tok := idp.Token(b, c)
	body := callBody("list_tags")
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "https://keys.example.com/mcp", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

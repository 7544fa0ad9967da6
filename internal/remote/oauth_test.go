package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/remote/idptest"
)

// jwksFetches is how many JWKS fetches v made.
func (v *OAuthVerifier) jwksFetches() int {
	v.keys.mu.Lock()
	defer v.keys.mu.Unlock()
	return v.keys.fetches
}

func TestDiscoveryFallsBackToOpenIDConfiguration(t *testing.T) {
	idp := idptest.New(t, idptest.OIDCOnly())
	v, err := NewOAuthVerifier(OAuthConfig{Issuer: idp.Issuer(), Audience: "https://keys.example.com/mcp"})
	if err != nil {
		t.Fatal(err)
	}
	tok := idp.Token(t, idp.Claims("https://keys.example.com/mcp", "u", keys.ScopeRead))
	c, err := v.Verify(t.Context(), tok)
	if err != nil || c.Subject != "u" {
		t.Fatalf("Verify via OpenID discovery: %+v, %v", c, err)
	}
	if idp.MetadataFetches() != 2 || idp.JWKSFetches() != 1 {
		t.Fatalf("metadata fetches %d (want 2: RFC 8414 then OpenID), JWKS fetches %d", idp.MetadataFetches(), idp.JWKSFetches())
	}
}

func TestMetadataURLs(t *testing.T) {
	for _, tc := range []struct{ issuer, rfc8414, oidc string }{
		{"https://idp.example.com", "https://idp.example.com/.well-known/oauth-authorization-server", "https://idp.example.com/.well-known/openid-configuration"},
		{"https://idp.example.com/", "https://idp.example.com/.well-known/oauth-authorization-server", "https://idp.example.com/.well-known/openid-configuration"},
		{"https://idp.example.com/tenant/a", "https://idp.example.com/.well-known/oauth-authorization-server/tenant/a", "https://idp.example.com/tenant/a/.well-known/openid-configuration"},
	} {
		u, _ := url.Parse(tc.issuer)
		got := metadataURLs(u)
		if got[0] != tc.rfc8414 || got[1] != tc.oidc {
			t.Errorf("%s: %q", tc.issuer, got)
		}
	}
}

func TestBadIssuerMetadataFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
	}{
		{"issuer mismatch", func(m map[string]any) { m["issuer"] = "https://other.example.com" }},
		{"no jwks_uri", func(m map[string]any) { delete(m, "jwks_uri") }},
		{"jwks_uri plain http off loopback", func(m map[string]any) { m["jwks_uri"] = "http://keys.example.com/jwks" }},
		{"jwks_uri not a URL", func(m map[string]any) { m["jwks_uri"] = "::" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idp := idptest.New(t)
			idp.EditMetadata(tc.edit)
			v, err := NewOAuthVerifier(OAuthConfig{Issuer: idp.Issuer(), Audience: "aud"})
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Prime(t.Context()); err == nil {
				t.Fatal("Prime succeeded")
			}
			if v.Ready() == nil {
				t.Fatal("Ready with no keys")
			}
			_, err = v.Verify(t.Context(), idp.Token(t, idp.Claims("aud", "u")))
			if err == nil || errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %v; want an unavailable error (503), not a refusal", err)
			}
			if idp.JWKSFetches() != 0 {
				t.Fatal("the JWKS was fetched from unchecked metadata")
			}
		})
	}
}

func TestNewOAuthVerifierRefuses(t *testing.T) {
	for _, iss := range []string{
		"", "idp.example.com", "http://idp.example.com", "ftp://idp.example.com",
		"https://idp.example.com?x=1", "https://idp.example.com#f", "https://u@idp.example.com", "http://10.0.0.1",
	} {
		if _, err := NewOAuthVerifier(OAuthConfig{Issuer: iss, Audience: "a"}); err == nil {
			t.Errorf("issuer %q accepted", iss)
		}
	}
	for _, iss := range []string{"https://idp.example.com", "http://127.0.0.1:9000", "http://localhost:9000/realm", "http://[::1]:1"} {
		if _, err := NewOAuthVerifier(OAuthConfig{Issuer: iss, Audience: "a"}); err != nil {
			t.Errorf("issuer %q refused: %v", iss, err)
		}
	}
	if _, err := NewOAuthVerifier(OAuthConfig{Issuer: "https://idp.example.com"}); err == nil {
		t.Error("empty audience accepted")
	}
}

// flakyIdP fails its first answers, then serves idp.
type flakyIdP struct {
	failures atomic.Int64
	next     http.Handler
}

func (f *flakyIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.failures.Add(-1) >= 0 {
		http.Error(w, "down", http.StatusBadGateway)
		return
	}
	f.next.ServeHTTP(w, r)
}

func TestIssuerDownAtStartRetriesWithinBound(t *testing.T) {
	idp := idptest.New(t)
	// A proxy in front of the IdP that is down for its first two answers.
	flaky := &flakyIdP{next: reverseTo(t, idp.URL())}
	flaky.failures.Store(2)
	front := httptest.NewServer(flaky)
	defer front.Close()
	// The IdP's issuer is its own URL, so the proxy is used for discovery
	// only: point the metadata's jwks_uri at the proxy as well.
	idp.EditMetadata(func(m map[string]any) { m["jwks_uri"] = front.URL + "/jwks" })

	c := &clock{}
	v, err := NewOAuthVerifier(OAuthConfig{Issuer: idp.Issuer(), Audience: "aud", Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	// Discovery hits the real IdP; the JWKS fetch hits the flaky proxy.
	if err := v.Prime(t.Context()); err == nil {
		t.Fatal("Prime succeeded while the JWKS was down")
	}
	tok := idp.Token(t, idp.Claims("aud", "u"))
	if _, err := v.Verify(t.Context(), tok); err == nil || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("within the retry bound: %v; want unavailable", err)
	}
	for range 2 {
		c.Advance(retryInterval + time.Second)
		_, err = v.Verify(t.Context(), tok)
	}
	if err != nil {
		t.Fatalf("after the IdP came back: %v", err)
	}
	if v.Ready() != nil {
		t.Fatal("not ready after loading keys")
	}
}

// reverseTo is a handler forwarding GETs to base.
func reverseTo(t *testing.T, base string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := http.Get(base + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer res.Body.Close()
		w.WriteHeader(res.StatusCode)
		var buf [1 << 16]byte
		n, _ := res.Body.Read(buf[:])
		_, _ = w.Write(buf[:n])
	})
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	idp := idptest.New(t)
	redirect := httptest.NewServer(http.RedirectHandler(idp.URL()+"/jwks", http.StatusFound))
	defer redirect.Close()
	idp.EditMetadata(func(m map[string]any) { m["jwks_uri"] = redirect.URL })
	v, _ := NewOAuthVerifier(OAuthConfig{Issuer: idp.Issuer(), Audience: "aud"})
	if err := v.Prime(t.Context()); err == nil {
		t.Fatal("a redirected JWKS was loaded")
	}
}

func TestUsableKeys(t *testing.T) {
	gen := func(f func() (any, error)) any {
		k, err := f()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rsa2048 := gen(func() (any, error) { return rsa.GenerateKey(rand.Reader, 2048) }).(*rsa.PrivateKey)
	rsa1024 := gen(func() (any, error) { return rsa.GenerateKey(rand.Reader, 1024) }).(*rsa.PrivateKey)
	p256 := gen(func() (any, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }).(*ecdsa.PrivateKey)
	p384 := gen(func() (any, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) }).(*ecdsa.PrivateKey)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &rsa2048.PublicKey, KeyID: "rsa", Use: "sig"},
		{Key: &rsa2048.PublicKey, KeyID: "rsa-ps256", Algorithm: "PS256"},
		{Key: &rsa2048.PublicKey, KeyID: "rsa-enc", Use: "enc"},
		{Key: &rsa2048.PublicKey},
		{Key: &rsa1024.PublicKey, KeyID: "rsa-1024"},
		{Key: &p256.PublicKey, KeyID: "p256", Algorithm: "ES256"},
		{Key: &p384.PublicKey, KeyID: "p384"},
		{Key: ed.Public(), KeyID: "ed"},
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac", Algorithm: "HS256"},
		{Key: &p256.PublicKey, KeyID: "rsa"}, // a second key under a taken kid
	}}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc.Keys = append(doc.Keys, json.RawMessage(`{"kty":"RSA","kid":"broken","n":"!!","e":"AQAB"}`), json.RawMessage(`7`))
	got := usableKeys(doc.Keys)
	var kids []string
	for kid, k := range got {
		kids = append(kids, kid+":"+k.alg.String())
	}
	slices.Sort(kids)
	if want := []string{"ed:EdDSA", "p256:ES256", "rsa:RS256"}; !slices.Equal(kids, want) {
		t.Fatalf("usable keys %q, want %q", kids, want)
	}
}

func TestVerifyDoesNotQuoteTheToken(t *testing.T) {
	e := newEnv(t)
	good := e.claims(keys.ScopeRead)
	bad := idptest.CloneClaims(good)
	bad["aud"] = "nope"
	for _, tok := range []string{
		e.token(bad), e.idp.NoneToken(t, good), e.idp.HS256WithPublicKey(t, good), e.idp.UnknownKeyToken(t, good), "x.y.z",
	} {
		_, err := e.oauth.Verify(context.Background(), tok)
		if err == nil {
			t.Fatal("accepted")
		}
		for _, part := range strings.Split(tok, ".") {
			if len(part) > 4 && strings.Contains(err.Error(), part) {
				t.Fatalf("the error quotes the token: %v", err)
			}
		}
	}
}

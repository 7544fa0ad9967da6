package idptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Alg is a JWS signing algorithm the IdP has keys for.
type Alg = jose.SignatureAlgorithm

// The algorithms of the IdP's keys.
const (
	RS256 Alg = jose.RS256
	ES256 Alg = jose.ES256
	EdDSA Alg = jose.EdDSA
)

// key is one signing key.
type key struct {
	kid  string
	alg  Alg
	priv crypto.Signer
	// jwkAlg is published as the JWK's "alg" (RS256 and EdDSA keys carry
	// it, ES256 keys do not: both kinds occur in the wild).
	jwkAlg bool
}

// IdP is an identity provider on a loopback httptest server.
type IdP struct {
	srv    *httptest.Server
	issuer string

	mu        sync.Mutex
	published []*key
	all       map[string]*key
	current   map[Alg]*key
	stray     *key
	metadata  map[string]any
	oidcOnly  bool

	jwksFetches     atomic.Int64
	metadataFetches atomic.Int64
}

// Option configures New.
type Option func(*IdP)

// OIDCOnly makes the IdP answer 404 on the RFC 8414 metadata path, so that
// a client must fall back to /.well-known/openid-configuration.
func OIDCOnly() Option { return func(p *IdP) { p.oidcOnly = true } }

// New starts an IdP on 127.0.0.1 with one RS256, one ES256 and one EdDSA
// key; tb's cleanup stops it.
func New(tb testing.TB, opts ...Option) *IdP {
	tb.Helper()
	p := &IdP{current: map[Alg]*key{}, all: map[string]*key{}}
	for _, o := range opts {
		o(p)
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	tb.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL
	p.metadata = map[string]any{
		"issuer":                                p.issuer,
		"jwks_uri":                              p.issuer + "/jwks",
		"authorization_endpoint":                p.issuer + "/authorize",
		"token_endpoint":                        p.issuer + "/token",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":      []string{"S256"},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"},
	}
	for _, alg := range []Alg{RS256, ES256, EdDSA} {
		p.Rotate(tb, alg)
	}
	return p
}

// Issuer is the IdP's issuer identifier (http://127.0.0.1:PORT).
func (p *IdP) Issuer() string { return p.issuer }

// URL is the base URL of the IdP's server (the issuer).
func (p *IdP) URL() string { return p.srv.URL }

// JWKSFetches is how many times the JWKS was fetched.
func (p *IdP) JWKSFetches() int { return int(p.jwksFetches.Load()) }

// MetadataFetches is how many times a metadata document was fetched (both
// paths, including 404 answers).
func (p *IdP) MetadataFetches() int { return int(p.metadataFetches.Load()) }

// EditMetadata changes the metadata document the IdP serves, e.g. to give a
// wrong issuer or jwks_uri.
func (p *IdP) EditMetadata(edit func(m map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	edit(p.metadata)
}

// KeyID is the kid of the current key for alg.
func (p *IdP) KeyID(alg Alg) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current[alg].kid
}

// Rotate makes a new key for alg, publishes it in the JWKS and signs with
// it from now on. The old key stays published until Unpublish. It returns
// the new kid.
func (p *IdP) Rotate(tb testing.TB, alg Alg) string {
	tb.Helper()
	k := newKey(tb, alg)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.published = append(p.published, k)
	p.all[k.kid] = k
	p.current[alg] = k
	return k.kid
}

// Unpublish removes the key kid from the JWKS (Mint can still sign with it).
func (p *IdP) Unpublish(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keep []*key
	for _, k := range p.published {
		if k.kid != kid {
			keep = append(keep, k)
		}
	}
	p.published = keep
}

// newKey generates a key for alg with a random kid.
func newKey(tb testing.TB, alg Alg) *key {
	tb.Helper()
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		tb.Fatalf("idptest: no keys for %s", alg)
	}
	if err != nil {
		tb.Fatalf("idptest: generate a %s key: %v", alg, err)
	}
	return &key{kid: strings.ToLower(string(alg)) + "-" + randomHex(tb, 6), alg: alg, priv: priv, jwkAlg: alg != ES256}
}

func randomHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("idptest: %v", err)
	}
	return hex.EncodeToString(b)
}

// serve answers the metadata paths and the JWKS.
func (p *IdP) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/.well-known/oauth-authorization-server", "/.well-known/openid-configuration":
		p.metadataFetches.Add(1)
		if p.oidcOnly && r.URL.Path == "/.well-known/oauth-authorization-server" {
			http.NotFound(w, r)
			return
		}
		p.mu.Lock()
		body, err := json.Marshal(p.metadata)
		p.mu.Unlock()
		writeJSON(w, body, err)
	case "/jwks":
		p.jwksFetches.Add(1)
		p.mu.Lock()
		set := jose.JSONWebKeySet{}
		for _, k := range p.published {
			jwk := jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Use: "sig"}
			if k.jwkAlg {
				jwk.Algorithm = string(k.alg)
			}
			set.Keys = append(set.Keys, jwk)
		}
		p.mu.Unlock()
		body, err := json.Marshal(set)
		writeJSON(w, body, err)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, body []byte, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// Claims are a token's claims; values must marshal to JSON.
type Claims = map[string]any

// Claims returns the claims of a valid access token for audience: iss, sub,
// aud, iat and nbf now, exp in five minutes, and scope (space-separated)
// when scopes are given. Change the map to make it invalid.
func (p *IdP) Claims(audience, subject string, scopes ...string) Claims {
	now := time.Now().Unix()
	c := Claims{
		"iss": p.issuer,
		"sub": subject,
		"aud": audience,
		"iat": now,
		"nbf": now,
		"exp": now + 300,
		"jti": randomHexNoTB(),
	}
	if len(scopes) > 0 {
		c["scope"] = strings.Join(scopes, " ")
	}
	return c
}

func randomHexNoTB() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Mint describes a token to sign.
type Mint struct {
	// Alg picks the current key of that algorithm (default RS256).
	Alg Alg
	// Key signs with the key of this kid, current or not (published or
	// not); it overrides Alg.
	Key string
	// KeyID overrides the kid header ("" keeps the key's own kid).
	KeyID string
	// NoKeyID leaves the kid header out.
	NoKeyID bool
	// Header adds or overrides protected header fields (not alg or kid).
	Header map[string]any
	// Claims is the payload.
	Claims Claims
}

// Token signs claims with the current RS256 key.
func (p *IdP) Token(tb testing.TB, claims Claims) string {
	tb.Helper()
	return p.Mint(tb, Mint{Claims: claims})
}

// Mint signs a token as m describes, with go-jose.
func (p *IdP) Mint(tb testing.TB, m Mint) string {
	tb.Helper()
	alg := m.Alg
	if alg == "" {
		alg = RS256
	}
	p.mu.Lock()
	k := p.current[alg]
	if m.Key != "" {
		k = p.all[m.Key]
	}
	p.mu.Unlock()
	if k == nil {
		tb.Fatalf("idptest: no such key (%s %q)", alg, m.Key)
	}
	return sign(tb, k, m)
}

// UnknownKeyToken signs claims with an RS256 key that the JWKS does not
// publish, under a fresh kid the IdP never used.
func (p *IdP) UnknownKeyToken(tb testing.TB, claims Claims) string {
	tb.Helper()
	p.mu.Lock()
	if p.stray == nil {
		p.stray = newKey(tb, RS256)
	}
	k := p.stray
	p.mu.Unlock()
	return sign(tb, k, Mint{KeyID: "unknown-" + randomHex(tb, 8), Claims: claims})
}

func sign(tb testing.TB, k *key, m Mint) string {
	tb.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if !m.NoKeyID {
		kid := k.kid
		if m.KeyID != "" {
			kid = m.KeyID
		}
		opts.WithHeader("kid", kid)
	}
	for name, v := range m.Header {
		opts.WithHeader(jose.HeaderKey(name), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		tb.Fatalf("idptest: signer: %v", err)
	}
	payload, err := json.Marshal(m.Claims)
	if err != nil {
		tb.Fatalf("idptest: claims: %v", err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		tb.Fatalf("idptest: sign: %v", err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		tb.Fatalf("idptest: serialize: %v", err)
	}
	return s
}

// CloneClaims copies c, so that a test can vary one claim.
func CloneClaims(c Claims) Claims { return maps.Clone(c) }

// String describes the IdP without secrets.
func (p *IdP) String() string { return fmt.Sprintf("idptest.IdP(%s)", p.issuer) }

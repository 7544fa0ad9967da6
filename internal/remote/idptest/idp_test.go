package idptest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func fetchJWKS(t *testing.T, p *IdP) jose.JSONWebKeySet {
	t.Helper()
	res, err := http.Get(p.URL() + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

func TestTokensVerifyAgainstThePublishedJWKS(t *testing.T) {
	p := New(t)
	set := fetchJWKS(t, p)
	if p.JWKSFetches() != 1 || len(set.Keys) != 3 {
		t.Fatalf("%d fetches, %d keys", p.JWKSFetches(), len(set.Keys))
	}
	for _, alg := range []Alg{RS256, ES256, EdDSA} {
		tok := p.Mint(t, Mint{Alg: alg, Claims: p.Claims("aud", "sub", "keys:read")})
		sig, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{alg})
		if err != nil {
			t.Fatal(err)
		}
		kid := sig.Signatures[0].Header.KeyID
		if kid != p.KeyID(alg) {
			t.Fatalf("%s: kid %q, want %q", alg, kid, p.KeyID(alg))
		}
		if _, err := sig.Verify(set.Key(kid)[0]); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
	}
	old := p.KeyID(RS256)
	kid := p.Rotate(t, RS256)
	p.Unpublish(old)
	set = fetchJWKS(t, p)
	if len(set.Key(old)) != 0 || len(set.Key(kid)) != 1 || p.JWKSFetches() != 2 {
		t.Fatal("rotation not published")
	}
}

func TestHostileShapes(t *testing.T) {
	p := New(t, OIDCOnly())
	c := p.Claims("aud", "sub")
	none := p.NoneToken(t, c)
	if !strings.HasSuffix(none, ".") || strings.Count(none, ".") != 2 {
		t.Fatalf("alg none token %q", none)
	}
	if _, err := jose.ParseSigned(p.HS256WithPublicKey(t, c), []jose.SignatureAlgorithm{jose.HS256}); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(p.URL() + "/.well-known/oauth-authorization-server")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || p.MetadataFetches() != 1 {
		t.Fatalf("OIDCOnly: RFC 8414 path answered %d", res.StatusCode)
	}
}

package idptest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"
)

// NoneToken is an unsigned token (alg "none", empty signature) claiming to
// come from the current RS256 key.
func (p *IdP) NoneToken(tb testing.TB, claims Claims) string {
	tb.Helper()
	return compact(tb, map[string]any{"alg": "none", "typ": "JWT", "kid": p.KeyID(RS256)}, claims, nil)
}

// HS256WithPublicKey is the key-confusion attack: an HS256 token whose HMAC
// key is the PEM of the IdP's current RS256 public key, under that key's kid.
// A verifier that lets the token pick the algorithm accepts it.
func (p *IdP) HS256WithPublicKey(tb testing.TB, claims Claims) string {
	tb.Helper()
	p.mu.Lock()
	k := p.current[RS256]
	p.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		tb.Fatalf("idptest: %v", err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return compact(tb, map[string]any{"alg": "HS256", "typ": "JWT", "kid": k.kid}, claims, func(in []byte) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write(in)
		return m.Sum(nil)
	})
}

// Raw builds a compact JWS from any header and claims, signed by sig (nil:
// an empty signature). For shapes go-jose refuses to make.
func Raw(tb testing.TB, header map[string]any, claims Claims, sig func(signingInput []byte) []byte) string {
	tb.Helper()
	return compact(tb, header, claims, sig)
}

func compact(tb testing.TB, header map[string]any, claims Claims, sig func([]byte) []byte) string {
	tb.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		tb.Fatalf("idptest: header: %v", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		tb.Fatalf("idptest: claims: %v", err)
	}
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	var s []byte
	if sig != nil {
		s = sig([]byte(in))
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(s)
}

package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// issuer is a tiny OAuth authorization server on loopback for the HTTP
// section: RFC 8414 metadata and a JWKS with one RS256 key, and RS256
// access tokens minted in process. (internal/remote/idptest needs a
// testing.TB, so it is not used here.) It counts JWKS fetches, to show
// that the server under test caches the keys.
type issuer struct {
	url     string
	kid     string
	key     *rsa.PrivateKey
	signer  jose.Signer
	srv     *http.Server
	fetches atomic.Int64
}

// startIssuer serves the metadata and the JWKS on 127.0.0.1.
func startIssuer() (*issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("issuer key: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	is := &issuer{url: "http://" + ln.Addr().String(), kid: "bench-rs256", key: key}
	is.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", is.kid))
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("issuer signer: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                           is.url,
			"jwks_uri":                         is.url + "/jwks",
			"authorization_endpoint":           is.url + "/authorize",
			"token_endpoint":                   is.url + "/token",
			"response_types_supported":         []string{"code"},
			"code_challenge_methods_supported": []string{"S256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		is.fetches.Add(1)
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: is.kid, Algorithm: string(jose.RS256), Use: "sig"}}})
	})
	is.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = is.srv.Serve(ln) }()
	return is, nil
}

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// token mints an RS256 access token for audience, valid for ttl.
func (is *issuer) token(audience, subject string, scopes []string, ttl time.Duration) (string, error) {
	if audience == "" || subject == "" {
		return "", errors.New("issuer: a token needs an audience and a subject")
	}
	now := time.Now().Unix()
	payload, err := json.Marshal(map[string]any{
		"iss": is.url, "sub": subject, "aud": audience,
		"iat": now, "nbf": now, "exp": now + int64(ttl/time.Second),
		"scope": strings.Join(scopes, " "),
	})
	if err != nil {
		return "", err
	}
	obj, err := is.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("issuer: sign: %w", err)
	}
	return obj.CompactSerialize()
}

// close stops the issuer's server.
func (is *issuer) close() { _ = is.srv.Close() }

package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

const (
	// idpTimeout bounds one fetch from the issuer.
	idpTimeout = 10 * time.Second
	// refetchInterval is the least time between two fetches of the JWKS
	// once keys are loaded: an unknown kid refetches at most this often.
	refetchInterval = time.Minute
	// retryInterval is the least time between two attempts while no keys
	// are loaded yet (the issuer was down at start).
	retryInterval = 5 * time.Second
	// maxKeyAge is how long a loaded JWKS is used before the next request
	// refreshes it (so a key the issuer withdrew stops being accepted); a
	// failed refresh keeps the keys already loaded.
	maxKeyAge = time.Hour
	// minRSABits is the smallest RSA key accepted.
	minRSABits = 2048
)

// verifyKey is one public key of the issuer and the only algorithm it may
// verify.
type verifyKey struct {
	alg jwa.SignatureAlgorithm
	pub any
}

// keySnapshot is one loaded JWKS.
type keySnapshot struct {
	keys    map[string]verifyKey
	fetched time.Time
}

// keySet is the issuer's JWKS, discovered from its metadata, cached, and
// refetched on an unknown kid at most once per refetchInterval. Lookups of
// known keys take no lock.
type keySet struct {
	issuer *url.URL
	client *http.Client
	now    func() time.Time

	snap atomic.Pointer[keySnapshot]

	// mu serialises fetches; the fields below are under it.
	mu          sync.Mutex
	jwksURI     string
	lastAttempt time.Time
	lastErr     error
	fetches     int
}

// lookup returns the key kid, refetching the JWKS when kid is unknown or the
// keys are older than maxKeyAge, within the refetch bound.
func (s *keySet) lookup(ctx context.Context, kid string) (verifyKey, bool, error) {
	snap := s.snap.Load()
	if snap != nil {
		k, ok := snap.keys[kid]
		if ok && s.now().Sub(snap.fetched) < maxKeyAge {
			return k, true, nil
		}
	}
	if err := s.refresh(ctx); err != nil && s.snap.Load() == nil {
		return verifyKey{}, false, err
	}
	snap = s.snap.Load()
	k, ok := snap.keys[kid]
	return k, ok, nil
}

// refresh fetches the JWKS unless a fetch was attempted within the bound
// (refetchInterval, or retryInterval while nothing is loaded). A failed
// fetch keeps the keys already loaded; its error is returned.
func (s *keySet) refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	bound := refetchInterval
	if s.snap.Load() == nil {
		bound = retryInterval
	}
	now := s.now()
	if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < bound {
		return s.lastErr
	}
	s.lastAttempt = now
	s.lastErr = s.fetch(ctx)
	return s.lastErr
}

// fetch discovers the jwks_uri (once) and loads the JWKS. Under mu.
func (s *keySet) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, idpTimeout)
	defer cancel()
	if s.jwksURI == "" {
		u, err := discoverJWKS(ctx, s.client, s.issuer)
		if err != nil {
			return err
		}
		s.jwksURI = u
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	s.fetches++
	if err := getJSON(ctx, s.client, s.jwksURI, &doc); err != nil {
		return fmt.Errorf("JWKS %s: %w", s.jwksURI, err)
	}
	keys := usableKeys(doc.Keys)
	if len(keys) == 0 {
		return fmt.Errorf("JWKS %s has no usable signing key (RS256 ≥ %d bits, ES256 on P-256, or EdDSA on Ed25519, each with a kid)", s.jwksURI, minRSABits)
	}
	s.snap.Store(&keySnapshot{keys: keys, fetched: s.now()})
	return nil
}

// loaded reports whether keys are loaded, and the last fetch error.
func (s *keySet) loaded() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap.Load() != nil, s.lastErr
}

// usableKeys parses the JWKS's keys one by one (jwx refuses a whole set
// for one key it cannot read) and keeps those that have a kid, are meant
// for signatures (or say nothing), and are RSA ≥ 2048 bits (RS256), EC
// P-256 (ES256) or Ed25519 (EdDSA); a key whose "alg" names another
// algorithm is left out. The first key with a given kid wins.
func usableKeys(raws []json.RawMessage) map[string]verifyKey {
	out := map[string]verifyKey{}
	for _, r := range raws {
		key, err := jwk.ParseKey(r)
		if err != nil {
			continue
		}
		kid, ok := key.KeyID()
		if !ok || kid == "" {
			continue
		}
		if _, dup := out[kid]; dup {
			continue
		}
		if use, ok := key.KeyUsage(); ok && use != "sig" {
			continue
		}
		var raw any
		if err := jwk.Export(key, &raw); err != nil {
			continue
		}
		vk, ok := classify(raw)
		if !ok {
			continue
		}
		if a, ok := key.Algorithm(); ok && a.String() != vk.alg.String() {
			continue
		}
		out[kid] = vk
	}
	return out
}

// classify maps a raw key to the one algorithm it may verify.
func classify(raw any) (verifyKey, bool) {
	switch k := raw.(type) {
	case *rsa.PrivateKey:
		return classify(&k.PublicKey)
	case *rsa.PublicKey:
		if k.N == nil || k.N.BitLen() < minRSABits {
			return verifyKey{}, false
		}
		return verifyKey{alg: jwa.RS256(), pub: k}, true
	case *ecdsa.PrivateKey:
		return classify(&k.PublicKey)
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return verifyKey{}, false
		}
		return verifyKey{alg: jwa.ES256(), pub: k}, true
	case ed25519.PrivateKey:
		return classify(k.Public())
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return verifyKey{}, false
		}
		return verifyKey{alg: jwa.EdDSA(), pub: k}, true
	default:
		return verifyKey{}, false
	}
}

// httpClientOrDefault returns c, or the issuer client.
func httpClientOrDefault(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return newIdPClient()
}

package remote

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/callers"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/remote/idptest"
)

func TestMetadataURL(t *testing.T) {
	e := newEnv(t)
	want := strings.TrimSuffix(e.public, EndpointPath) + "/.well-known/oauth-protected-resource/mcp"
	if e.h.MetadataURL() != want {
		t.Fatalf("metadata URL %q, want %q", e.h.MetadataURL(), want)
	}
}

func TestNoOrBadTokenIs401(t *testing.T) {
	e := newEnv(t)
	now := time.Now().Unix()
	good := e.claims(keys.ScopeRead)
	with := func(k string, v any) idptest.Claims {
		c := idptest.CloneClaims(good)
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	valid := e.token(good)
	badSig := valid[:len(valid)-10] + flip(valid[len(valid)-10]) + valid[len(valid)-9:]
	for _, tc := range []struct {
		name    string
		authz   []string
		errAttr string // "" for no error attribute
	}{
		{"no Authorization", nil, ""},
		{"Basic scheme", []string{"Basic dXNlcjpwYXNz"}, ""},
		{"Bearer without token", []string{"Bearer "}, `error="invalid_token"`},
		{"Bearer with two words", []string{"Bearer a b"}, `error="invalid_token"`},
		{"Bearer with bad characters", []string{"Bearer a<b>c"}, `error="invalid_token"`},
		{"unknown opaque token", []string{"Bearer sometoken"}, `error="invalid_token"`},
		{"unknown static token", []string{"Bearer " + callers.TokenPrefix + strings.Repeat("A", 43)}, `error="invalid_token"`},
		{"malformed JWT", []string{"Bearer aaaa.bbbb.cccc"}, `error="invalid_token"`},
		{"JWE-shaped", []string{"Bearer a.b.c.d.e"}, `error="invalid_token"`},
		{"bad signature", []string{"Bearer " + badSig}, `error="invalid_token"`},
		{"signature removed", []string{"Bearer " + valid[:strings.LastIndexByte(valid, '.')+1]}, `error="invalid_token"`},
		{"alg none", []string{"Bearer " + e.idp.NoneToken(t, good)}, `error="invalid_token"`},
		{"HS256 keyed with the public key", []string{"Bearer " + e.idp.HS256WithPublicKey(t, good)}, `error="invalid_token"`},
		{"unknown kid", []string{"Bearer " + e.idp.UnknownKeyToken(t, good)}, `error="invalid_token"`},
		{"no kid", []string{"Bearer " + e.idp.Mint(t, idptest.Mint{NoKeyID: true, Claims: good})}, `error="invalid_token"`},
		{"ES256 under an RS256 key's kid", []string{"Bearer " + e.idp.Mint(t, idptest.Mint{Alg: idptest.ES256, KeyID: e.idp.KeyID(idptest.RS256), Claims: good})}, `error="invalid_token"`},
		{"crit header", []string{"Bearer " + e.idp.Mint(t, idptest.Mint{Header: map[string]any{"crit": []string{"exp"}}, Claims: good})}, `error="invalid_token"`},
		{"wrong iss", []string{"Bearer " + e.token(with("iss", "https://evil.example.com"))}, `error="invalid_token"`},
		{"iss with a trailing slash", []string{"Bearer " + e.token(with("iss", e.idp.Issuer()+"/"))}, `error="invalid_token"`},
		{"no iss", []string{"Bearer " + e.token(with("iss", nil))}, `error="invalid_token"`},
		{"wrong aud", []string{"Bearer " + e.token(with("aud", "https://other.example.com/mcp"))}, `error="invalid_token"`},
		{"aud list without us", []string{"Bearer " + e.token(with("aud", []string{"a", "b"}))}, `error="invalid_token"`},
		{"no aud", []string{"Bearer " + e.token(with("aud", nil))}, `error="invalid_token"`},
		{"expired", []string{"Bearer " + e.token(with("exp", now-120))}, `error="invalid_token"`},
		{"no exp", []string{"Bearer " + e.token(with("exp", nil))}, `error="invalid_token"`},
		{"nbf in the future", []string{"Bearer " + e.token(with("nbf", now+120))}, `error="invalid_token"`},
		{"iat in the future", []string{"Bearer " + e.token(with("iat", now+120))}, `error="invalid_token"`},
		{"no sub", []string{"Bearer " + e.token(with("sub", nil))}, `error="invalid_token"`},
		{"empty sub", []string{"Bearer " + e.token(with("sub", ""))}, `error="invalid_token"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, a := range tc.authz {
				if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
					e.secret(tok)
				}
			}
			r := e.do(req{authz: tc.authz, body: callBody("list_tags")})
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401 (%s)", r.status, r.body)
			}
			if got, want := r.header.Get("WWW-Authenticate"), e.challenge(tc.errAttr); got != want {
				t.Fatalf("WWW-Authenticate\n got %s\nwant %s", got, want)
			}
		})
	}
	e.inner.mu.Lock()
	defer e.inner.mu.Unlock()
	if len(e.inner.callers) != 0 {
		t.Fatalf("the inner handler ran %d times", len(e.inner.callers))
	}
}

// flip changes a base64url character.
func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestValidTokensReachTheInnerHandler(t *testing.T) {
	e := newEnv(t)
	now := time.Now().Unix()
	for _, tc := range []struct {
		name   string
		token  func() string
		caller keys.Caller
	}{
		{"static reader", func() string { return e.reader }, keys.Caller{Kind: keys.CallerToken, TokenName: "reader", Scopes: []string{keys.ScopeRead}}},
		{"static writer", func() string { return e.writer }, keys.Caller{Kind: keys.CallerToken, TokenName: "writer", Scopes: []string{keys.ScopeRead, keys.ScopeWrite}}},
		{"RS256 with scope, email and groups", func() string {
			c := e.claims(keys.ScopeRead, keys.ScopeWrite)
			c["email"] = "u@example.com"
			c["groups"] = []string{"search-team", "ops"}
			return e.token(c)
		}, keys.Caller{Kind: keys.CallerOAuth, Subject: "user-1", Email: "u@example.com", Groups: []string{"search-team", "ops"}, Scopes: []string{keys.ScopeRead, keys.ScopeWrite}}},
		{"ES256 with scp array", func() string {
			c := e.claims()
			c["scp"] = []string{keys.ScopeRead}
			tok := e.idp.Mint(t, idptest.Mint{Alg: idptest.ES256, Claims: c})
			e.secret(tok)
			return tok
		}, keys.Caller{Kind: keys.CallerOAuth, Subject: "user-1", Scopes: []string{keys.ScopeRead}}},
		{"EdDSA, aud list, a single group string", func() string {
			c := e.claims(keys.ScopeRead)
			c["aud"] = []string{"other", e.public}
			c["groups"] = "solo"
			tok := e.idp.Mint(t, idptest.Mint{Alg: idptest.EdDSA, Claims: c})
			e.secret(tok)
			return tok
		}, keys.Caller{Kind: keys.CallerOAuth, Subject: "user-1", Groups: []string{"solo"}, Scopes: []string{keys.ScopeRead}}},
		{"exp, nbf and iat within the 60 s leeway", func() string {
			c := e.claims(keys.ScopeRead)
			c["exp"], c["nbf"], c["iat"] = now-30, now+30, now+30
			return e.token(c)
		}, keys.Caller{Kind: keys.CallerOAuth, Subject: "user-1", Scopes: []string{keys.ScopeRead}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(req{token: tc.token(), body: callBody("list_tags")})
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			got := e.inner.last(t)
			want := tc.caller
			if want.Kind == keys.CallerOAuth {
				want.Issuer = e.idp.Issuer()
			}
			if got.Kind != want.Kind || got.Issuer != want.Issuer || got.Subject != want.Subject || got.Email != want.Email ||
				got.TokenName != want.TokenName || !slices.Equal(got.Groups, want.Groups) || !slices.Equal(got.Scopes, want.Scopes) {
				t.Fatalf("caller\n got %+v\nwant %+v", got, want)
			}
			if r.body != "inner:"+want.ID() {
				t.Fatalf("body %q", r.body)
			}
		})
	}
}

func TestGroupsClaimIsConfigurable(t *testing.T) {
	e := newEnv(t)
	v, err := NewOAuthVerifier(OAuthConfig{Issuer: e.idp.Issuer(), Audience: e.public, GroupsClaim: "roles"})
	if err != nil {
		t.Fatal(err)
	}
	c := e.claims(keys.ScopeRead)
	c["roles"] = []any{"admins", 7, ""}
	c["groups"] = []string{"ignored"}
	got, err := v.Verify(t.Context(), e.token(c))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Groups, []string{"admins"}) {
		t.Fatalf("groups %q", got.Groups)
	}
}

func TestUnknownKidRefetchesAtMostOnceAMinute(t *testing.T) {
	e := newEnv(t)
	base := e.idp.JWKSFetches()
	if base != 1 || e.oauth.jwksFetches() != 1 {
		t.Fatalf("JWKS fetched %d times at start, want 1", base)
	}
	claims := e.claims(keys.ScopeRead)
	send := func(n int) {
		for range n {
			tok := e.idp.UnknownKeyToken(t, claims)
			e.secret(tok)
			if r := e.do(req{token: tok, body: callBody("list_tags")}); r.status != http.StatusUnauthorized {
				t.Fatalf("unknown kid: status %d", r.status)
			}
		}
	}
	// Within the minute of the first fetch: no refetch at all.
	send(20)
	if got := e.idp.JWKSFetches(); got != base {
		t.Fatalf("20 unknown kids within a minute of the first fetch: %d fetches, want %d", got, base)
	}
	// A minute later: one refetch for many unknown kids.
	e.clock.Advance(61 * time.Second)
	send(30)
	if got := e.idp.JWKSFetches(); got != base+1 {
		t.Fatalf("30 unknown kids in the next minute: %d fetches, want %d", got, base+1)
	}
	// Known keys never refetch.
	for range 10 {
		if r := e.do(req{token: e.token(claims), body: callBody("list_tags")}); r.status != http.StatusOK {
			t.Fatalf("valid token: status %d", r.status)
		}
	}
	if got := e.idp.JWKSFetches(); got != base+1 {
		t.Fatalf("valid tokens refetched: %d fetches", got)
	}
}

func TestKeyRotationAtTheIdP(t *testing.T) {
	e := newEnv(t)
	oldKid := e.idp.KeyID(idptest.RS256)
	newKid := e.idp.Rotate(t, idptest.RS256)
	if newKid == oldKid {
		t.Fatal("rotation kept the kid")
	}
	claims := e.claims(keys.ScopeRead)
	tok := e.token(claims)
	// Within a minute of the last fetch the new kid is unknown and the
	// bound holds.
	if r := e.do(req{token: tok, body: callBody("list_tags")}); r.status != http.StatusUnauthorized {
		t.Fatalf("new kid within the refetch bound: status %d", r.status)
	}
	e.clock.Advance(61 * time.Second)
	if r := e.do(req{token: tok, body: callBody("list_tags")}); r.status != http.StatusOK {
		t.Fatalf("new kid after the bound: status %d (%s)", r.status, r.body)
	}
	if got := e.idp.JWKSFetches(); got != 2 {
		t.Fatalf("JWKS fetches %d, want 2", got)
	}
	// The old key is still published: its tokens still pass.
	old := e.idp.Mint(t, idptest.Mint{Key: oldKid, Claims: claims})
	e.secret(old)
	if r := e.do(req{token: old, body: callBody("list_tags")}); r.status != http.StatusOK {
		t.Fatalf("old key still published: status %d", r.status)
	}
	// The new key under the old kid is a bad signature.
	mixed := e.idp.Mint(t, idptest.Mint{KeyID: oldKid, Claims: claims})
	e.secret(mixed)
	if r := e.do(req{token: mixed, body: callBody("list_tags")}); r.status != http.StatusUnauthorized {
		t.Fatalf("new key under the old kid: status %d", r.status)
	}
	// Once the IdP withdraws the old key, the hourly refresh drops it.
	e.idp.Unpublish(oldKid)
	e.clock.Advance(maxKeyAge + time.Minute)
	claims = e.claims(keys.ScopeRead)
	old = e.idp.Mint(t, idptest.Mint{Key: oldKid, Claims: claims})
	tok = e.token(claims)
	e.secret(old)
	if r := e.do(req{token: old, body: callBody("list_tags")}); r.status != http.StatusUnauthorized {
		t.Fatalf("a withdrawn key after the hourly refresh: status %d", r.status)
	}
	if r := e.do(req{token: tok, body: callBody("list_tags")}); r.status != http.StatusOK {
		t.Fatalf("the new key after the hourly refresh: status %d", r.status)
	}
	if got := e.idp.JWKSFetches(); got != 3 {
		t.Fatalf("JWKS fetches %d, want 3", got)
	}
}

func TestRevokedStaticToken(t *testing.T) {
	e := newEnv(t)
	if r := e.do(req{token: e.reader, body: callBody("list_tags")}); r.status != http.StatusOK {
		t.Fatalf("before removal: status %d", r.status)
	}
	if err := callers.Remove(e.callers, "reader"); err != nil {
		t.Fatal(err)
	}
	r := e.do(req{token: e.reader, body: callBody("list_tags")})
	if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") != e.challenge(`error="invalid_token"`) {
		t.Fatalf("after removal: status %d, %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	if r := e.do(req{token: e.writer, body: callBody("list_tags")}); r.status != http.StatusOK {
		t.Fatalf("the other caller: status %d", r.status)
	}
}

func TestCallersFileUnusableFailsClosed(t *testing.T) {
	e := newEnv(t)
	if err := chmod(e.callers, 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.do(req{token: e.writer, body: callBody("list_tags")})
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("insecure callers file: status %d, want 503", r.status)
	}
	// OAuth callers are not affected.
	if r := e.do(req{token: e.token(e.claims(keys.ScopeRead)), body: callBody("list_tags")}); r.status != http.StatusOK {
		t.Fatalf("OAuth with an unusable callers file: status %d", r.status)
	}
}

func TestQueryStringTokenRefused(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{
		EndpointPath + "?access_token=" + e.writer,
		EndpointPath + "?x=1&access_token=",
	} {
		r := e.do(req{path: path, token: e.writer, body: callBody("list_tags")})
		if r.status != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400", strings.SplitN(path, "=", 2)[0], r.status)
		}
		if got, want := r.header.Get("WWW-Authenticate"), e.challenge(`error="invalid_request"`); got != want {
			t.Fatalf("WWW-Authenticate %q, want %q", got, want)
		}
	}
}

func TestAuthorizationHeaderLimits(t *testing.T) {
	e := newEnv(t)
	r := e.do(req{authz: []string{"Bearer " + strings.Repeat("a", MaxAuthorizationSize)}, body: callBody("list_tags")})
	if r.status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("9 KiB Authorization: status %d, want 431", r.status)
	}
	r = e.do(req{authz: []string{"Bearer " + e.writer, "Bearer " + e.reader}, body: callBody("list_tags")})
	if r.status != http.StatusBadRequest {
		t.Fatalf("two Authorization headers: status %d, want 400", r.status)
	}
	// Beyond the server's total header limit, net/http answers 431 itself
	// (checked in serve_test.go).
}

func TestInsufficientScope(t *testing.T) {
	e := newEnv(t)
	oauthRead := e.token(e.claims(keys.ScopeRead))
	oauthWrite := e.token(e.claims(keys.ScopeWrite))
	oauthNone := e.token(e.claims())
	batch := "[" + callBody("list_tags") + "," + callBody("revoke_key") + "]"
	for _, tc := range []struct {
		name, token, body string
		scope             string // "" means allowed
	}{
		{"reader list_tags", e.reader, callBody("list_tags"), ""},
		{"reader check_policy", e.reader, callBody("check_policy"), ""},
		{"reader create_scoped_key", e.reader, callBody("create_scoped_key"), keys.ScopeWrite},
		{"reader revoke_key", e.reader, callBody("revoke_key"), keys.ScopeWrite},
		{"reader rotate_key", e.reader, callBody("rotate_key"), keys.ScopeWrite},
		{"reader unknown tool", e.reader, callBody("no_such_tool"), keys.ScopeWrite},
		{"reader batch with a write", e.reader, batch, keys.ScopeWrite},
		{"writer batch", e.writer, batch, ""},
		{"writer create_scoped_key", e.writer, callBody("create_scoped_key"), ""},
		{"oauth read create", oauthRead, callBody("create_scoped_key"), keys.ScopeWrite},
		{"oauth write-only list_keys", oauthWrite, callBody("list_keys"), keys.ScopeRead},
		{"oauth write-only resource", oauthWrite, `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"x"}}`, keys.ScopeRead},
		{"oauth none tools/list", oauthNone, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`, ""},
		{"oauth none initialize", oauthNone, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}`, ""},
		{"duplicate name key: last wins, as in mcp-go", e.reader,
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tags","name":"revoke_key"}}`, keys.ScopeWrite},
		{"case-folded keys, as encoding/json reads them", e.reader,
			`{"jsonrpc":"2.0","id":1,"METHOD":"tools/call","params":{"Name":"revoke_key"}}`, keys.ScopeWrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(req{token: tc.token, body: tc.body})
			if tc.scope == "" {
				if r.status != http.StatusOK {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				return
			}
			if r.status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.status)
			}
			want := `Bearer error="insufficient_scope", scope="` + tc.scope + `", resource_metadata="` + e.h.MetadataURL() + `"`
			if got := r.header.Get("WWW-Authenticate"); got != want {
				t.Fatalf("WWW-Authenticate\n got %s\nwant %s", got, want)
			}
		})
	}
	// The exact header of the design, spelled out once.
	r := e.do(req{token: e.reader, body: callBody("create_scoped_key")})
	if got := r.header.Get("WWW-Authenticate"); got != `Bearer error="insufficient_scope", scope="keys:write", resource_metadata="`+strings.TrimSuffix(e.public, "/mcp")+`/.well-known/oauth-protected-resource/mcp"` {
		t.Fatalf("WWW-Authenticate %s", got)
	}
}

func TestToolsCallWithoutNameIs400(t *testing.T) {
	e := newEnv(t)
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":5}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":""}}`,
	} {
		if r := e.do(req{token: e.writer, body: body}); r.status != http.StatusBadRequest {
			t.Fatalf("%s: status %d, want 400", body, r.status)
		}
	}
	// Not JSON: passed on, for mcp-go to answer with a parse error.
	if r := e.do(req{token: e.reader, body: "not json"}); r.status != http.StatusOK {
		t.Fatalf("non-JSON body: status %d", r.status)
	}
}

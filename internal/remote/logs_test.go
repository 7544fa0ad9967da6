package remote

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// quotingAuth is a careless Authenticator whose errors quote the token.
type quotingAuth struct{ invalid bool }

func (q quotingAuth) Authenticate(_ context.Context, token string) (keys.Caller, error) {
	if q.invalid {
		return keys.Caller{}, errors.Join(ErrInvalidToken, errors.New("bad token "+token))
	}
	return keys.Caller{}, errors.New("backend down while checking " + token)
}

func TestNoTokenInLogs(t *testing.T) {
	e := newEnv(t)
	good := e.claims(keys.ScopeRead)
	bad := e.claims(keys.ScopeRead)
	bad["exp"] = int64(1)
	expired := e.token(bad)
	for _, r := range []req{
		{token: e.reader, body: callBody("list_tags")},
		{token: e.reader, body: callBody("create_scoped_key")},
		{token: e.writer + "x", body: callBody("list_tags")},
		{token: expired, body: callBody("list_tags")},
		{token: e.idp.NoneToken(t, good), body: callBody("list_tags")},
		{path: EndpointPath + "?access_token=" + e.writer, body: callBody("list_tags")},
		{authz: []string{"Bearer " + strings.Repeat("z", MaxAuthorizationSize+1)}, body: callBody("list_tags")},
		{token: e.reader, body: callBody("list_tags"), header: map[string]string{"Origin": "https://evil.example.com"}},
	} {
		e.secret(r.token)
		e.do(r)
	}
	e.secret(e.writer + "x")
	logs := e.logs.String()
	for _, want := range []string{"insufficient scope", "token refused", "expired", "algorithm not allowed", "access token in the query string", "Authorization header too large", "Origin not allowed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the logs do not say %q", want)
		}
	}
	if strings.Contains(logs, "access_token=") {
		t.Error("the query string was logged")
	}
	// checkNoSecretLogged runs at cleanup for every registered token.
}

func TestCarelessAuthenticatorIsRedacted(t *testing.T) {
	for _, invalid := range []bool{true, false} {
		e := newEnv(t, func(o *Options) { o.Authenticator = quotingAuth{invalid: invalid} })
		tok := "opaque-secret-token-value-123456"
		e.secret(tok)
		r := e.do(req{token: tok, body: callBody("list_tags")})
		want := http.StatusServiceUnavailable
		if invalid {
			want = http.StatusUnauthorized
		}
		if r.status != want {
			t.Fatalf("status %d, want %d", r.status, want)
		}
		if !strings.Contains(e.logs.String(), "[redacted]") {
			t.Fatalf("no redaction in %s", e.logs.String())
		}
	}
}

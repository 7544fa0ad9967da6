package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/callers"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/remote/idptest"
)

// clock is time.Now moved by Advance.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// recorder is the inner handler: it records the caller from the context.
type recorder struct {
	mu      sync.Mutex
	callers []keys.Caller
	bodies  []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, ok := keys.CallerFromContext(r.Context())
	if !ok {
		http.Error(w, "no caller in context", http.StatusInternalServerError)
		return
	}
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.callers = append(rec.callers, c)
	rec.bodies = append(rec.bodies, string(body))
	rec.mu.Unlock()
	_, _ = io.WriteString(w, "inner:"+c.ID())
}

func (rec *recorder) last(t *testing.T) keys.Caller {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.callers) == 0 {
		t.Fatal("the inner handler was not called")
	}
	return rec.callers[len(rec.callers)-1]
}

// env is a Handler with both kinds of authentication in front of a
// recorder, on a loopback httptest server.
type env struct {
	t        *testing.T
	idp      *idptest.IdP
	clock    *clock
	logs     *logBuffer
	inner    *recorder
	h        *Handler
	oauth    *OAuthVerifier
	srv      *httptest.Server
	public   string
	callers  string
	reader   string // static token, keys:read
	writer   string // static token, keys:read and keys:write
	mu       sync.Mutex
	secrets  []string
	readyErr atomic.Value
}

// envOption changes the Options before NewHandler.
type envOption func(*Options)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, idp: idptest.New(t), clock: &clock{}, logs: &logBuffer{}, inner: &recorder{}}
	e.srv = httptest.NewUnstartedServer(nil)
	e.public = "http://" + e.srv.Listener.Addr().String() + EndpointPath

	e.callers = filepath.Join(t.TempDir(), "callers")
	var err error
	if e.reader, err = callers.Add(e.callers, "reader", []string{keys.ScopeRead}); err != nil {
		t.Fatal(err)
	}
	if e.writer, err = callers.Add(e.callers, "writer", []string{keys.ScopeRead, keys.ScopeWrite}); err != nil {
		t.Fatal(err)
	}
	e.secret(e.reader, e.writer)
	store, err := callers.Open(e.callers)
	if err != nil {
		t.Fatal(err)
	}
	e.oauth, err = NewOAuthVerifier(OAuthConfig{Issuer: e.idp.Issuer(), Audience: e.public, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.oauth.Prime(context.Background()); err != nil {
		t.Fatal(err)
	}
	auth, err := NewAuthenticator(store, e.oauth)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		MCP: e.inner, PublicURL: e.public, Issuer: e.idp.Issuer(), Authenticator: auth,
		ToolScope: designToolScope, AllowedOrigins: []string{"https://app.example.com"},
		Logger: zerolog.New(e.logs).Level(zerolog.DebugLevel), Now: e.clock.Now,
		Ready: func(context.Context) error {
			if err, ok := e.readyErr.Load().(error); ok && err != nil {
				return err
			}
			return nil
		},
	}
	for _, f := range opts {
		f(&o)
	}
	if e.h, err = NewHandler(o); err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = e.h
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	t.Cleanup(e.checkNoSecretLogged)
	return e
}

// designToolScope is design.md's mapping.
func designToolScope(tool string) string {
	switch tool {
	case "list_tags", "list_keys", "check_policy":
		return keys.ScopeRead
	case "create_scoped_key", "revoke_key", "rotate_key":
		return keys.ScopeWrite
	}
	return ""
}

// secret registers tokens that must never appear in logs or answers.
func (e *env) secret(tokens ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range tokens {
		if len(t) >= 8 {
			e.secrets = append(e.secrets, t)
		}
	}
}

func (e *env) checkNoSecretLogged() {
	logs := e.logs.String()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range e.secrets {
		if len(s) > 8 && strings.Contains(logs, s) {
			e.t.Errorf("a token appears in the logs")
		}
		// The signature alone is secret enough to matter.
		if i := strings.LastIndexByte(s, '.'); i > 0 && len(s)-i > 16 && strings.Contains(logs, s[i+1:]) {
			e.t.Errorf("a token's signature appears in the logs")
		}
	}
}

// token mints an IdP token for the env's audience and registers it.
func (e *env) token(claims idptest.Claims) string {
	tok := e.idp.Token(e.t, claims)
	e.secret(tok)
	return tok
}

// claims are valid claims at the env's clock.
func (e *env) claims(scopes ...string) idptest.Claims {
	c := e.idp.Claims(e.public, "user-1", scopes...)
	now := e.clock.Now().Unix()
	c["iat"], c["nbf"], c["exp"] = now, now, now+300
	return c
}

// resp is an answer, read whole.
type resp struct {
	status int
	header http.Header
	body   string
}

// req describes a request to the env's server.
type req struct {
	method  string
	path    string // default /mcp
	token   string // Authorization: Bearer token, when set
	authz   []string
	body    string
	header  map[string]string
	host    string
	chunked bool
}

// callBody is a JSON-RPC tools/call of tool.
func callBody(tool string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`
}

func (e *env) do(r req) resp {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = EndpointPath
	}
	var body io.Reader = strings.NewReader(r.body)
	if r.chunked {
		body = io.MultiReader(strings.NewReader(r.body)) // unknown length: chunked
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/json")
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for _, a := range r.authz {
		hr.Header.Add("Authorization", a)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := resp{status: res.StatusCode, header: res.Header, body: string(b)}
	e.mu.Lock()
	for _, s := range e.secrets {
		if strings.Contains(out.body, s) || strings.Contains(strings.Join(res.Header.Values("WWW-Authenticate"), " "), s) {
			e.t.Errorf("a token appears in an answer")
		}
	}
	e.mu.Unlock()
	return out
}

// challenge is the WWW-Authenticate header expected for a 401.
func (e *env) challenge(errAttr string) string {
	if errAttr != "" {
		errAttr += ", "
	}
	return `Bearer ` + errAttr + `resource_metadata="` + e.h.MetadataURL() + `"`
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %q", s)
	}
	return m
}

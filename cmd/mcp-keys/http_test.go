package main

// Remote mode through the built binary: `serve --http` refusing bad
// configurations, static caller tokens and OAuth tokens end to end (tool
// lists by scope, the 401 and 403 challenges, `caller remove` taking effect
// on a running server, the caller in the audit log), /readyz, the
// protected-resource metadata, and a graceful stop with a call in flight.

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/remote/idptest"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// initializeBody is a JSON-RPC initialize message.
const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`

func TestServeHTTPConfigErrors(t *testing.T) {
	dir := t.TempDir()
	policy := writePolicy(t, designPolicy)
	audit := "MCP_KEYS_AUDIT_LOG=" + filepath.Join(dir, "audit.jsonl")
	good := filepath.Join(dir, "callers")
	addCaller(t, baseEnv("MCP_KEYS_CALLERS_FILE="+good), []string{binary}, "alice", "keys:read")
	open := filepath.Join(dir, "callers-0644")
	addCaller(t, baseEnv("MCP_KEYS_CALLERS_FILE="+open), []string{binary}, "alice", "keys:read")
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "callers-link")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	port := func() string { _, p, _ := net.SplitHostPort(freeAddr(t)); return p }

	tests := []struct {
		name string
		addr string
		env  []string
		want string
	}{
		{"no authentication", "127.0.0.1:" + port(), nil, "MCP_KEYS_OAUTH_ISSUER or MCP_KEYS_CALLERS_FILE"},
		{"non-loopback without TLS", "0.0.0.0:" + port(), []string{"MCP_KEYS_CALLERS_FILE=" + good, "MCP_KEYS_PUBLIC_URL=https://keys.example.com/mcp"}, "MCP_KEYS_BEHIND_PROXY"},
		{"non-loopback without public URL", "0.0.0.0:" + port(), []string{"MCP_KEYS_CALLERS_FILE=" + good, "MCP_KEYS_BEHIND_PROXY=true"}, "MCP_KEYS_PUBLIC_URL is required"},
		{"TLS cert without key", "127.0.0.1:" + port(), []string{"MCP_KEYS_CALLERS_FILE=" + good, "MCP_KEYS_TLS_CERT=" + filepath.Join(dir, "cert.pem")}, "go together"},
		{"issuer over plain http off loopback", "127.0.0.1:" + port(), []string{"MCP_KEYS_OAUTH_ISSUER=http://idp.example.com"}, "MCP_KEYS_OAUTH_ISSUER"},
		{"callers file 0644", "127.0.0.1:" + port(), []string{"MCP_KEYS_CALLERS_FILE=" + open}, "chmod 600"},
		{"callers file symlink", "127.0.0.1:" + port(), []string{"MCP_KEYS_CALLERS_FILE=" + link}, "symlink"},
		{"callers file missing", "127.0.0.1:" + port(), []string{"MCP_KEYS_CALLERS_FILE=" + filepath.Join(dir, "nope")}, "does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := baseEnv(append([]string{"MCP_KEYS_POLICY=" + policy, audit}, tc.env...)...)
			start := time.Now()
			stdout, stderr, code := runCmd(t, env, "", "serve", "--http", tc.addr, "--sandbox")
			if code != exitConfig {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitConfig, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout is not empty: %q", stdout)
			}
			// The message is the "mcp-keys: " line (log lines may precede it).
			i := strings.Index(stderr, "mcp-keys: ")
			if i < 0 || (i > 0 && stderr[i-1] != '\n') || !strings.Contains(stderr[i:], tc.want) {
				t.Errorf("stderr = %q, want a line \"mcp-keys: …\" containing %q", stderr, tc.want)
			}
			if strings.Contains(stderr, "serving MCP over Streamable HTTP") {
				t.Error("the server said it was serving")
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %v to refuse", d)
			}
		})
	}

	// The control: the same non-loopback address is served once a TLS proxy
	// is declared in front and the public URL is given.
	t.Run("non-loopback behind a proxy", func(t *testing.T) {
		env := baseEnv("MCP_KEYS_POLICY="+policy, audit, "MCP_KEYS_CALLERS_FILE="+good,
			"MCP_KEYS_BEHIND_PROXY=true", "MCP_KEYS_PUBLIC_URL=https://keys.example.com/mcp")
		s, err := tryStartHTTPServer(t, env, "0.0.0.0:"+port(), []string{binary}, []string{"--sandbox"})
		if err != nil {
			t.Fatalf("not served: %v; stderr:\n%s", err, s.stderr.String())
		}
		code, md := getJSON(t, s.base+"/.well-known/oauth-protected-resource/mcp")
		if code != http.StatusOK || md["resource"] != "https://keys.example.com/mcp" {
			t.Errorf("metadata: %d %v", code, md)
		}
	})
}

func TestServeHTTPStaticTokens(t *testing.T) {
	dir := t.TempDir()
	callersFile := filepath.Join(dir, "callers")
	auditLog := filepath.Join(dir, "audit.jsonl")
	cenv := baseEnv("MCP_KEYS_CALLERS_FILE=" + callersFile)
	alice := addCaller(t, cenv, []string{binary}, "alice", "keys:read,keys:write")
	reader := addCaller(t, cenv, []string{binary}, "reader", "keys:read")
	if alice == reader {
		t.Fatal("two callers got the same token")
	}

	// The file holds hashes only; `caller list` shows names and scopes.
	data, err := os.ReadFile(callersFile)
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, "the callers file", string(data), alice, reader)
	if fi, err := os.Lstat(callersFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("callers file mode: %v %v", fi.Mode(), err)
	}
	out, _, code := runCmd(t, cenv, "", "caller", "list")
	if code != 0 || out != "alice keys:read,keys:write\nreader keys:read\n" {
		t.Errorf("caller list: exit %d, %q", code, out)
	}

	sb, upstream := startUpstream(t)
	env := baseEnv(append(upstream, "MCP_KEYS_CALLERS_FILE="+callersFile, "MCP_KEYS_POLICY="+writePolicy(t, designPolicy), "MCP_KEYS_AUDIT_LOG="+auditLog)...)
	s := startHTTPServer(t, env, []string{binary})
	metadataURL := s.base + "/.well-known/oauth-protected-resource/mcp"

	t.Run("metadata", func(t *testing.T) {
		for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
			code, md := getJSON(t, s.base+path)
			if code != http.StatusOK || md["resource"] != s.url || fmt.Sprint(md["scopes_supported"]) != "[keys:read keys:write]" ||
				fmt.Sprint(md["bearer_methods_supported"]) != "[header]" {
				t.Errorf("%s: %d %v", path, code, md)
			}
			if _, ok := md["authorization_servers"]; ok {
				t.Errorf("%s: authorization_servers without OAuth: %v", path, md["authorization_servers"])
			}
		}
	})

	ac := httpClient(t, s.url, alice, "")
	rc := httpClient(t, s.url, reader, "2025-11-25")

	t.Run("tool lists by scope", func(t *testing.T) {
		if got, want := toolNames(t, ac), slices.Sorted(slices.Values(append(slices.Clone(readTools), writeTools...))); !slices.Equal(got, want) {
			t.Errorf("alice sees %v, want %v", got, want)
		}
		if got := toolNames(t, rc); !slices.Equal(got, readTools) {
			t.Errorf("reader sees %v, want %v", got, readTools)
		}
	})

	var mintedKey string
	t.Run("alice checks and creates", func(t *testing.T) {
		check := mustCall(t, ac, "check_policy", map[string]any{"tag": "proj-search"})
		if check["allowed"] != true || check["action"] != "create" {
			t.Errorf("check_policy: %v", check)
		}
		if denied := mustCall(t, ac, "check_policy", map[string]any{"tag": "proj-prod-eu"}); denied["allowed"] != false {
			t.Errorf("check_policy of a denied tag: %v", denied)
		}
		before := sb.Sandbox.KeyCount()
		created := mustCall(t, ac, "create_scoped_key", map[string]any{"tag": "proj-search"})
		if id, _ := created["id"].(string); id == "" || created["tag"] != "proj-search" {
			t.Errorf("create_scoped_key: no id or wrong tag (tag %v)", created["tag"])
		}
		mintedKey, _ = created["key"].(string)
		if !strings.HasPrefix(mintedKey, "sm_") {
			t.Errorf("create_scoped_key returned no key (%d bytes)", len(mintedKey))
		}
		if after := sb.Sandbox.KeyCount(); after != before+1 {
			t.Errorf("upstream keys %d → %d, want one more", before, after)
		}
	})

	t.Run("reader reads but cannot create", func(t *testing.T) {
		if check := mustCall(t, rc, "check_policy", map[string]any{"tag": "proj-search"}); check["allowed"] != true {
			t.Errorf("reader's check_policy: %v", check)
		}
		creates := sb.Sandbox.Count(sandbox.EndpointCreate)
		if res, err := callTool(rc, "create_scoped_key", map[string]any{"tag": "proj-search"}); err == nil {
			t.Errorf("reader's create through the client was not refused (isError %v)", res.IsError)
		}
		code, h, _ := rawPost(t, s.url, "Bearer "+reader, toolsCallBody("create_scoped_key", map[string]any{"tag": "proj-search"}))
		want := fmt.Sprintf(`Bearer error="insufficient_scope", scope="keys:write", resource_metadata=%q`, metadataURL)
		if code != http.StatusForbidden || h.Get("WWW-Authenticate") != want {
			t.Errorf("reader's raw create: %d, WWW-Authenticate %q, want 403 and %q", code, h.Get("WWW-Authenticate"), want)
		}
		if n := sb.Sandbox.Count(sandbox.EndpointCreate); n != creates {
			t.Errorf("a refused create reached the upstream (%d → %d)", creates, n)
		}
		// revoke_key needs keys:write as well.
		if code, h, _ := rawPost(t, s.url, "Bearer "+reader, toolsCallBody("revoke_key", map[string]any{"id": "x"})); code != http.StatusForbidden || !strings.Contains(h.Get("WWW-Authenticate"), `scope="keys:write"`) {
			t.Errorf("reader's raw revoke: %d %q", code, h.Get("WWW-Authenticate"))
		}
	})

	t.Run("unauthenticated", func(t *testing.T) {
		wrong := "mcpk_" + strings.Repeat("A", len(alice)-len("mcpk_"))
		tests := []struct {
			name, url, authz string
			code             int
			challenge        string
		}{
			{"no token", s.url, "", http.StatusUnauthorized, fmt.Sprintf("Bearer resource_metadata=%q", metadataURL)},
			{"wrong token", s.url, "Bearer " + wrong, http.StatusUnauthorized, fmt.Sprintf(`Bearer error="invalid_token", resource_metadata=%q`, metadataURL)},
			{"another scheme", s.url, "Basic " + alice, http.StatusUnauthorized, fmt.Sprintf("Bearer resource_metadata=%q", metadataURL)},
			{"malformed bearer token", s.url, "Bearer " + alice + " x", http.StatusUnauthorized, `error="invalid_token"`},
			{"token in the query string", s.url + "?access_token=" + alice, "", http.StatusBadRequest, `error="invalid_request"`},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				code, h, body := rawPost(t, tc.url, tc.authz, initializeBody)
				if code != tc.code || !strings.Contains(h.Get("WWW-Authenticate"), tc.challenge) {
					t.Errorf("%d, WWW-Authenticate %q; want %d and %q", code, h.Get("WWW-Authenticate"), tc.code, tc.challenge)
				}
				noSecrets(t, "the answer", body+fmt.Sprint(h), alice, wrong)
			})
		}
	})

	t.Run("caller remove takes effect at once", func(t *testing.T) {
		if _, stderr, code := runCmd(t, cenv, "", "caller", "remove", "alice"); code != 0 {
			t.Fatalf("caller remove: exit %d: %s", code, stderr)
		}
		code, h, _ := rawPost(t, s.url, "Bearer "+alice, initializeBody)
		if code != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("alice after removal: %d %q", code, h.Get("WWW-Authenticate"))
		}
		if _, err := callTool(ac, "check_policy", map[string]any{"tag": "proj-search"}); err == nil {
			t.Error("alice's client still gets answers after removal")
		}
		if check := mustCall(t, rc, "check_policy", map[string]any{"tag": "proj-search"}); check["allowed"] != true {
			t.Errorf("reader after alice's removal: %v", check)
		}
	})

	t.Run("audit and logs", func(t *testing.T) {
		records := readAudit(t, auditLog)
		if got := auditCallers(records, "create"); !slices.Equal(got, []string{"token:alice"}) {
			t.Errorf("callers of create records = %v, want [token:alice]", got)
		}
		if got := auditCallers(records, "create_result"); !slices.Equal(got, []string{"token:alice"}) {
			t.Errorf("callers of create_result records = %v, want [token:alice]", got)
		}
		for _, c := range auditCallers(records, "check") {
			if c != "token:alice" && c != "token:reader" {
				t.Errorf("a check record names caller %q", c)
			}
		}
		raw, err := os.ReadFile(auditLog)
		if err != nil {
			t.Fatal(err)
		}
		secrets := []string{alice, reader, mintedKey, sb.Sandbox.OperatorKey()}
		noSecrets(t, "the audit log", string(raw), secrets...)
		logs := s.stderr.String()
		noSecrets(t, "the server's stderr", logs, secrets...)
		if !strings.Contains(logs, "insufficient scope") || !strings.Contains(logs, "token:reader") {
			t.Errorf("the server did not log the scope refusal with the caller")
		}
	})
}

func TestServeHTTPOAuth(t *testing.T) {
	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit.jsonl")
	idp := idptest.New(t)
	_, upstream := startUpstream(t)
	env := baseEnv(append(upstream, "MCP_KEYS_OAUTH_ISSUER="+idp.Issuer(), "MCP_KEYS_POLICY="+writePolicy(t, designPolicy), "MCP_KEYS_AUDIT_LOG="+auditLog)...)
	s := startHTTPServer(t, env, []string{binary})
	metadataURL := s.base + "/.well-known/oauth-protected-resource/mcp"

	code, md := getJSON(t, metadataURL)
	if code != http.StatusOK || md["resource"] != s.url || fmt.Sprint(md["authorization_servers"]) != "["+idp.Issuer()+"]" ||
		fmt.Sprint(md["scopes_supported"]) != "[keys:read keys:write]" {
		t.Errorf("metadata: %d %v", code, md)
	}
	if code, body := getText(t, s.base+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz with OAuth: %d %q", code, body)
	}

	writer := idp.Token(t, idp.Claims(s.url, "agent-7", "keys:read", "keys:write"))
	wc := httpClient(t, s.url, writer, "")
	if got := toolNames(t, wc); len(got) != len(readTools)+len(writeTools) {
		t.Errorf("a keys:read keys:write token sees %v", got)
	}
	if created := mustCall(t, wc, "create_scoped_key", map[string]any{"tag": "proj-oauth"}); created["tag"] != "proj-oauth" {
		t.Errorf("create: tag %v", created["tag"])
	}

	readOnly := idp.Token(t, idp.Claims(s.url, "agent-8", "keys:read"))
	rc := httpClient(t, s.url, readOnly, "2025-06-18")
	if got := toolNames(t, rc); !slices.Equal(got, readTools) {
		t.Errorf("a keys:read token sees %v", got)
	}
	code, h, _ := rawPost(t, s.url, "Bearer "+readOnly, toolsCallBody("create_scoped_key", map[string]any{"tag": "proj-oauth"}))
	if want := fmt.Sprintf(`Bearer error="insufficient_scope", scope="keys:write", resource_metadata=%q`, metadataURL); code != http.StatusForbidden || h.Get("WWW-Authenticate") != want {
		t.Errorf("keys:read token's create: %d %q, want 403 %q", code, h.Get("WWW-Authenticate"), want)
	}

	now := time.Now().Unix()
	expired := idp.Claims(s.url, "agent-7", "keys:read", "keys:write")
	expired["iat"], expired["nbf"], expired["exp"] = now-3600, now-3600, now-600
	noExp := idp.Claims(s.url, "agent-7", "keys:read", "keys:write")
	delete(noExp, "exp")
	otherIssuer := idp.Claims(s.url, "agent-7", "keys:read", "keys:write")
	otherIssuer["iss"] = "https://idp.example.com"
	refused := []struct{ name, token string }{
		{"wrong audience", idp.Token(t, idp.Claims("http://127.0.0.1:1/mcp", "agent-7", "keys:read", "keys:write"))},
		{"expired", idp.Token(t, expired)},
		{"no exp", idp.Token(t, noExp)},
		{"other issuer", idp.Token(t, otherIssuer)},
		{"unknown key", idp.UnknownKeyToken(t, idp.Claims(s.url, "agent-7", "keys:read", "keys:write"))},
		{"alg none", idp.NoneToken(t, idp.Claims(s.url, "agent-7", "keys:read", "keys:write"))},
		{"a static token shape", "mcpk_" + strings.Repeat("B", 43)},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := rawPost(t, s.url, "Bearer "+tc.token, initializeBody)
			if want := fmt.Sprintf(`Bearer error="invalid_token", resource_metadata=%q`, metadataURL); code != http.StatusUnauthorized || h.Get("WWW-Authenticate") != want {
				t.Errorf("%d %q, want 401 %q", code, h.Get("WWW-Authenticate"), want)
			}
			noSecrets(t, "the answer", body, tc.token)
		})
	}

	records := readAudit(t, auditLog)
	want := "oauth:" + idp.Issuer() + "#agent-7"
	if got := auditCallers(records, "create"); !slices.Equal(got, []string{want}) {
		t.Errorf("callers of create records = %v, want [%s]", got, want)
	}
	raw, _ := os.ReadFile(auditLog)
	noSecrets(t, "the audit log", string(raw), writer, readOnly)
	noSecrets(t, "the server's stderr", s.stderr.String(), writer, readOnly)
}

func TestServeHTTPReadyz(t *testing.T) {
	dir := t.TempDir()
	callersFile := filepath.Join(dir, "callers")
	addCaller(t, baseEnv("MCP_KEYS_CALLERS_FILE="+callersFile), []string{binary}, "probe", "keys:read")
	sb, upstream := startUpstream(t)
	env := baseEnv(append(upstream, "MCP_KEYS_CALLERS_FILE="+callersFile, "MCP_KEYS_ALLOWED_TAGS=proj-*", "MCP_KEYS_AUDIT_LOG="+filepath.Join(dir, "audit.jsonl"))...)
	s := startHTTPServer(t, env, []string{binary})
	if code, body := getText(t, s.base+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz with the upstream up: %d %q", code, body)
	}
	// /healthz and /readyz need no token and say nothing else.
	if code, body := getText(t, s.base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	code, body := getText(t, s.base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: ") {
		t.Errorf("/readyz with the upstream down: %d %q", code, body)
	}
	noSecrets(t, "/readyz", body, sb.Sandbox.OperatorKey())
	if code, _ := getText(t, s.base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the upstream down: %d", code)
	}
}

func TestServeHTTPGracefulStop(t *testing.T) {
	dir := t.TempDir()
	callersFile := filepath.Join(dir, "callers")
	token := addCaller(t, baseEnv("MCP_KEYS_CALLERS_FILE="+callersFile), []string{binary}, "alice", "keys:read,keys:write")
	sb, upstream := startUpstream(t)
	env := baseEnv(append(upstream, "MCP_KEYS_CALLERS_FILE="+callersFile, "MCP_KEYS_ALLOWED_TAGS=proj-*", "MCP_KEYS_AUDIT_LOG="+filepath.Join(dir, "audit.jsonl"))...)
	s := startHTTPServer(t, env, []string{binary})
	c := httpClient(t, s.url, token, "")

	const latency = 2 * time.Second
	sb.Sandbox.Inject(sandbox.Fault{Endpoint: sandbox.EndpointCreate, Nth: 1, Latency: latency})
	keysBefore := sb.Sandbox.KeyCount()
	type outcome struct {
		isError bool
		err     error
		at      time.Time
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := callTool(c, "create_scoped_key", map[string]any{"tag": "proj-inflight"})
		o := outcome{err: err, at: time.Now()}
		if err == nil {
			o.isError = res.IsError
		}
		done <- o
	}()
	for deadline := time.Now().Add(20 * time.Second); sb.Sandbox.Count(sandbox.EndpointCreate) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the create never reached the upstream; stderr:\n%s", s.stderr.String())
		}
	}
	signalled := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var o outcome
	select {
	case o = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the in-flight call never completed")
	}
	if o.err != nil || o.isError {
		t.Errorf("the in-flight call failed across SIGTERM: err %v, isError %v", o.err, o.isError)
	}
	if !o.at.After(signalled) {
		t.Error("the call completed before the signal: it was not in flight")
	}
	if n := sb.Sandbox.KeyCount(); n != keysBefore+1 {
		t.Errorf("upstream keys %d → %d, want one more", keysBefore, n)
	}
	if code := s.wait(40 * time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0; stderr:\n%s", code, s.stderr.String())
	}
	if !strings.Contains(s.stderr.String(), "server stopped") {
		t.Errorf("no stop line on stderr")
	}
	if _, err := http.Get(s.base + "/healthz"); err == nil {
		t.Error("the server still answers after exiting")
	}
}

// TestHTTPRefusesAReadableKeyFile: in remote mode the operator key must be
// the server account's alone.
func TestHTTPRefusesAReadableKeyFile(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, []byte("sm_org1_abcdefghijklmnopqrstuvwxyz0123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	callersFile := filepath.Join(dir, "callers")
	if _, stderr, code := runCmd(t, baseEnv("MCP_KEYS_CALLERS_FILE="+callersFile), "", "caller", "add", "a"); code != 0 {
		t.Fatalf("caller add: %d %s", code, stderr)
	}
	_, stderr, code := runCmd(t, baseEnv("MCP_KEYS_CALLERS_FILE="+callersFile, "SUPERMEMORY_API_KEY_FILE="+keyFile, "SUPERMEMORY_BASE_URL=http://127.0.0.1:9"), "",
		"serve", "--http", "127.0.0.1:18099")
	if code != exitConfig || !strings.Contains(stderr, "readable by group or others") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "abcdefghijklmnop") {
		t.Fatal("the key reached stderr")
	}
}

// TestHTTPAcceptsSystemdCredentials: a key file in the service's
// credentials directory is the service's alone, whatever its mode bits show
// (systemd grants access with an ACL, so they read 0440).
func TestHTTPAcceptsSystemdCredentials(t *testing.T) {
	creds := t.TempDir()
	keyFile := filepath.Join(creds, "operator.key")
	if err := os.WriteFile(keyFile, []byte("sm_org1_abcdefghijklmnopqrstuvwxyz0123\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	callersFile := filepath.Join(t.TempDir(), "callers")
	if _, stderr, code := runCmd(t, baseEnv("MCP_KEYS_CALLERS_FILE="+callersFile), "", "caller", "add", "a"); code != 0 {
		t.Fatalf("caller add: %d %s", code, stderr)
	}
	env := baseEnv("MCP_KEYS_CALLERS_FILE="+callersFile, "SUPERMEMORY_API_KEY_FILE="+keyFile, "SUPERMEMORY_BASE_URL=http://127.0.0.1:9", "CREDENTIALS_DIRECTORY="+creds)
	s := startHTTPServer(t, env, []string{binary})
	if code, stderr := s.stop(t); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// Fuzz targets for tool arguments through the real handlers: raw argument
// bytes and key ids go through the server's JSON-RPC entry point to a
// sandbox. Whatever the input, the server must answer with a tool result,
// never mint a key for a tag the policy refuses (checked at the API boundary,
// before anything is sent), never revoke a key it did not mint, and
// check_policy must agree with the write tool. Seed corpora are in
// testdata/fuzz/<FuzzName>/.
package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
	"github.com/mcp-keys/mcp-keys/internal/tools"
)

// fuzzRebuild is how many inputs one server takes before it is replaced by
// a fresh one with an empty audit log: every create decodes all of the
// log's records of the last day (even with no quota configured), so a log
// that grows for the whole run slows the fuzzer down to a crawl.
const fuzzRebuild = 32

// errGuard is what the guard answers instead of sending a request that
// breaks the policy.
var errGuard = errors.New("fuzz guard: request refused before sending")

// guardAPI sits between the tools and the real client. It checks every
// write request against the policy before it is sent, and records any that
// breaks it: the fuzz properties are checked where it matters, at the API
// boundary, whatever the tool then reports.
type guardAPI struct {
	keys.API
	policy *policy.Policy

	mu         sync.Mutex
	violations []string
	revocable  map[string]bool // ids this fuzz process minted through the tools
}

func (g *guardAPI) violate(format string, a ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.violations = append(g.violations, fmt.Sprintf(format, a...))
}

// takeViolations returns and clears the violations recorded so far.
func (g *guardAPI) takeViolations() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	v := g.violations
	g.violations = nil
	return v
}

// CreateScopedKey refuses, and records, a create the policy does not allow.
func (g *guardAPI) CreateScopedKey(ctx context.Context, req client.CreateScopedKeyRequest) (*client.CreatedKey, error) {
	k := g.policy.Keys
	var bad []string
	if len(req.Tags) == 0 || len(req.Tags) > g.policy.Access.MaxTags {
		bad = append(bad, fmt.Sprintf("%d tags", len(req.Tags)))
	}
	for _, tag := range req.Tags {
		if err := policy.ValidTag(tag); err != nil {
			bad = append(bad, "invalid tag: "+err.Error())
		} else if ok, why := g.policy.CheckTag(tag); !ok {
			bad = append(bad, "tag refused by the policy: "+why)
		}
	}
	if req.Permission != policy.PermissionRead && req.Permission != policy.PermissionWrite {
		bad = append(bad, "permission "+policy.Quote(req.Permission))
	}
	if !strings.HasPrefix(req.Name, k.NamePrefix) || utf8.RuneCountInString(req.Name) > policy.MaxNameLength || !utf8.ValidString(req.Name) {
		bad = append(bad, "name without the prefix, too long or not UTF-8")
	}
	for _, r := range req.Name {
		if r < ' ' || r == 0x7f {
			bad = append(bad, "control character in the name")
			break
		}
	}
	if req.ExpiresInDays < 1 || req.ExpiresInDays > k.MaxExpiryDays {
		bad = append(bad, fmt.Sprintf("expiry %d outside 1..%d", req.ExpiresInDays, k.MaxExpiryDays))
	}
	if req.RateLimitMax < 1 || req.RateLimitMax > k.MaxRateLimit || req.RateLimitWindowMs < 1 || req.RateLimitWindowMs > k.MaxRateWindowMs {
		bad = append(bad, fmt.Sprintf("rate limit %d per %d ms outside the policy", req.RateLimitMax, req.RateLimitWindowMs))
	}
	if len(bad) > 0 {
		g.violate("create for tags %q sent: %s", req.Tags, strings.Join(bad, "; "))
		return nil, errGuard
	}
	created, err := g.API.CreateScopedKey(ctx, req)
	if err == nil {
		g.mu.Lock()
		g.revocable[created.ID] = true
		g.mu.Unlock()
	}
	return created, err
}

// RevokeKey refuses, and records, a revoke of a key this process did not
// mint through the tools.
func (g *guardAPI) RevokeKey(ctx context.Context, id string) (*client.RevokeResult, error) {
	g.mu.Lock()
	ok := g.revocable[id]
	g.mu.Unlock()
	if !ok {
		g.violate("revoke sent for key %s, which was not minted through the tools", policy.Quote(id))
		return nil, errGuard
	}
	return g.API.RevokeKey(ctx, id)
}

// fuzzServer is the server under fuzzing, with its sandbox and guard. It is
// built once per fuzz process.
type fuzzServer struct {
	tb    testing.TB
	sb    *sandbox.Server
	guard *guardAPI
	dir   string

	mu     sync.Mutex
	srv    *server.MCPServer
	inputs int
	builds int
}

// newFuzzServer starts a sandbox and builds the server as main does, under
// the design policy, with the client behind a guard.
func newFuzzServer(f testing.TB) *fuzzServer {
	f.Helper()
	sb, err := sandbox.Start(sandbox.Options{}, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if fr := sb.Sandbox.ForbiddenRequests(); len(fr) != 0 {
			f.Errorf("forbidden endpoints were called: %+v", fr)
		}
		_ = sb.Close()
	})
	api, err := client.New(client.Config{BaseURL: sb.URL, APIKey: client.Secret(sb.Sandbox.OperatorKey()),
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetryAfter: 10 * time.Millisecond, Timeout: 10 * time.Second})
	if err != nil {
		f.Fatal(err)
	}
	p, err := policy.Parse("policy.yaml", []byte(hostilePolicy))
	if err != nil {
		f.Fatal(err)
	}
	fz := &fuzzServer{tb: f, sb: sb, dir: f.TempDir(), guard: &guardAPI{API: api, policy: p, revocable: map[string]bool{}}}
	fz.rebuild()
	return fz
}

// rebuild replaces the server by a fresh one with an empty audit log.
// NewServer does no I/O, so this is cheap. The caller holds mu, or is the
// constructor.
func (fz *fuzzServer) rebuild() {
	fz.builds++
	svc, err := keys.New(keys.Config{
		API:       fz.guard,
		Policy:    policy.Static(fz.guard.policy),
		Logger:    zerolog.Nop(),
		OpenStore: keys.OpenFile(filepath.Join(fz.dir, fmt.Sprintf("audit-%d.jsonl", fz.builds)), audit.FileOptions{}),
	})
	if err != nil {
		fz.tb.Fatal(err)
	}
	srv, err := tools.NewServer(tools.Deps{Keys: svc, Logger: zerolog.Nop(), Version: "fuzz"})
	if err != nil {
		fz.tb.Fatal(err)
	}
	fz.srv, fz.inputs = srv, 0
}

// server returns the server for the next input. With mayRebuild, a server
// that has taken fuzzRebuild inputs is replaced first; without it (for
// inputs that rely on the audit log's record of keys minted earlier) the
// server is kept.
func (fz *fuzzServer) server(mayRebuild bool) *server.MCPServer {
	fz.mu.Lock()
	defer fz.mu.Unlock()
	if fz.inputs++; mayRebuild && fz.inputs > fuzzRebuild {
		fz.rebuild()
	}
	return fz.srv
}

// call sends one raw call and fails on anything but a tool result, except
// that mcp-go itself refuses arguments it cannot decode.
func (fz *fuzzServer) call(t *testing.T, srv *server.MCPServer, tool string, args []byte) (rpcAnswer, bool) {
	t.Helper()
	a, err := rawToolCall(context.Background(), srv, tool, args)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if a.RPCError != "" {
		if decodableByMCPGo(args) {
			t.Fatalf("%s(%.200q): JSON-RPC error %q; every answer must be a tool result", tool, args, a.RPCError)
		}
		return a, false
	}
	if strings.TrimSpace(a.Text) == "" {
		t.Fatalf("%s: answer without text", tool)
	}
	return a, true
}

// checkGuard fails on any write the guard caught.
func (fz *fuzzServer) checkGuard(t *testing.T) {
	t.Helper()
	if v := fz.guard.takeViolations(); len(v) > 0 {
		t.Fatalf("policy broken at the API boundary: %s", strings.Join(v, "; "))
	}
}

// isJSONObject reports whether b is one valid JSON object.
func isJSONObject(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

// FuzzCreateScopedKey sends arbitrary argument objects to check_policy and
// create_scoped_key. Properties: a tool result, never a JSON-RPC error (but
// for arguments mcp-go cannot decode); no create the policy refuses ever
// reaches the API; a successful create reports a valid, allowed tag, a
// prefixed name and a new secret; and check_policy allows exactly what
// create_scoped_key does.
func FuzzCreateScopedKey(f *testing.F) {
	for _, seed := range []string{
		`{"tag":"proj-search"}`, `{"tag":"proj-prod-eu"}`, `{"tag":"*"}`, `{}`,
		`{"tag":"proj-search","name":"indexer","expires_in_days":7,"rate_limit_max":100,"rate_limit_window_ms":1000}`,
		`{"tag":"proj-search","tag":"proj-prod-eu"}`, `{"tag":"proj-search","Tag":"proj-prod-eu"}`,
		`{"tag":"proj-search","permission":"full"}`, `{"tag":["proj-search"]}`, `{"tag":"PROJ-PROD-EU"}`,
		`{"tag":"proj-\u200bprod-eu"}`, `{"tag":"user_","expires_in_days":90.0}`, `{"tag":"team:search","name":"\u202e"}`,
		`{"tag":"proj-search","action":"create"}`, `{"tag":"proj-search","expires_in_days":1e400}`,
	} {
		f.Add([]byte(seed))
	}
	fz := newFuzzServer(f)
	prefix := fz.guard.policy.Keys.NamePrefix
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !isJSONObject(raw) {
			t.Skip("not a JSON object")
		}
		srv := fz.server(true)
		check, okCheck := fz.call(t, srv, "check_policy", raw)
		create, okCreate := fz.call(t, srv, "create_scoped_key", raw)
		fz.checkGuard(t)
		if !okCheck || !okCreate {
			return // refused by mcp-go before any handler ran
		}
		if create.Allowed {
			var out createOut
			if err := json.Unmarshal(create.Structured, &out); err != nil {
				t.Fatalf("create result: %v", err)
			}
			if err := policy.ValidTag(out.Tag); err != nil {
				t.Fatalf("created a key for an invalid tag %s: %v", policy.Quote(out.Tag), err)
			}
			if ok, why := fz.guard.policy.CheckTag(out.Tag); !ok {
				t.Fatalf("created a key for tag %s, which the policy refuses: %s", policy.Quote(out.Tag), why)
			}
			if !strings.HasPrefix(out.Name, prefix) || out.ID == "" || !strings.HasPrefix(out.Key, "sm_") {
				t.Fatalf("created key %q (id %q): no prefix, id or secret", out.Name, out.ID)
			}
		}
		if hasKey(raw, "action", "id") {
			if create.Allowed {
				t.Fatal("create_scoped_key accepted check_policy's action or id argument")
			}
			return
		}
		if check.Allowed != create.Allowed {
			t.Fatalf("check_policy allowed=%v, create_scoped_key allowed=%v for %.200q\ncheck: %.300s\ncreate: %.300s",
				check.Allowed, create.Allowed, raw, check.Text, redact(create.Text))
		}
	})
}

// FuzzRevokeKey sends arbitrary key ids to check_policy's revoke action and
// to revoke_key, on a sandbox whose keys include Full Access ones, console
// keys and keys minted through the tools. Properties: a tool result, never a
// JSON-RPC error; only a key minted through the tools is ever revoked
// (checked at the API boundary); and check_policy agrees with revoke_key.
func FuzzRevokeKey(f *testing.F) {
	for _, seed := range []string{
		"", "key_doesnotexist", "../auth/agent-key", "%2e%2e", "key_x?x=1", "key_x#f", "key_x\x00", ".", "..",
		"key_\u0430bc", "*", " key_x", "KEY_X", strings.Repeat("k", 129), "key_x/../../v3/auth/agent-key",
	} {
		f.Add(seed)
	}
	fz := newFuzzServer(f)
	srv := fz.server(false)
	keys, err := fz.guard.API.ListKeys(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	for _, k := range keys {
		f.Add(k.ID) // Full Access, console and disabled keys: never revocable
	}
	for _, tag := range []string{"proj-fuzz-a", "user_fuzz"} {
		a, err := rawToolCall(context.Background(), srv, "create_scoped_key", []byte(`{"tag":"`+tag+`"}`))
		if err != nil || !a.Allowed {
			f.Fatalf("minting a key to revoke: %v %.300s", err, a.Text)
		}
		var out createOut
		if err := json.Unmarshal(a.Structured, &out); err != nil {
			f.Fatal(err)
		}
		f.Add(out.ID)
	}
	f.Fuzz(func(t *testing.T, id string) {
		srv := fz.server(false) // the audit log must keep the minted keys
		args, _ := json.Marshal(map[string]string{"id": id})
		check, okCheck := fz.call(t, srv, "check_policy", withAction(args, "revoke"))
		rev, okRev := fz.call(t, srv, "revoke_key", args)
		fz.checkGuard(t)
		if !okCheck || !okRev {
			t.Fatalf("an id string was refused by mcp-go: %q", id)
		}
		if check.Allowed != rev.Allowed {
			t.Fatalf("check_policy allowed=%v, revoke_key allowed=%v for id %q\ncheck: %.300s\nrevoke: %.300s",
				check.Allowed, rev.Allowed, id, check.Text, rev.Text)
		}
		if rev.Allowed {
			fz.guard.mu.Lock()
			minted := fz.guard.revocable[id]
			fz.guard.mu.Unlock()
			if !minted {
				t.Fatalf("revoke_key succeeded for key %q, which was not minted through the tools", id)
			}
		}
	})
}

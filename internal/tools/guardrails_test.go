package tools_test

// Tests of the guardrails beyond the allowlist: the audit log, quotas,
// human confirmation and secrets delivered to files, all through the
// protocol against the sandbox.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// withSections appends YAML sections to the design policy.
func withSections(extra string) string { return designPolicy + extra }

func TestAuditRecordsEveryDecisionWithoutSecrets(t *testing.T) {
	e := newEnv(t, envOptions{})
	res := e.call("create_scoped_key", map[string]any{"tag": "proj-search", "name": "audited"})
	mustOK(t, res)
	var created createOut
	structured(t, res, &created)
	mustRefuse(t, e.call("create_scoped_key", map[string]any{"tag": "proj-prod-eu"}))
	mustOK(t, e.call("check_policy", map[string]any{"tag": "user_alex"}))
	mustOK(t, e.call("revoke_key", map[string]any{"id": created.ID}))

	n, err := audit.VerifyFile(e.auditPath)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	records, err := audit.Tail(e.auditPath, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(records) {
		t.Fatalf("verify counted %d records, tail read %d", n, len(records))
	}
	type key struct{ event, phase, decision, outcome string }
	var got []key
	for _, r := range records {
		got = append(got, key{string(r.Event), string(r.Phase), string(r.Decision), string(r.Outcome)})
		if r.Client != "tools-test" || r.PID != os.Getpid() || r.Time.IsZero() {
			t.Errorf("record %d lacks client/pid/time: %+v", r.Seq, r)
		}
	}
	want := []key{
		{"create", "intent", "allowed", ""}, {"create_result", "result", "allowed", "created"},
		{"create", "", "denied", ""},
		{"check", "", "allowed", ""},
		{"revoke", "intent", "allowed", ""}, {"revoke_result", "result", "allowed", "revoked"},
	}
	if len(got) != len(want) {
		t.Fatalf("records = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("record %d = %+v, want %+v", i+1, got[i], want[i])
		}
	}
	if records[1].KeyID != created.ID || records[1].Ref != records[0].Seq || records[2].Tag != "proj-prod-eu" || len(records[2].Rules) == 0 {
		t.Errorf("records do not link intent and result or lack facts: %+v", records[:3])
	}
	raw, err := os.ReadFile(e.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), created.Key) || strings.Contains(string(raw), e.sb.Sandbox.OperatorKey()) {
		t.Error("the audit log holds a secret")
	}
	fi, err := os.Stat(e.auditPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
}

func TestAuditRequiredFailsClosed(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	unwritable := filepath.Join(blocker, "audit.jsonl") // its parent is a file
	e := newEnv(t, envOptions{auditPath: unwritable})
	mustRefuse(t, e.call("create_scoped_key", map[string]any{"tag": "proj-search"}), "audit log could not be written", "audit.required")
	if n := e.sb.Sandbox.Count(sandbox.EndpointCreate); n != 0 {
		t.Fatalf("a create reached the API without its audit record (%d)", n)
	}

	relaxed := newEnv(t, envOptions{auditPath: unwritable, policyYAML: withSections("audit:\n  required: false\n")})
	mustOK(t, relaxed.call("create_scoped_key", map[string]any{"tag": "proj-search"}))
}

func TestQuotaHoldsAcrossServersSharingALog(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "audit.jsonl")
	yaml := withSections("quota:\n  max_keys_per_hour: 2\n")
	a := newEnv(t, envOptions{policyYAML: yaml, auditPath: shared})
	b := newEnv(t, envOptions{policyYAML: yaml, auditPath: shared})
	mustOK(t, a.call("create_scoped_key", map[string]any{"tag": "proj-search"}))
	mustOK(t, b.call("create_scoped_key", map[string]any{"tag": "user_alex"}))
	mustRefuse(t, a.call("create_scoped_key", map[string]any{"tag": "proj-search"}), "quota.max_keys_per_hour", "frees up")
	mustRefuse(t, b.call("create_scoped_key", map[string]any{"tag": "proj-search"}), "quota.max_keys_per_hour")
	if n := a.sb.Sandbox.Count(sandbox.EndpointCreate) + b.sb.Sandbox.Count(sandbox.EndpointCreate); n != 2 {
		t.Errorf("%d creates reached the API, want 2", n)
	}
	res := b.call("check_policy", map[string]any{"tag": "proj-search"})
	var out checkOut
	structured(t, res, &out)
	if out.Allowed {
		t.Error("check_policy allows what the quota refuses")
	}
	if _, err := audit.VerifyFile(shared); err != nil {
		t.Errorf("shared log: %v", err)
	}
}

func TestFailedCreateFreesItsQuotaSlot(t *testing.T) {
	e := newEnv(t, envOptions{policyYAML: withSections("quota:\n  max_keys_per_hour: 1\n")})
	remove := e.sb.Sandbox.Inject(sandbox.Fault{Endpoint: sandbox.EndpointCreate, Status: 400, Body: `{"error":"nope"}`})
	mustRefuse(t, e.call("create_scoped_key", map[string]any{"tag": "proj-search"}), "invalid")
	remove()
	mustOK(t, e.call("create_scoped_key", map[string]any{"tag": "proj-search"}))
	mustRefuse(t, e.call("create_scoped_key", map[string]any{"tag": "proj-search"}), "quota")
}

// elicitationAnswer is a client-side elicitation handler with a fixed answer.
type elicitationAnswer struct {
	action mcp.ElicitationResponseAction
	asked  *string
}

func (h elicitationAnswer) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	*h.asked = req.Params.Message
	res := &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: h.action}}
	if h.action == mcp.ElicitationResponseActionAccept {
		res.Content = map[string]any{"confirm": true}
	}
	return res, nil
}

func TestConfirmation(t *testing.T) {
	tests := []struct {
		name      string
		mode      string
		answer    mcp.ElicitationResponseAction // "" = the client cannot elicit
		version   string
		wantOK    bool
		wantText  string
		wantAsked bool
	}{
		{"accepted", "always", mcp.ElicitationResponseActionAccept, "", true, "", true},
		{"accepted, legacy client", "always", mcp.ElicitationResponseActionAccept, mcp.LATEST_LEGACY_PROTOCOL_VERSION, true, "", true},
		{"declined", "always", mcp.ElicitationResponseActionDecline, "", false, "declined", true},
		{"declined, legacy client", "always", mcp.ElicitationResponseActionDecline, mcp.LATEST_LEGACY_PROTOCOL_VERSION, false, "declined", true},
		{"cancelled", "always", mcp.ElicitationResponseActionCancel, "", false, "cancelled", true},
		{"client cannot ask", "always", "", "", false, "cannot ask", false},
		{"client cannot ask, if-supported", "if-supported", "", "", true, "", false},
		{"never", "never", mcp.ElicitationResponseActionDecline, "", true, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var asked string
			o := envOptions{policyYAML: withSections("confirm: " + tc.mode + "\n"), protocolVersion: tc.version}
			if tc.answer != "" {
				o.clientOptions = []mcpclient.ClientOption{mcpclient.WithElicitationHandler(elicitationAnswer{action: tc.answer, asked: &asked})}
			}
			e := newEnv(t, o)
			res := e.call("create_scoped_key", map[string]any{"tag": "proj-search", "expires_in_days": 7})
			if tc.wantOK {
				mustOK(t, res)
			} else {
				mustRefuse(t, res, tc.wantText)
			}
			if got := asked != ""; got != tc.wantAsked {
				t.Errorf("asked = %q, want asked %v", asked, tc.wantAsked)
			}
			if tc.wantAsked && (!strings.Contains(asked, "proj-search") || !strings.Contains(asked, "7 days")) {
				t.Errorf("the question does not say exactly what will happen: %q", asked)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.wantOK]; e.sb.Sandbox.Count(sandbox.EndpointCreate) != want {
				t.Errorf("creates = %d, want %d", e.sb.Sandbox.Count(sandbox.EndpointCreate), want)
			}
		})
	}
}

func TestConfirmationIsBoundToTheRequest(t *testing.T) {
	var asked string
	e := newEnv(t, envOptions{policyYAML: withSections("confirm: always\n"),
		clientOptions: []mcpclient.ClientOption{mcpclient.WithElicitationHandler(elicitationAnswer{action: mcp.ElicitationResponseActionAccept, asked: &asked})}})
	// A forged answer with a state that was never issued for this request,
	// sent as raw JSON-RPC (mcp-go's client would replace the answers with
	// its own round trip).
	call := func(state string) map[string]any {
		msg := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"create_scoped_key","arguments":{"tag":"proj-search"},` +
			`"inputResponses":{"confirm":{"action":"accept","content":{"confirm":true}}},"requestState":"` + state + `"}}`
		raw, err := json.Marshal(e.srv.HandleMessage(context.Background(), json.RawMessage(msg)))
		if err != nil {
			t.Fatal(err)
		}
		var resp map[string]any
		if err := json.Unmarshal(raw, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := call("forged")
	result, _ := resp["result"].(map[string]any)
	if result["isError"] != true || !strings.Contains(fmt.Sprint(result["content"]), "does not match") {
		t.Fatalf("forged confirmation: %v", resp)
	}
	if e.sb.Sandbox.Count(sandbox.EndpointCreate) != 0 {
		t.Error("a forged confirmation created a key")
	}
	// The real round trip through the client still works.
	mustOK(t, e.call("create_scoped_key", map[string]any{"tag": "proj-search"}))
}

func TestRevokeConfirmation(t *testing.T) {
	var asked string
	e := newEnv(t, envOptions{policyYAML: withSections("confirm:\n  create: never\n  revoke: always\n"),
		clientOptions: []mcpclient.ClientOption{mcpclient.WithElicitationHandler(elicitationAnswer{action: mcp.ElicitationResponseActionDecline, asked: &asked})}})
	res := e.call("create_scoped_key", map[string]any{"tag": "proj-search"})
	mustOK(t, res)
	var created createOut
	structured(t, res, &created)
	mustRefuse(t, e.call("revoke_key", map[string]any{"id": created.ID}), "declined")
	if !strings.Contains(asked, created.ID) || e.sb.Sandbox.Count(sandbox.EndpointRevoke) != 0 {
		t.Errorf("revoke confirmation: asked %q, revokes %d", asked, e.sb.Sandbox.Count(sandbox.EndpointRevoke))
	}
}

func TestSecretsDeliveredToAFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	e := newEnv(t, envOptions{policyYAML: withSections("secrets:\n  deliver: file\n  dir: " + dir + "\n")})
	res := e.call("create_scoped_key", map[string]any{"tag": "proj-search"})
	mustOK(t, res)
	var out struct {
		ID        string `json:"id"`
		Key       string `json:"key"`
		KeyFile   string `json:"key_file"`
		KeyPrefix string `json:"key_prefix"`
	}
	structured(t, res, &out)
	if out.Key != "" || out.KeyFile != filepath.Join(dir, out.ID+".env") || !strings.HasPrefix(out.KeyPrefix, "sm_") {
		t.Fatalf("file delivery result: key set %v, file %q, prefix %q", out.Key != "", out.KeyFile, out.KeyPrefix)
	}
	body, err := os.ReadFile(out.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(strings.TrimPrefix(string(body), "SUPERMEMORY_API_KEY="))
	if !strings.HasPrefix(string(body), "SUPERMEMORY_API_KEY=sm_") || len(secret) < 30 {
		t.Fatalf("key file has an unexpected shape (%d bytes)", len(body))
	}
	if strings.Contains(text(res), secret) || strings.Contains(e.logs.String(), secret) {
		t.Error("the secret reached the result or the logs")
	}
	if raw, _ := os.ReadFile(e.auditPath); strings.Contains(string(raw), secret) {
		t.Error("the secret reached the audit log")
	}
	fi, _ := os.Stat(out.KeyFile)
	di, _ := os.Stat(dir)
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("modes: file %v, dir %v", fi.Mode().Perm(), di.Mode().Perm())
	}
}

func TestSecretsDirSymlinkIsRefusedAndTheKeyRevoked(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{policyYAML: withSections("secrets:\n  deliver: file\n  dir: " + link + "\n")})
	mustRefuse(t, e.call("create_scoped_key", map[string]any{"tag": "proj-search"}), "symlink", "revoked again")
	entries, _ := os.ReadDir(real)
	if len(entries) != 0 {
		t.Errorf("something was written through the symlink: %v", entries)
	}
	if e.sb.Sandbox.Count(sandbox.EndpointRevoke) != 1 {
		t.Error("the orphaned key was not revoked")
	}
}
